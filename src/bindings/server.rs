//! The sync server's JS entry (feature `server`): [`handle_sync_request`] runs
//! [`crate::server::handle`] over a Durable Object's storage. The worker
//! (`pkg-template/worker/index.js`, shipped as `tidelog/worker`) adds routing, CORS,
//! authentication and logs, and wraps the answer in a `Response`.
//!
//! Storage goes through [`KvServerStore`]: the key layout is plain Rust in
//! `src/server/kv.rs`; [`DurableObjectKv`] maps its three primitives onto
//! `ctx.storage` via `server_storage.js` (`get`, `list`, and `transaction` for the atomic
//! compare-and-put of a push).
//!
//! ```js
//! import { initSync, handleSyncRequest } from "tidelog/worker/tidelog.js";
//! const answer = await handleSyncRequest(ctx.storage, {
//!   method: "GET", path: "/v1/shop/events?after=3", headers: [["if-none-match", "\"3\""]],
//!   body: new Uint8Array(),
//! }, { basePath: "/v1/shop" });
//! // answer: { status: 304, headers: [["ETag", "\"3\""], ...], body: Uint8Array }
//! ```

use crate::bindings::js::get;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::server::{handle, Config, Kv, KvServerStore, Request, Response};

#[wasm_bindgen(module = "/src/bindings/server_storage.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = kvGet)]
    fn kv_get(storage: &JsValue, keys: Vec<String>) -> std::result::Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_name = kvList)]
    fn kv_list(
        storage: &JsValue,
        prefix: &str,
        start: &str,
        limit: u32,
    ) -> std::result::Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_name = kvPutIf)]
    fn kv_put_if(
        storage: &JsValue,
        expect_keys: Vec<String>,
        expect_values: Array,
        put_keys: Vec<String>,
        put_values: Array,
    ) -> std::result::Result<Promise, JsValue>;
}

/// A JS exception from storage as an [`Error::Storage`] keeping its `name` and
/// `message` (a message mentioning a quota or size limit becomes
/// [`Error::QuotaExceeded`], answered `507`).
fn storage_error(value: JsValue) -> Error {
    let field = |key: &str| {
        Reflect::get(&value, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    let name = field("name").unwrap_or_else(|| "Error".to_string());
    let message = field("message")
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "Durable Object storage failed".to_string());
    if message.to_ascii_lowercase().contains("exceeded") {
        return Error::QuotaExceeded { message };
    }
    Error::storage(name, message)
}

async fn settle(promise: std::result::Result<Promise, JsValue>) -> Result<JsValue> {
    JsFuture::from(promise.map_err(storage_error)?)
        .await
        .map_err(storage_error)
}

fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

fn bytes_array<'a>(values: impl Iterator<Item = Option<&'a Vec<u8>>>) -> Array {
    values
        .map(|v| {
            v.map_or(JsValue::UNDEFINED, |b| {
                Uint8Array::from(b.as_slice()).into()
            })
        })
        .collect()
}

/// [`Kv`] over a Durable Object's `ctx.storage` (`DurableObjectStorage`).
#[derive(Debug)]
pub struct DurableObjectKv {
    storage: JsValue,
}

impl Kv for DurableObjectKv {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let found = settle(kv_get(&self.storage, keys.to_vec())).await?;
        let found = found.dyn_into::<Array>().map_err(storage_error)?;
        let values: Vec<Option<Vec<u8>>> = found.iter().map(|v| bytes_of(&v)).collect();
        // A value that is not bytes was not written by tidelog: say so, not "absent".
        if found
            .iter()
            .zip(&values)
            .any(|(v, b)| !v.is_undefined() && b.is_none())
        {
            return Err(Error::storage(
                "CorruptData",
                "a stored value is not a Uint8Array",
            ));
        }
        Ok(values)
    }

    async fn list(
        &self,
        prefix: &str,
        start: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX).max(1);
        let flat = settle(kv_list(&self.storage, prefix, start, limit)).await?;
        let flat = flat.dyn_into::<Array>().map_err(storage_error)?;
        let mut out = Vec::with_capacity(flat.length() as usize / 2);
        let mut items = flat.iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            match (key.as_string(), bytes_of(&value)) {
                (Some(key), Some(value)) => out.push((key, value)),
                _ => return Err(Error::storage("CorruptData", "a listed entry is not bytes")),
            }
        }
        Ok(out)
    }

    async fn put_if(
        &self,
        expect: &[(String, Option<Vec<u8>>)],
        put: &[(String, Vec<u8>)],
    ) -> Result<bool> {
        let written = settle(kv_put_if(
            &self.storage,
            expect.iter().map(|(k, _)| k.clone()).collect(),
            bytes_array(expect.iter().map(|(_, v)| v.as_ref())),
            put.iter().map(|(k, _)| k.clone()).collect(),
            bytes_array(put.iter().map(|(_, v)| Some(v))),
        ))
        .await?;
        Ok(written.as_bool() == Some(true))
    }
}

fn bad_input(message: &str) -> JsValue {
    super::errors::invalid("request", message)
}

/// Reads `{method, path, headers: [[name, value], ...], body: Uint8Array | ArrayBuffer}`.
fn request_from_js(request: &JsValue) -> std::result::Result<Request, JsValue> {
    let method = get(request, "method")
        .as_string()
        .ok_or_else(|| bad_input("method must be a string"))?;
    let path = get(request, "path")
        .as_string()
        .ok_or_else(|| bad_input("path must be a string"))?;
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
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
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
    let _ = Reflect::set(
        &answer,
        &"body".into(),
        &Uint8Array::from(response.body.as_slice()),
    );
    answer.into()
}

/// Answers one request of the sync protocol (`docs/protocol.md`) for the space whose
/// Durable Object storage is `storage` (`ctx.storage`).
///
/// `request` is `{method, path, headers, body}`: `path` is the request target's path and
/// query, still percent-encoded (`/v1/shop/streams/a%2Fb?after=3`); `headers` an array of
/// `[name, value]` pairs (`[...request.headers]`); `body` a `Uint8Array` or
/// `ArrayBuffer`. `options.basePath` is where the space is mounted (`/v1/shop`; default
/// none). Resolves to `{status, headers: [[name, value], ...], body: Uint8Array}`;
/// rejects with an `InvalidInputError` only when `request` has the wrong shape. Storage
/// failures are answers (`500 storage_error`, `507 quota_exceeded`), not rejections.
#[wasm_bindgen(js_name = handleSyncRequest)]
pub async fn handle_sync_request(
    storage: JsValue,
    request: JsValue,
    options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let request = request_from_js(&request)?;
    let mut config = Config::default();
    if !options.is_undefined() && !options.is_null() {
        let base = get(&options, "basePath");
        if !base.is_undefined() {
            config.base_path = base
                .as_string()
                .ok_or_else(|| bad_input("options.basePath must be a string"))?;
        }
    }
    let store = KvServerStore::new(DurableObjectKv { storage });
    Ok(response_to_js(handle(&store, &config, request).await))
}
