//! Upcasting read records (`read`/`readAll` with `upcast: true`) through a store's
//! upcaster registry, and the `ReplayError` a failing reducer or upcaster becomes.

use js_sys::Array;
use wasm_bindgen::JsValue;

use super::errors::to_js;
use super::input::JsResult;
use crate::error::Error;
use crate::web::convert::record_head;
use crate::web::glue::{self, get, set};

/// The `ReplayError` for a failing record and the value its reducer or upcaster threw.
pub(super) fn replay_error(record: &JsValue, cause: &JsValue) -> JsValue {
    let error = match record_head(record) {
        Ok(head) => Error::Replay {
            position: head.position,
            event_id: head.id,
            stream: head.stream,
            version: head.version,
            event_type: head.event_type,
            message: glue::describe_thrown(cause),
        },
        Err(e) => e,
    };
    let js = to_js(&error);
    set(&js, "cause", cause.clone());
    js
}

/// Applies the store's upcasters to read records when `upcast` is set (`read`/`readAll`).
pub(super) fn upcast_records(upcasters: &JsValue, upcast: bool, records: Array) -> JsResult<Array> {
    if !upcast {
        return Ok(records);
    }
    glue::upcast_records_js(upcasters, &records).map_err(|thrown| {
        let index = get(&thrown, "replayIndex").as_f64().unwrap_or(0.0) as u32;
        replay_error(&records.get(index), &get(&thrown, "cause"))
    })
}
