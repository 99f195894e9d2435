//! JS helpers imported from `js_helpers.js` (see that file for what each does).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/bindings/js_helpers.js")]
extern "C" {
    /// Checks an input event's shape and payload; returns its approximate size in
    /// bytes, or throws `{ field, message }`.
    #[wasm_bindgen(catch, js_name = checkEvent)]
    pub fn check_event(event: &JsValue, index: u32) -> Result<f64, JsValue>;

    /// The first key of `options` not in `allowed`, if any.
    #[wasm_bindgen(js_name = unknownKey)]
    pub fn unknown_key(options: &JsValue, allowed: &js_sys::Array) -> Option<String>;

    /// Calls a subscriber, reporting (never swallowing) what it throws.
    pub fn deliver(callback: &js_sys::Function, event: &JsValue);

    /// The approximate JSON size of an event's `data` and `meta`, the same measure as
    /// `check_event` (the outbox keeps `pendingBytes` with it).
    #[wasm_bindgen(js_name = payloadSize)]
    pub fn payload_size(data: &JsValue, meta: &JsValue) -> f64;

    /// A new instance of tidelog's error class `name` (e.g. `VersionConflictError`).
    #[wasm_bindgen(js_name = makeError)]
    pub fn make_error(name: &str, message: &str) -> JsValue;

    /// `structuredClone(value)` where the host has it.
    #[wasm_bindgen(catch, js_name = cloneValue)]
    pub fn clone_value(value: &JsValue) -> Result<JsValue, JsValue>;
}
