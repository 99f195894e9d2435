//! [`HostSpaceStore`]: the sync server's [`ServerStore`] implemented by a JS object
//! (feature `server`), for the self-hosted server (`tidelog/server`): one space's store
//! over a database the host reaches from JS. The stores themselves are JS modules in
//! `js/` (`js/server/pg_store.js` over PostgreSQL, `js/server/file_store.js` over a log file); their
//! interface, `SpaceStore`, is typed in `js/server/space_store.js`.
//!
//! Every protocol decision stays in [`crate::server::handle`]; a store only keeps rows
//! of `(stream, version, position, body)`, where `body` is the event as pushed
//! ([`PushEvent`] as JSON text: id, type, data, meta, recordedAt, schema). The store
//! assigns versions and positions inside its own transaction; this adapter rebuilds the
//! served event from the row ([`PushEvent::stored_at`]).

use js_sys::{Array, Promise};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::event::{EventId, Position, StreamId, Version};
use crate::protocol::PushEvent;
use crate::server::{AppendOutcome, ServerEvent, ServerStore};
use crate::web::convert::js_error;
use crate::web::glue::get;

#[wasm_bindgen]
extern "C" {
    /// A JS object with the methods of `SpaceStore` (`js/server/space_store.js`), each
    /// returning a value or a promise of it.
    #[wasm_bindgen(typescript_type = "SpaceStore")]
    pub type JsSpaceStore;

    #[wasm_bindgen(method, catch, js_name = streamVersion)]
    fn stream_version(this: &JsSpaceStore, stream: &str) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = eventsById)]
    fn events_by_id(this: &JsSpaceStore, ids: Vec<String>)
        -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn append(
        this: &JsSpaceStore,
        stream: &str,
        expected: f64,
        ids: Vec<String>,
        bodies: Vec<String>,
    ) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = readStream)]
    fn read_stream(
        this: &JsSpaceStore,
        stream: &str,
        after: f64,
        limit: u32,
    ) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = readFeed)]
    fn read_feed(
        this: &JsSpaceStore,
        after: f64,
        limit: u32,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// Awaits what a store method returned (a promise or a plain value); a throw or a
/// rejection is an [`Error::Storage`] with the JS error's name and message.
async fn settle(called: std::result::Result<JsValue, JsValue>) -> Result<JsValue> {
    let value = called.map_err(js_error)?;
    JsFuture::from(Promise::resolve(&value)).await.map_err(js_error)
}

fn corrupt(message: impl Into<String>) -> Error {
    Error::storage("CorruptData", message)
}

fn number(value: &JsValue, what: &str) -> Result<u64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= crate::event::MAX_SAFE_INTEGER as f64)
        .map(|n| n as u64)
        .ok_or_else(|| corrupt(format!("the store gave {what} that is not a safe integer")))
}

/// One stored row `[stream, version, position, body]` as the event reads serve.
fn event_of_row(row: &JsValue) -> Result<ServerEvent> {
    let row = row.dyn_ref::<Array>().ok_or_else(|| corrupt("a stored row is not an array"))?;
    let stream = row
        .get(0)
        .as_string()
        .ok_or_else(|| corrupt("a stored row's stream is not a string"))
        .and_then(|s| StreamId::new(s).map_err(|e| corrupt(e.to_string())))?;
    let version = Version(number(&row.get(1), "a version")?);
    let position = Position(number(&row.get(2), "a position")?);
    let body = row.get(3).as_string().ok_or_else(|| corrupt("a stored body is not a string"))?;
    let pushed: PushEvent<Value> = serde_json::from_str(&body)
        .map_err(|e| corrupt(format!("a stored body is not an event: {e}")))?;
    Ok(pushed.stored_at(&stream, version, position))
}

fn rows(value: &JsValue) -> Result<Vec<ServerEvent>> {
    let rows =
        value.dyn_ref::<Array>().ok_or_else(|| corrupt("the store's rows are not an array"))?;
    rows.iter().map(|row| event_of_row(&row)).collect()
}

fn read_limit(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX)
}

/// [`ServerStore`] over one space's [`JsSpaceStore`].
pub struct HostSpaceStore {
    store: JsSpaceStore,
}

impl std::fmt::Debug for HostSpaceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostSpaceStore")
    }
}

impl HostSpaceStore {
    /// The adapter over `store` (a `SpaceStore`, e.g. `pgStore(pool).space("shop")`).
    pub fn new(store: JsSpaceStore) -> Self {
        HostSpaceStore { store }
    }
}

impl ServerStore for HostSpaceStore {
    async fn stream_version(&self, stream: &StreamId) -> Result<Version> {
        let version = settle(self.store.stream_version(stream.as_str())).await?;
        Ok(Version(number(&version, "a stream version")?))
    }

    async fn events_by_id(&self, ids: &[EventId]) -> Result<Vec<Option<ServerEvent>>> {
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_string()).collect();
        let found = settle(self.store.events_by_id(ids.clone())).await?;
        let found =
            found.dyn_into::<Array>().map_err(|_| corrupt("eventsById did not give an array"))?;
        if found.length() as usize != ids.len() {
            return Err(corrupt("eventsById gave another number of rows than ids"));
        }
        found
            .iter()
            .map(|row| {
                if row.is_null() || row.is_undefined() {
                    Ok(None)
                } else {
                    event_of_row(&row).map(Some)
                }
            })
            .collect()
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: Version,
        events: &[PushEvent<Value>],
    ) -> Result<AppendOutcome> {
        let ids = events.iter().map(|e| e.id.as_str().to_string()).collect();
        let bodies = events
            .iter()
            .map(|e| serde_json::to_string(e).map_err(|e| Error::invalid("events", e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        // Checked before the store is asked, so an overflow writes nothing.
        expected.plus(events.len() as u64)?;
        let outcome =
            settle(self.store.append(stream.as_str(), expected.as_f64(), ids, bodies)).await?;
        let moved = get(&outcome, "versionMoved");
        if !moved.is_undefined() {
            return Ok(AppendOutcome::VersionMoved(Version(number(&moved, "a version")?)));
        }
        let taken = get(&outcome, "idTaken");
        if let Some(id) = taken.as_string() {
            return Ok(AppendOutcome::IdTaken(
                EventId::new(id).map_err(|e| corrupt(e.to_string()))?,
            ));
        }
        // The store answers the first position it gave the batch.
        let first = number(&get(&outcome, "position"), "a position")?;
        let head = Position(first.checked_sub(1).ok_or_else(|| corrupt("position 0"))?);
        Ok(AppendOutcome::Appended(PushEvent::stored_batch(events, stream, expected, head)?))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: usize,
    ) -> Result<(Version, Vec<ServerEvent>)> {
        let read =
            settle(self.store.read_stream(stream.as_str(), after.as_f64(), read_limit(limit)))
                .await?;
        let version = Version(number(&get(&read, "version"), "a stream version")?);
        Ok((version, rows(&get(&read, "rows"))?))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Position, Vec<ServerEvent>)> {
        let read = settle(self.store.read_feed(after.as_f64(), read_limit(limit))).await?;
        let head = Position(number(&get(&read, "head"), "a feed head")?);
        Ok((head, rows(&get(&read, "rows"))?))
    }
}
