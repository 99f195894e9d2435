//! What `store.sync` hands to JS: its events (`sync.on(...)`), the status object, round
//! reports and `SyncError`s.

use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::bindings::errors::invalid;
use crate::outbox::Failure;
use crate::sync::{PullProgress, SyncErrorKind, SyncReport, SyncStatus};
use crate::web::convert::failure_to_js;
use crate::web::glue::{make_error, set};

/// The events `sync.on` listens to (as `u8` in [`Listeners`], from 1: 0 is `closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum SyncEvent {
    /// The status changed (after every round, `pause()`).
    Status = 1,
    /// Events went up or came down (a round report).
    Synced,
    /// Local events conflicted with remote ones (a round report).
    Conflict,
    /// Something went wrong (a `SyncError`, or what the store or the app threw).
    Error,
    /// A page of the feed was written (`{ received, position, head }`).
    Progress,
    /// The local database was new (created by this open) and the server holds events:
    /// the store is rebuilt from the server (`{ position, head }`).
    Rebuild,
}

impl SyncEvent {
    /// The event named `name`, or an `InvalidInputError` for the `event` argument.
    pub(super) fn parse(name: &str) -> Result<SyncEvent, JsValue> {
        match name {
            "status" => Ok(SyncEvent::Status),
            "synced" => Ok(SyncEvent::Synced),
            "conflict" => Ok(SyncEvent::Conflict),
            "error" => Ok(SyncEvent::Error),
            "progress" => Ok(SyncEvent::Progress),
            "rebuild" => Ok(SyncEvent::Rebuild),
            _ => Err(invalid(
                "event",
                "must be \"status\", \"synced\", \"conflict\", \"error\", \"progress\" or \"rebuild\"",
            )),
        }
    }
}

pub(super) use crate::bindings::listeners::Listeners;

fn time_to_js(at: Option<u64>) -> JsValue {
    at.map_or(JsValue::NULL, |at| (at as f64).into())
}

fn failure_or_null(failure: Option<&Failure>) -> JsValue {
    failure.map_or(JsValue::NULL, failure_to_js)
}

/// The `SyncStatus` JS object.
pub(super) fn status_to_js(status: &SyncStatus<'_>) -> JsValue {
    let js: JsValue = Object::new().into();
    set(&js, "online", status.online.into());
    set(&js, "paused", status.paused.into());
    set(&js, "leader", status.leader.into());
    set(&js, "pendingCount", (status.outbox.pending_count as f64).into());
    set(&js, "pendingStreamCount", (status.outbox.pending_stream_count as f64).into());
    set(&js, "pendingBytes", (status.outbox.pending_bytes as f64).into());
    set(&js, "oldestPendingAt", time_to_js(status.outbox.oldest_pending_at));
    set(&js, "inFlight", status.in_flight.into());
    set(&js, "conflictCount", (status.conflict_count as f64).into());
    set(&js, "deadLetterCount", (status.dead_letter_count as f64).into());
    set(&js, "lastSyncedAt", time_to_js(status.last_synced_at));
    set(&js, "lastError", failure_or_null(status.last_error));
    set(&js, "nextAttemptAt", time_to_js(status.next_attempt_at));
    set(&js, "stalled", status.stalled.into());
    set(&js, "auth", failure_or_null(status.auth));
    js
}

/// A pull's progress: `{ received, position, head }`.
pub(super) fn progress_to_js(progress: &PullProgress) -> JsValue {
    let js: JsValue = Object::new().into();
    set(&js, "received", (progress.received as f64).into());
    set(&js, "position", progress.position.as_f64().into());
    set(&js, "head", progress.head.as_f64().into());
    js
}

/// A round report: `{ requests, pushed, pulled, conflicted, deadLettered }`.
pub(super) fn report_to_js(report: &SyncReport) -> JsValue {
    let js: JsValue = Object::new().into();
    set(&js, "requests", report.requests.into());
    set(&js, "pushed", (report.pushed as f64).into());
    set(&js, "pulled", (report.pulled as f64).into());
    set(&js, "conflicted", (report.conflicted as f64).into());
    set(&js, "deadLettered", (report.dead_lettered as f64).into());
    js
}

/// A `SyncError` (`name: "SyncError"`, `code`: [`SyncErrorKind::code`],
/// `status`: the HTTP status or null).
pub(super) fn sync_error(kind: SyncErrorKind, failure: &Failure) -> JsValue {
    let error = make_error("SyncError", &failure.message);
    set(&error, "code", kind.code().into());
    set(&error, "status", failure.status.map_or(JsValue::NULL, |s| s.into()));
    error
}
