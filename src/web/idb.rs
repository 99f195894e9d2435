//! IndexedDB request plumbing: a future per request, and a transaction with the future of
//! its end. Every future is created right after its request, before anything is awaited,
//! so the handlers are in place when the request settles, and nothing but IndexedDB
//! requests is ever awaited while a transaction is open (it would auto-commit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbFactory, IdbObjectStore, IdbRequest, IdbTransaction};

use super::convert::{dom_error, js_error};
use super::glue;
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

/// The future of one request's result (`js/idb.js`'s `settled`): its poll is one
/// function every await of a request shares. Must be made right after the request,
/// before anything is awaited, so the handlers are in place when the request settles.
pub(crate) struct Pending(JsFuture);

impl Future for Pending {
    type Output = Result<JsValue>;

    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<JsValue>> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(js_error))
    }
}

/// Issues a request and returns a future of its result.
pub(crate) fn request(made: std::result::Result<IdbRequest, JsValue>) -> Result<Pending> {
    let request = made.map_err(js_error)?;
    Ok(Pending(JsFuture::from(glue::settled(&request))))
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
