//! The one place where JS values and Rust values meet, for the platform layer and the
//! bindings alike: caught JS exceptions -> [`Error`], stored IndexedDB records <-> events,
//! wire events, push events, outbox entries and failures <-> JS objects, and the JSON the
//! fetch transport parses. Records are built by one JS call (`makeRecord`), so every
//! record has the same shape (hidden class).

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::DomException;

use crate::error::Error;

#[cfg(any(feature = "client", feature = "sync"))]
mod records;
#[cfg(any(feature = "client", feature = "sync"))]
pub use records::*;

/// Turns a caught JS exception into a typed error, keeping a `DOMException`'s name and
/// message.
pub fn js_error(value: JsValue) -> Error {
    if let Some(dom) = value.dyn_ref::<DomException>() {
        return dom_error(dom);
    }
    let name = Reflect::get(&value, &"name".into()).ok().and_then(|v| v.as_string());
    // A thrown string is its own message; a missing name is "Error" (as Durable Object
    // storage failures were read before there was one conversion).
    let message = Reflect::get(&value, &"message".into())
        .ok()
        .and_then(|v| v.as_string())
        .or_else(|| value.as_string());
    match (name, message) {
        (name, Some(message)) => Error::storage(name.unwrap_or_else(|| "Error".into()), message),
        // Not an Error: its JSON text (Debug of a JsValue would ship wasm-bindgen's
        // debug printer, and the browser build formats no Debug at all).
        _ => Error::storage(
            "Error",
            js_sys::JSON::stringify(&value)
                .ok()
                .and_then(|text| text.as_string())
                .unwrap_or_else(|| "a value that is not an Error was thrown".into()),
        ),
    }
}

pub(crate) fn dom_error(dom: &DomException) -> Error {
    let (name, message) = (dom.name(), dom.message());
    if name == "QuotaExceededError" {
        Error::QuotaExceeded { message }
    } else {
        Error::storage(name, message)
    }
}
