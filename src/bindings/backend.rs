//! [`Backend`]: where a store's events live (IndexedDB or memory), and the one `impl` of
//! dispatch methods the store API goes through (open, append, reads, heads, metrics,
//! close). Only projection snapshots (`projection.rs`: IndexedDB's `snapshots` store, or
//! a map in memory) still match on it themselves.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::errors::to_js;
use super::input::{InputBatch, JsResult};
use crate::event::{AppendResult, Event, ExpectedVersion, NewEvent, Position, StreamId, Version};
use crate::store::{EventStore as _, MemoryStore, Metrics, ReadOptions};
use crate::web::convert::{event_with_payload_to_js, stream_info_to_js};
use crate::web::glue;
use crate::web::indexeddb::{Durability, IndexedDbStore, JsBatch};

/// Where a store's events live.
pub(super) enum Backend {
    /// The browser's IndexedDB (persistent, shared by every tab of the origin).
    IndexedDb(IndexedDbStore),
    /// Memory (hosts without IndexedDB, or `storage: "memory"`).
    Memory(MemoryStore<JsValue>),
}

/// A memory-store event as the same record shape IndexedDB stores, with its payloads
/// cloned so a reader cannot change the stored event.
fn memory_record(event: &Event<JsValue>) -> JsResult<JsValue> {
    let data = glue::clone_value(&event.data)?;
    let meta = event.meta.as_ref().map(glue::clone_value).transpose()?;
    event_with_payload_to_js(event, &data, meta.as_ref()).map_err(|e| to_js(&e))
}

fn memory_records(events: &[Event<JsValue>]) -> JsResult<Array> {
    events.iter().map(memory_record).collect()
}

fn js<T>(result: crate::error::Result<T>) -> JsResult<T> {
    result.map_err(|e| to_js(&e))
}

impl Backend {
    /// Opens the backend `storage` names (`None` or `"auto"`: IndexedDB where the host
    /// has it, memory elsewhere).
    pub(super) async fn open(
        name: &str,
        storage: Option<&str>,
        durability: Durability,
    ) -> JsResult<Backend> {
        let indexeddb = match storage {
            None | Some("auto") => crate::web::has_indexeddb(),
            Some("indexeddb") => true,
            Some(_) => false,
        };
        Ok(if indexeddb {
            Backend::IndexedDb(js(IndexedDbStore::open(name, durability).await)?)
        } else {
            Backend::Memory(MemoryStore::new())
        })
    }

    /// `"indexeddb"` or `"memory"`.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Backend::IndexedDb(_) => "indexeddb",
            Backend::Memory(_) => "memory",
        }
    }

    /// The IndexedDB store, where the events live there.
    pub(super) fn indexeddb(&self) -> Option<&IndexedDbStore> {
        match self {
            Backend::IndexedDb(db) => Some(db),
            Backend::Memory(_) => None,
        }
    }

    /// Appends a checked batch (see [`IndexedDbStore::append_batch`]); the memory store
    /// keeps clones of the payloads, so the caller's objects stay theirs.
    pub(super) async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        batch: InputBatch,
    ) -> JsResult<AppendResult> {
        match self {
            Backend::IndexedDb(db) => {
                let bytes = batch.bytes;
                js(db
                    .append_batch(
                        stream,
                        expected,
                        JsBatch { events: batch.events, ids: batch.ids },
                        bytes,
                    )
                    .await)
            }
            Backend::Memory(m) => {
                let bytes = batch.bytes;
                let cloned = batch
                    .to_new_events()?
                    .into_iter()
                    .map(|e| {
                        Ok(NewEvent {
                            data: glue::clone_value(&e.data)?,
                            meta: e.meta.as_ref().map(glue::clone_value).transpose()?,
                            ..e
                        })
                    })
                    .collect::<JsResult<Vec<_>>>()?;
                js(m.append_now(stream, expected, cloned, bytes))
            }
        }
    }

    /// One stream's events as public records.
    pub(super) async fn read(&self, stream: &StreamId, options: ReadOptions) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.read_records(stream, options).await),
            Backend::Memory(m) => memory_records(&js(m.read(stream, options).await)?),
        }
    }

    /// The global log from `from` (inclusive) as public records.
    pub(super) async fn read_all(&self, from: Position, limit: usize) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.read_all_records(from, limit).await),
            Backend::Memory(m) => memory_records(&js(m.read_all(from, limit).await)?),
        }
    }

    /// The last position written (0 for an empty log).
    pub(super) async fn head_position(&self) -> JsResult<Position> {
        match self {
            Backend::IndexedDb(db) => js(db.head_position().await),
            Backend::Memory(m) => js(m.head_position()),
        }
    }

    /// The stream's version (its number of events).
    pub(super) async fn version(&self, stream: &StreamId) -> JsResult<Version> {
        match self {
            Backend::IndexedDb(db) => js(db.version(stream).await),
            Backend::Memory(m) => js(m.version(stream).await),
        }
    }

    /// `[{ stream, version, lastPosition, syncedVersion }]`.
    pub(super) async fn streams(&self) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.stream_records().await),
            Backend::Memory(m) => {
                Ok(js(m.streams().await)?.iter().map(stream_info_to_js).collect())
            }
        }
    }

    /// Counters since the store was opened.
    pub(super) fn metrics(&self) -> Metrics {
        match self {
            Backend::IndexedDb(db) => db.metrics(),
            Backend::Memory(m) => m.metrics(),
        }
    }

    /// Whether the store was closed (by `close()`, or by another tab's upgrade).
    pub(super) fn closed(&self) -> bool {
        match self {
            Backend::IndexedDb(db) => db.is_closed(),
            Backend::Memory(m) => m.is_closed(),
        }
    }

    /// Closes the store; later calls reject with a `ClosedError`.
    pub(super) fn close(&self) {
        match self {
            Backend::IndexedDb(db) => db.close(),
            Backend::Memory(m) => m.close(),
        }
    }
}
