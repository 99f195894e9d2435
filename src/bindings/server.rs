//! The sync server's JS entry (feature `server`): [`handle_sync_request`] runs
//! [`crate::server::handle`] over a Durable Object's storage. The worker
//! (`pkg-template/worker/index.js`, shipped as `tidelog/worker`) adds routing, CORS,
//! authentication and logs, and wraps the answer in a `Response`.
//!
//! Storage goes through [`SqlServerStore`] over
//! [`DurableObjectSql`](crate::web::do_sql::DurableObjectSql) (`options.storage: "sql"`,
//! SQLite-backed Durable Objects) or [`KvServerStore`] over
//! [`DurableObjectKv`](crate::web::do_storage::DurableObjectKv) (the key-value API, the
//! default), the platform layer's adapters of `ctx.storage`. [`handle_space_request`]
//! runs the same core over a space store written in JS ([`HostSpaceStore`]): the
//! self-hosted server (`tidelog/server`, PostgreSQL or the file log).
//!
//! ```js
//! import { initSync, handleSyncRequest } from "tidelog/worker/tidelog.js";
//! const answer = await handleSyncRequest(ctx.storage, {
//!   method: "GET", path: "/v1/shop/events?after=3", headers: [["if-none-match", "\"3\""]],
//!   body: new Uint8Array(),
//! }, { basePath: "/v1/shop", storage: "sql" });
//! // answer: { status: 304, headers: [["ETag", "\"3\""], ...], body: Uint8Array }
//! ```

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::server::{handle, Config, KvServerStore, Request, Response, SqlServerStore};
use crate::web::do_sql::DurableObjectSql;
use crate::web::do_storage::DurableObjectKv;
use crate::web::glue::get;
use crate::web::space_store::{HostSpaceStore, JsSpaceStore};

fn bad_input(message: &str) -> JsValue {
    super::errors::invalid("request", message)
}

/// Reads `{method, path, headers: [[name, value], ...], body: Uint8Array | ArrayBuffer}`.
fn request_from_js(request: &JsValue) -> std::result::Result<Request, JsValue> {
    let method =
        get(request, "method").as_string().ok_or_else(|| bad_input("method must be a string"))?;
    let path =
        get(request, "path").as_string().ok_or_else(|| bad_input("path must be a string"))?;
    let mut headers = Vec::new();
    let raw_headers = get(request, "headers");
    if !raw_headers.is_undefined() && !raw_headers.is_null() {
        let list = raw_headers
            .dyn_into::<Array>()
            .map_err(|_| bad_input("headers must be an array of [name, value] pairs"))?;
        for pair in list.iter() {
            let pair = Array::from(&pair);
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(name), Some(value)) => headers.push((name, value)),
                _ => return Err(bad_input("headers must be an array of [name, value] pairs")),
            }
        }
    }
    let raw_body = get(request, "body");
    let body = if raw_body.is_undefined() || raw_body.is_null() {
        Vec::new()
    } else if let Some(bytes) = raw_body.dyn_ref::<Uint8Array>() {
        bytes.to_vec()
    } else if raw_body.is_instance_of::<js_sys::ArrayBuffer>() {
        Uint8Array::new(&raw_body).to_vec()
    } else {
        return Err(bad_input("body must be a Uint8Array or an ArrayBuffer"));
    };
    Ok(Request { method, path, headers, body })
}

fn response_to_js(response: Response) -> JsValue {
    let answer = Object::new();
    let headers: Array = response
        .headers
        .iter()
        .map(|(n, v)| -> JsValue { Array::of2(&n.into(), &v.into()).into() })
        .collect();
    // Setting properties of a fresh plain object cannot fail.
    let _ = Reflect::set(&answer, &"status".into(), &response.status.into());
    let _ = Reflect::set(&answer, &"headers".into(), &headers);
    let _ = Reflect::set(&answer, &"body".into(), &Uint8Array::from(response.body.as_slice()));
    answer.into()
}

/// `options.basePath` (where the space is mounted) as a [`Config`] (the self-hosted
/// entry's options; `handle_sync_request` also reads `options.storage`).
fn config_from_js(options: &JsValue) -> std::result::Result<Config, JsValue> {
    let mut config = Config::default();
    if !options.is_undefined() && !options.is_null() {
        let base = get(options, "basePath");
        if !base.is_undefined() {
            config.base_path =
                base.as_string().ok_or_else(|| bad_input("options.basePath must be a string"))?;
        }
    }
    Ok(config)
}

/// Answers one request of the sync protocol (`docs/protocol.md`) for the space whose
/// Durable Object storage is `storage` (`ctx.storage`).
///
/// `request` is `{method, path, headers, body}`: `path` is the request target's path and
/// query, still percent-encoded (`/v1/shop/streams/a%2Fb?after=3`); `headers` an array of
/// `[name, value]` pairs (`[...request.headers]`); `body` a `Uint8Array` or
/// `ArrayBuffer`. `options.basePath` is where the space is mounted (`/v1/shop`; default
/// none); `options.storage` is `"sql"` (the SQL API of a SQLite-backed Durable Object,
/// after `sqlOpen(ctx.storage)` of `js/do_sql.js`) or `"kv"` (the key-value API, the
/// default). Resolves to `{status, headers: [[name, value], ...], body: Uint8Array}`;
/// rejects with an `InvalidInputError` only when `request` or `options` has the wrong
/// shape. Storage failures are answers (`500 storage_error`, `507 quota_exceeded`), not
/// rejections.
#[wasm_bindgen(js_name = handleSyncRequest)]
pub async fn handle_sync_request(
    storage: JsValue,
    request: JsValue,
    options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let request = request_from_js(&request)?;
    let mut config = Config::default();
    let mut sql = false;
    if !options.is_undefined() && !options.is_null() {
        let base = get(&options, "basePath");
        if !base.is_undefined() {
            config.base_path =
                base.as_string().ok_or_else(|| bad_input("options.basePath must be a string"))?;
        }
        let kind = get(&options, "storage");
        if !kind.is_undefined() {
            sql = match kind.as_string().as_deref() {
                Some("sql") => true,
                Some("kv") => false,
                _ => return Err(bad_input("options.storage must be \"sql\" or \"kv\"")),
            };
        }
    }
    let response = if sql {
        handle(&SqlServerStore::new(DurableObjectSql::new(storage)), &config, request).await
    } else {
        handle(&KvServerStore::new(DurableObjectKv::new(storage)), &config, request).await
    };
    Ok(response_to_js(response))
}

/// [`handle_sync_request`] over a space store written in JS (`SpaceStore`, see
/// `js/server/space_store.js`: PostgreSQL, the file log) instead of Durable Object storage: the
/// self-hosted server's entry (`tidelog/server`). Same `request`, `options` and answer.
#[wasm_bindgen(js_name = handleSpaceRequest)]
pub async fn handle_space_request(
    store: JsSpaceStore,
    request: JsValue,
    options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let request = request_from_js(&request)?;
    let config = config_from_js(&options)?;
    let store = HostSpaceStore::new(store);
    Ok(response_to_js(handle(&store, &config, request).await))
}
