//! The `Sync` JS class (`store.sync`).

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::conflict::conflict_events;
use super::events::SyncEvent;
use super::Driver;
use crate::bindings::errors::{invalid, to_js};
use crate::bindings::input;
use crate::error::Error;
use crate::event::EventId;

use crate::web::glue::get;
use crate::web::indexeddb::IndexedDbStore;

/// `store.sync`: the sync side of an event store opened with a `sync` option.
#[wasm_bindgen(js_name = Sync)]
pub struct JsSync {
    driver: Rc<Driver>,
}

/// What a call of `store.sync` asks of the database: a round, a list, or a settle.
enum Call {
    /// `sync.now()`: a forced round, then the status.
    Now,
    /// A list.
    List(List),
    /// Settle the dead letter or conflict with this id.
    Settle(f64, Settle),
}

/// The lists `store.sync` hands out.
enum List {
    /// `sync.outbox()`.
    Outbox,
    /// `sync.conflicts()`.
    Conflicts,
    /// `sync.deadLetters()`.
    DeadLetters,
}

/// What the app does with a dead letter or a conflict.
enum Settle {
    /// Its events go back to the outbox.
    RetryDeadLetter,
    /// It is dropped.
    DiscardDeadLetter,
    /// The app's events (`undefined`: the conflict's local events) follow the remote
    /// ones.
    ResolveConflict(JsValue),
    /// Its local events are dropped.
    DiscardConflict,
}

impl JsSync {
    /// The handle of a store's sync driver.
    pub(super) fn new(driver: Rc<Driver>) -> JsSync {
        JsSync { driver }
    }

    /// `call` as a promise (one future for every call that reads or writes the
    /// database): a round resolves to the status afterwards (rejects with `ClosedError`
    /// if the store closed meanwhile); a list to its records; a settle to whether the
    /// dead letter or conflict was there. Events that go back to the log are announced
    /// to subscribers and other tabs; then the driver wakes.
    fn call(&self, call: Call) -> Promise {
        let driver = self.driver.clone();
        future_to_promise(async move {
            let db = db(&driver)?;
            let (id, settle) = match call {
                Call::Now => {
                    driver.run_now().await;
                    if driver.state().closed() {
                        return Err(to_js(&Error::Closed));
                    }
                    return Ok(driver.status_js());
                }
                Call::List(list) => {
                    let records = match list {
                        List::Outbox => db.outbox_records().await,
                        List::Conflicts => db.conflict_records().await,
                        List::DeadLetters => db.dead_letter_records().await,
                    };
                    return Ok(records.map_err(|e| to_js(&e))?.into());
                }
                Call::Settle(id, settle) => (id, settle),
            };
            let (done, changed) = match settle {
                Settle::RetryDeadLetter => (db.retry_dead_letter(id).await, true),
                Settle::DiscardDeadLetter => (db.discard_dead_letter(id).await, false),
                Settle::ResolveConflict(events) => {
                    let events = if events.is_undefined() {
                        None
                    } else {
                        // Checked against the conflict's own stream (its name counts in
                        // an event's stored size); an unknown id is answered below.
                        let conflicts = db.conflict_records().await.map_err(|e| to_js(&e))?;
                        let stream = conflicts
                            .iter()
                            .find(|c| get(c, "id").as_f64() == Some(id))
                            .and_then(|c| get(&c, "stream").as_string())
                            .unwrap_or_default();
                        Some(conflict_events(&events, &stream, driver.link.max_event_bytes)?)
                    };
                    (db.settle_conflict(id, events).await, true)
                }
                Settle::DiscardConflict => (db.discard_conflict(id).await, false),
            };
            let done = done.map_err(|e| to_js(&e))?;
            if changed {
                driver.link.changed();
            }
            driver.wake();
            Ok(done.into())
        })
    }
}

/// The sync side's connection; `ClosedError` once the store is closed.
fn db(driver: &Driver) -> Result<&IndexedDbStore, JsValue> {
    if driver.state().closed() {
        return Err(to_js(&Error::Closed));
    }
    Ok(&driver.link.db)
}

#[wasm_bindgen(js_class = Sync)]
impl JsSync {
    /// Runs a round now (in the syncing tab; other tabs wake it) and resolves with the
    /// status afterwards; rejects with `ClosedError` once the store is closed.
    pub fn now(&self) -> Promise {
        if self.driver.state().closed() {
            return Promise::reject(&to_js(&Error::Closed));
        }
        self.driver.until_closed(self.call(Call::Now))
    }

    /// The current status snapshot: `{ online, paused, leader, pendingCount,
    /// pendingStreamCount, pendingBytes, oldestPendingAt, inFlight, conflictCount,
    /// deadLetterCount, lastSyncedAt, lastError, nextAttemptAt, stalled, auth }`.
    pub fn status(&self) -> JsValue {
        self.driver.status_js()
    }

    /// Listens to `"status"`, `"synced"`, `"conflict"` or `"error"`; returns a function
    /// that stops listening.
    pub fn on(&self, event: JsValue, callback: JsValue) -> Result<Function, JsValue> {
        let event = SyncEvent::parse(&input::string(&event, "event")?)?;
        let Some(callback) = callback.dyn_ref::<Function>() else {
            return Err(invalid("callback", "must be a function"));
        };
        Ok(self.driver.listeners.add(event as u8, callback.clone()))
    }

    /// Pauses syncing (the outbox keeps filling).
    pub fn pause(&self) {
        self.driver.state().pause();
        self.driver.emit(SyncEvent::Status, &self.driver.status_js());
    }

    /// Resumes syncing and runs a round.
    pub fn resume(&self) {
        self.driver.state().resume();
        self.driver.wake();
    }

    /// Replaces the bearer token (`null` for none) and resumes after an auth failure.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: JsValue) -> Result<(), JsValue> {
        let token = if token.is_null() || token.is_undefined() {
            None
        } else {
            Some(input::string(&token, "token")?)
        };
        self.driver.engine.transport().set_token(token);
        self.driver.state().clear_auth();
        self.driver.wake();
        Ok(())
    }

    /// Resolves once the event `id` is stored on the server; rejects with `ClosedError`
    /// once the store is closed.
    pub fn acknowledged(&self, id: JsValue) -> Result<Promise, JsValue> {
        let id = EventId::new(input::string(&id, "id")?).map_err(|e| to_js(&e.into()))?;
        let waiting = Promise::new(&mut |resolve, _| self.driver.wait_for(id.clone(), resolve));
        self.driver.wake();
        Ok(self.driver.until_closed(waiting))
    }

    /// The outbox: `[{ stream, pendingCount, pendingBytes, oldestPendingAt, attempts,
    /// nextAttemptAt, leaseUntil, lastError }]`.
    pub fn outbox(&self) -> Promise {
        self.call(Call::List(List::Outbox))
    }

    /// Quarantined conflicts: `[{ id, stream, local, remote, detectedAt }]`.
    pub fn conflicts(&self) -> Promise {
        self.call(Call::List(List::Conflicts))
    }

    /// Dead letters: `[{ id, stream, events, failure: { status, message }, failedAt }]`.
    #[wasm_bindgen(js_name = deadLetters)]
    pub fn dead_letters(&self) -> Promise {
        self.call(Call::List(List::DeadLetters))
    }

    /// Puts a dead letter's events back in the outbox (same ids).
    #[wasm_bindgen(js_name = retryDeadLetter)]
    pub fn retry_dead_letter(&self, id: f64) -> Promise {
        self.call(Call::Settle(id, Settle::RetryDeadLetter))
    }

    /// Drops a dead letter for good.
    #[wasm_bindgen(js_name = discardDeadLetter)]
    pub fn discard_dead_letter(&self, id: f64) -> Promise {
        self.call(Call::Settle(id, Settle::DiscardDeadLetter))
    }

    /// Settles a conflict: `events` (default: its local events) are appended after the
    /// remote ones and synced.
    #[wasm_bindgen(js_name = resolveConflict)]
    pub fn resolve_conflict(&self, id: f64, events: JsValue) -> Promise {
        self.call(Call::Settle(id, Settle::ResolveConflict(events)))
    }

    /// Drops a conflict's local events for good.
    #[wasm_bindgen(js_name = discardConflict)]
    pub fn discard_conflict(&self, id: f64) -> Promise {
        self.call(Call::Settle(id, Settle::DiscardConflict))
    }
}
