//! IndexedDB request plumbing: a future per request, and a transaction with the future of
//! its end. Every future is created right after its request, before anything is awaited,
//! so the handlers are in place when the request settles, and nothing but IndexedDB
//! requests is ever awaited while a transaction is open (it would auto-commit).

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbFactory, IdbObjectStore, IdbRequest, IdbTransaction};

use super::convert::{dom_error, js_error};
use crate::error::{Error, Result};

/// The host's `indexedDB`, or a `StorageError` naming the memory store where it has none.
pub(crate) fn idb_factory() -> Result<IdbFactory> {
    Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| {
            Error::storage(
                "NotSupportedError",
                "IndexedDB is not available in this host; use the memory store",
            )
        })
}

/// Whether the host has IndexedDB (`open`'s `storage: "auto"` falls back to memory).
#[cfg(feature = "client")]
pub fn has_indexeddb() -> bool {
    idb_factory().is_ok()
}

/// A future for one request. Must be created right after the request, before anything
/// is awaited, so its handlers are in place when the request settles.
pub(crate) fn settle(request: &IdbRequest) -> JsFuture {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise)
}

pub(crate) async fn result_of(request: IdbRequest, pending: JsFuture) -> Result<JsValue> {
    match pending.await {
        Ok(_) => request.result().map_err(js_error),
        Err(_) => Err(request
            .error()
            .ok()
            .flatten()
            .map_or_else(|| Error::storage("UnknownError", "request failed"), |d| dom_error(&d))),
    }
}

/// Issues a request and returns a future of its result.
pub(crate) fn request(
    made: std::result::Result<IdbRequest, JsValue>,
) -> Result<impl std::future::Future<Output = Result<JsValue>>> {
    let request = made.map_err(js_error)?;
    let pending = settle(&request);
    Ok(result_of(request, pending))
}

/// One open transaction and the future of its end.
pub(crate) struct Transaction {
    pub(crate) tx: IdbTransaction,
    pub(crate) done: JsFuture,
}

impl Transaction {
    pub(crate) fn store(&self, name: &str) -> Result<IdbObjectStore> {
        self.tx.object_store(name).map_err(js_error)
    }

    /// Waits for `complete`; an abort becomes the transaction's error.
    pub(crate) async fn commit(self) -> Result<()> {
        match self.done.await {
            Ok(_) => Ok(()),
            Err(_) => Err(self.tx.error().map_or_else(
                || Error::storage("AbortError", "the transaction was aborted"),
                |d| dom_error(&d),
            )),
        }
    }

    /// Aborts (nothing of this transaction is written).
    pub(crate) fn abort(self) {
        let _ = self.tx.abort();
    }
}
