//! [`DurableObjectKv`]: the sync server's [`Kv`] over a Durable Object's `ctx.storage`
//! (feature `server`). The key layout is plain Rust in `src/server/kv/`; this adapter maps
//! its three primitives onto the storage API through `js/do_storage.js`: `get`, `list`,
//! and `transaction` for the atomic compare-and-put of a push.

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::server::Kv;
use crate::web::convert::js_error;

#[wasm_bindgen(raw_module = "./js/do_storage.js")]
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
/// `message` ([`js_error`]); a message mentioning a quota or size limit becomes
/// [`Error::QuotaExceeded`], answered `507`.
pub(crate) fn storage_error(value: JsValue) -> Error {
    match js_error(value) {
        Error::Storage { message, .. } if message.to_ascii_lowercase().contains("exceeded") => {
            Error::QuotaExceeded { message }
        }
        other => other,
    }
}

async fn settle(promise: std::result::Result<Promise, JsValue>) -> Result<JsValue> {
    JsFuture::from(promise.map_err(storage_error)?).await.map_err(storage_error)
}

fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

fn bytes_array<'a>(values: impl Iterator<Item = Option<&'a Vec<u8>>>) -> Array {
    values
        .map(|v| v.map_or(JsValue::UNDEFINED, |b| Uint8Array::from(b.as_slice()).into()))
        .collect()
}

/// [`Kv`] over a Durable Object's `ctx.storage` (`DurableObjectStorage`).
#[derive(Debug)]
pub struct DurableObjectKv {
    storage: JsValue,
}

impl DurableObjectKv {
    /// The adapter over `storage` (a Durable Object's `ctx.storage`).
    pub fn new(storage: JsValue) -> Self {
        DurableObjectKv { storage }
    }
}

impl Kv for DurableObjectKv {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let found = settle(kv_get(&self.storage, keys.to_vec())).await?;
        let found = found.dyn_into::<Array>().map_err(storage_error)?;
        let values: Vec<Option<Vec<u8>>> = found.iter().map(|v| bytes_of(&v)).collect();
        // A value that is not bytes was not written by tidelog: say so, not "absent".
        if found.iter().zip(&values).any(|(v, b)| !v.is_undefined() && b.is_none()) {
            return Err(Error::storage("CorruptData", "a stored value is not a Uint8Array"));
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
