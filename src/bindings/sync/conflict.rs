//! Settling quarantined conflicts: the app's `onConflict` function and
//! `sync.resolveConflict(id, events)`.
//!
//! The function gets each conflict `{ id, stream, local, remote, detectedAt }` and
//! answers (or resolves to):
//! - an array of events (`[{ type, data, meta?, id?, schema? }]`): appended after the
//!   remote ones and synced; `[]` drops the local events;
//! - `"quarantine"`: the conflict stays in `sync.conflicts()`.
//!
//! Any other answer (`undefined` from a resolver that forgot to return, `null`, ...)
//! keeps the conflict quarantined and emits an `error` (an `InvalidInputError` with
//! `field: "onConflict"`), so no answer ever drops events by accident. What the
//! function throws is emitted as an `error` too, and the conflict stays.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::events::SyncEvent;
use super::Driver;
use crate::bindings::errors::{invalid, to_js};
use crate::bindings::input;
use crate::env::{Environment, SystemEnvironment};
use crate::event::IdGenerator;
use crate::protocol::PushEvent;
use crate::web::glue::get;
use crate::web::indexeddb::IndexedDbStore;

/// Events an app hands back to settle a conflict of `stream`: `[{ id?, type, data, meta?,
/// schema? }]`, each with an id (a new one where it has none) and the time now. They are
/// checked as `append` checks events, against the store's `maxEventBytes` too: an event the
/// server would never take is refused here, not dead-lettered later.
pub(super) fn conflict_events(
    value: &JsValue,
    stream: &str,
    max_event_bytes: Option<usize>,
) -> Result<Vec<PushEvent<JsValue>>, JsValue> {
    let events = input::events(value, stream, max_event_bytes)?.to_new_events()?;
    let env = SystemEnvironment;
    let recorded_at = env.now_ms();
    let mut ids = IdGenerator::new();
    Ok(events
        .into_iter()
        .map(|e| PushEvent {
            id: e.id.unwrap_or_else(|| ids.next_id(env.now_ms(), env.random_bytes())),
            event_type: e.event_type,
            tags: e.tags,
            data: e.data,
            meta: e.meta,
            recorded_at,
            schema: e.schema,
        })
        .collect())
}

/// What an `onConflict` answer asks for.
enum Answer {
    /// Append these events after the remote ones (none: drop the local events).
    Settle(Vec<PushEvent<JsValue>>),
    /// Keep the conflict quarantined.
    Keep,
}

/// Reads an `onConflict` answer for a conflict of `stream`; `Err` is the error to emit
/// (the conflict stays).
fn answer(
    value: &JsValue,
    stream: &str,
    max_event_bytes: Option<usize>,
) -> Result<Answer, JsValue> {
    if Array::is_array(value) {
        return conflict_events(value, stream, max_event_bytes).map(Answer::Settle);
    }
    if value.as_string().as_deref() == Some("quarantine") {
        return Ok(Answer::Keep);
    }
    Err(invalid("onConflict", "must return an array of events or \"quarantine\""))
}

/// Calls `resolve` (the app's function) with the conflict, awaiting a promise it returns.
async fn ask(resolve: &Function, conflict: &JsValue) -> Result<JsValue, JsValue> {
    let value = resolve.call1(&JsValue::UNDEFINED, conflict)?;
    match value.dyn_ref::<Promise>() {
        Some(promise) => JsFuture::from(promise.clone()).await,
        None => Ok(value),
    }
}

impl Driver {
    /// Hands each quarantined conflict to the app's `onConflict` function and settles it
    /// as the answer says.
    pub(super) async fn resolve_conflicts(&self, db: &IndexedDbStore, resolve: &Function) {
        let Ok(conflicts) = db.conflict_records().await else { return };
        let max_event_bytes = self.link.max_event_bytes;
        for conflict in conflicts.iter() {
            let id = get(&conflict, "id").as_f64().unwrap_or(-1.0);
            let stream = get(&conflict, "stream").as_string().unwrap_or_default();
            let settled = match ask(resolve, &conflict)
                .await
                .and_then(|value| answer(&value, &stream, max_event_bytes))
            {
                Ok(Answer::Settle(events)) => db.settle_conflict(id, Some(events)).await,
                Ok(Answer::Keep) => continue,
                Err(error) => {
                    self.emit(SyncEvent::Error, &error);
                    continue;
                }
            };
            if let Err(e) = settled {
                self.emit(SyncEvent::Error, &to_js(&e));
            }
        }
    }
}
