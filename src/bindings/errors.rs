//! [`Error`] -> JS errors with stable names, codes and fields, each an instance of its
//! class (`VersionConflictError extends TidelogError extends Error`, see
//! `js/errors.js`; the package re-exports the classes):
//!
//! | `name` | `code` | extra fields |
//! |---|---|---|
//! | `InvalidInputError` | `invalid_input` | `field` |
//! | `VersionConflictError` | `version_conflict` | `stream`, `expectedVersion`, `actualVersion` |
//! | `AppendConditionError` | `append_condition_failed` | `stream`, `position` (the first matching event's), `eventId`, `after` (`null` when the condition had none) |
//! | `QuotaExceededError` | `quota_exceeded` | |
//! | `StorageError` | `storage` | `cause: { name, message }` (the `DOMException`'s; a file store's node:fs code, `Locked` or `Corrupted`) |
//! | `ClosedError` | `closed` | |
//! | `UnsyncedEventsError` | `unsynced_events` | `pendingCount` |
//! | `ReplayError` | `replay_failed` | `position`, `eventId`, `stream`, `version`, `type` (and `cause`, the thrown value, set by `replay.rs`) |
//! | `NotRetainedError` | `not_retained` | `from` (the lowest position held); for a stream read `stream` and `retainedVersion` (its lowest version held), else `null` |

use crate::web::glue::set;
use wasm_bindgen::JsValue;

use crate::error::Error;
use crate::event::ExpectedVersion;

/// Builds the JS `Error` for `error`.
pub fn to_js(error: &Error) -> JsValue {
    let js = crate::web::glue::make_error(error.js_name(), &error.to_string());
    set(&js, "code", error.code().into());
    match error {
        Error::InvalidInput { field, .. } => set(&js, "field", field.as_str().into()),
        Error::VersionConflict { stream, expected, actual } => {
            set(&js, "stream", stream.as_str().into());
            set(&js, "expectedVersion", expected_to_js(*expected));
            set(&js, "actualVersion", actual.as_f64().into());
        }
        Error::AppendCondition { stream, position, event_id, after } => {
            set(&js, "stream", stream.as_str().into());
            set(&js, "position", position.as_f64().into());
            set(&js, "eventId", event_id.as_str().into());
            set(&js, "after", after.map_or(JsValue::NULL, |a| a.as_f64().into()));
        }
        Error::Storage { name, message } => {
            let cause = js_sys::Object::new();
            set(&cause, "name", name.as_str().into());
            set(&cause, "message", message.as_str().into());
            set(&js, "cause", cause.into());
        }
        Error::UnsyncedEvents { pending_count } => {
            set(&js, "pendingCount", (*pending_count as f64).into());
        }
        Error::Replay { position, event_id, stream, version, event_type, .. } => {
            set(&js, "position", position.as_f64().into());
            set(&js, "eventId", event_id.as_str().into());
            set(&js, "stream", stream.as_str().into());
            set(&js, "version", version.as_f64().into());
            set(&js, "type", event_type.as_str().into());
        }
        Error::NotRetained { from, stream } => {
            set(&js, "from", from.as_f64().into());
            let (s, v) = match stream {
                Some((s, v)) => (s.as_str().into(), v.as_f64().into()),
                None => (JsValue::NULL, JsValue::NULL),
            };
            set(&js, "stream", s);
            set(&js, "retainedVersion", v);
        }
        _ => {}
    }
    js
}

/// An expected version as JS sees it: a number or one of the keyword strings.
pub fn expected_to_js(expected: ExpectedVersion) -> JsValue {
    match expected {
        ExpectedVersion::Exact(v) => v.as_f64().into(),
        other => other.to_string().into(),
    }
}

/// Shorthand: an `InvalidInputError` as a JS value.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> JsValue {
    to_js(&Error::invalid(field, message))
}
