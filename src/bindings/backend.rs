//! [`Backend`]: where a store's events live (IndexedDB, memory, or with feature `file` a
//! directory), and the one `impl` of
//! dispatch methods the store API goes through (open, append, reads, heads, metrics,
//! close). Only projection snapshots (`projection.rs`: IndexedDB's `snapshots` store, or
//! a map in memory) still match on it themselves.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::errors::to_js;
use super::input::{InputBatch, JsResult};
use crate::event::{AppendResult, ExpectedVersion, Position, StreamId, Version};
use crate::query::{AppendCondition, Query, QueryOptions};
#[cfg(feature = "memory")]
use crate::store::MemoryStore;
use crate::store::{EventStore as _, Metrics, ReadOptions};
#[cfg(any(feature = "memory", feature = "file"))]
use crate::web::convert::stream_info_to_js;
#[cfg(feature = "memory")]
use crate::web::glue;
use crate::web::indexeddb::{Durability, IndexedDbStore, JsBatch};
#[cfg(feature = "file")]
use {
    crate::event::NewEvent,
    crate::store::file::{FileStore, Fsync},
    crate::web::convert::{json_event_to_js, json_text},
    crate::web::node_fs::NodeFileSystem,
};

/// `()` in a build with the memory backend (feature `memory`); without it the empty
/// `Infallible`, so no `Backend::Memory` can be made (the browser package's client wasm:
/// a memory store opens in the memory wasm) and every arm on it is `memory_arm!`, which
/// then leaves the arm out.
#[cfg(feature = "memory")]
pub(super) type MemoryOn = ();
/// See the `memory` build's `MemoryOn`: here no `Backend::Memory` can exist.
#[cfg(not(feature = "memory"))]
pub(super) type MemoryOn = std::convert::Infallible;

/// The store a `Backend::Memory` holds: the memory store in a build with the memory
/// backend.
#[cfg(feature = "memory")]
pub(super) type MemoryCell = MemoryStore<JsValue>;
/// Without the memory backend an empty type, like [`MemoryOn`]: with both fields empty,
/// `Backend::Memory` takes no room in the enum's layout, and the enum's drop glue has no
/// memory store (its maps) to drop. A sized field kept the variant in the layout.
#[cfg(not(feature = "memory"))]
pub(super) type MemoryCell = NoMemory;

/// See [`MemoryCell`].
#[cfg(not(feature = "memory"))]
pub(super) enum NoMemory {}

/// A `Backend::Memory` arm: `$body` with `$m`, the memory store. In a build without the
/// memory backend ([`MemoryOn`] is empty) the arm is `match *$on {}` and `$body` is not
/// compiled: the empty field alone leaves an async method's arm in the wasm (its await
/// points stay states of the method's future).
macro_rules! memory_arm {
    ($m:ident, $on:ident => $body:expr) => {{
        #[cfg(feature = "memory")]
        {
            let () = *$on;
            $body
        }
        #[cfg(not(feature = "memory"))]
        {
            let _ = $m;
            match *$on {}
        }
    }};
}

/// Where a store's events live.
pub(super) enum Backend {
    /// The browser's IndexedDB (persistent, shared by every tab of the origin).
    IndexedDb(IndexedDbStore),
    /// Memory (hosts without IndexedDB, or `storage: "memory"`); only in a build with
    /// the memory backend ([`MemoryOn`]).
    #[cfg_attr(not(feature = "memory"), allow(dead_code))]
    Memory(MemoryCell, MemoryOn),
    /// A directory (`storage: "file"`, Node, Deno and Bun): payloads kept as JSON text.
    #[cfg(feature = "file")]
    File(FileStore<NodeFileSystem>),
}

/// A memory-store event as the same record shape IndexedDB stores, with its payloads
/// cloned so a reader cannot change the stored event.
#[cfg(feature = "memory")]
fn memory_record(event: &crate::event::Event<JsValue>) -> JsResult<JsValue> {
    let data = glue::clone_value(&event.data)?;
    let meta = event.meta.as_ref().map(glue::clone_value).transpose()?;
    crate::web::convert::event_with_payload_to_js(event, &data, meta.as_ref())
        .map_err(|e| to_js(&e))
}

/// [`memory_record`] of each event.
#[cfg(feature = "memory")]
fn memory_records(events: &[crate::event::Event<JsValue>]) -> JsResult<Array> {
    events.iter().map(memory_record).collect()
}

/// File-store events as public records, payloads parsed from their JSON text.
#[cfg(feature = "file")]
fn json_records(events: &[crate::event::Event<String>]) -> JsResult<Array> {
    events.iter().map(|e| json_event_to_js(e).map_err(|e| to_js(&e))).collect()
}

fn js<T>(result: crate::error::Result<T>) -> JsResult<T> {
    result.map_err(|e| to_js(&e))
}

impl Backend {
    /// Opens (or creates) the IndexedDB database `name`.
    pub(super) async fn open_indexeddb(name: &str, durability: Durability) -> JsResult<Backend> {
        Ok(Backend::IndexedDb(js(IndexedDbStore::open(name, durability).await)?))
    }

    /// A new, empty memory store.
    #[cfg(feature = "memory")]
    pub(super) fn open_memory() -> Backend {
        Backend::Memory(MemoryStore::new(), ())
    }

    /// Opens the file store in `dir` (`<directory>/<name>`, checked by the caller).
    #[cfg(feature = "file")]
    pub(super) fn open_file(dir: &str, durability: Durability) -> JsResult<Backend> {
        // Strict unless asked otherwise: a server's log is its source of truth.
        let sync = match durability {
            Durability::Relaxed => Fsync::Never,
            Durability::Default | Durability::Strict => Fsync::EachAppend,
        };
        Ok(Backend::File(js(FileStore::open(NodeFileSystem, dir, sync))?))
    }

    /// `"indexeddb"`, `"memory"` or `"file"`.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Backend::IndexedDb(_) => "indexeddb",
            Backend::Memory(_, _) => "memory",
            #[cfg(feature = "file")]
            Backend::File(_) => "file",
        }
    }

    /// The IndexedDB store, where the events live there.
    pub(super) fn indexeddb(&self) -> Option<&IndexedDbStore> {
        match self {
            Backend::IndexedDb(db) => Some(db),
            _ => None,
        }
    }

    /// The file store, where the events live there.
    #[cfg(feature = "file")]
    pub(super) fn file(&self) -> Option<&FileStore<NodeFileSystem>> {
        match self {
            Backend::File(f) => Some(f),
            _ => None,
        }
    }

    /// Appends a checked batch (see [`IndexedDbStore::append_batch`]); the memory store
    /// keeps clones of the payloads, so the caller's objects stay theirs.
    pub(super) async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        batch: InputBatch,
    ) -> JsResult<AppendResult> {
        match self {
            Backend::IndexedDb(db) => {
                let bytes = batch.bytes;
                js(db
                    .append_batch(
                        stream,
                        expected,
                        condition,
                        JsBatch { events: batch.events, ids: batch.ids },
                        bytes,
                    )
                    .await)
            }
            Backend::Memory(m, on) => memory_arm!(m, on => {
                let bytes = batch.bytes;
                let mut events = batch.to_new_events()?;
                for e in &mut events {
                    e.data = glue::clone_value(&e.data)?;
                    if let Some(meta) = &mut e.meta {
                        *meta = glue::clone_value(meta)?;
                    }
                }
                js(m.append_now(stream, expected, condition, events, bytes))
            }),
            #[cfg(feature = "file")]
            Backend::File(f) => {
                let events = batch
                    .to_new_events()?
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| {
                        Ok(NewEvent {
                            data: json_text(&e.data, &format!("events[{i}].data"))?,
                            meta: e
                                .meta
                                .as_ref()
                                .map(|m| json_text(m, &format!("events[{i}].meta")))
                                .transpose()?,
                            id: e.id,
                            event_type: e.event_type,
                            tags: e.tags,
                            schema: e.schema,
                        })
                    })
                    .collect::<crate::error::Result<Vec<_>>>();
                js(events.and_then(|events| {
                    f.append_now(stream, expected, condition, events, batch.bytes)
                }))
            }
        }
    }

    /// One stream's events as public records.
    pub(super) async fn read(&self, stream: &StreamId, options: ReadOptions) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.read_records(stream, options).await),
            Backend::Memory(m, on) => {
                memory_arm!(m, on => memory_records(&js(m.read(stream, options).await)?))
            }
            #[cfg(feature = "file")]
            Backend::File(f) => json_records(&js(f.read(stream, options).await)?),
        }
    }

    /// The global log from `from` (inclusive) as public records.
    pub(super) async fn read_all(&self, from: Position, limit: usize) -> JsResult<Array> {
        self.read_held(Some(from), limit).await
    }

    /// [`Self::read_all`]; `None`: from retention's floor (what is held).
    pub(super) async fn read_held(&self, from: Option<Position>, limit: usize) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.read_all_records(from, limit).await),
            Backend::Memory(m, on) => memory_arm!(m, on => {
                memory_records(&js(m.read_all(from.unwrap_or(m.floor_now()), limit).await)?)
            }),
            #[cfg(feature = "file")]
            Backend::File(f) => {
                json_records(&js(f.read_all(from.unwrap_or(f.floor_now()), limit).await)?)
            }
        }
    }

    /// The events matching `query` as public records.
    pub(super) async fn query(&self, query: &Query, options: QueryOptions) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.query_records(query, options).await),
            Backend::Memory(m, on) => {
                memory_arm!(m, on => memory_records(&js(m.query(query, options).await)?))
            }
            #[cfg(feature = "file")]
            Backend::File(f) => json_records(&js(f.query(query, options).await)?),
        }
    }

    /// [`Self::read_all`] with the move epoch and log it reflects (read together). Only
    /// IndexedDB stores sync, so only they move events: the others answer epoch 0.
    pub(super) async fn read_all_with_moves(
        &self,
        from: Position,
        limit: usize,
    ) -> JsResult<(Array, u64, Vec<crate::replay::Move<JsValue>>)> {
        match self {
            Backend::IndexedDb(db) => js(db.read_all_with_moves(from, limit).await),
            Backend::Memory(_m, on) => {
                memory_arm!(_m, on => Ok((self.read_all(from, limit).await?, 0, Vec::new())))
            }
            #[cfg(feature = "file")]
            Backend::File(_) => Ok((self.read_all(from, limit).await?, 0, Vec::new())),
        }
    }

    /// The move epoch and log (only IndexedDB stores sync and move events).
    pub(super) async fn moves(&self) -> JsResult<(u64, Vec<crate::replay::Move<JsValue>>)> {
        match self {
            Backend::IndexedDb(db) => js(db.moves().await),
            _ => Ok((0, Vec::new())),
        }
    }

    /// The last position written (0 for an empty log).
    pub(super) async fn head_position(&self) -> JsResult<Position> {
        match self {
            Backend::IndexedDb(db) => js(db.head_position().await),
            Backend::Memory(m, on) => memory_arm!(m, on => js(m.head_position())),
            #[cfg(feature = "file")]
            Backend::File(f) => js(f.head_position()),
        }
    }

    /// How many events a memory or file store holds (their positions have no gaps); 0
    /// for IndexedDB (`deleteStore` counts its events in the database).
    #[cfg(feature = "file")]
    pub(super) fn event_count(&self) -> u64 {
        let head = match self {
            Backend::IndexedDb(_) => return 0,
            Backend::Memory(m, on) => memory_arm!(m, on => m.head_position()),
            Backend::File(f) => f.head_position(),
        };
        head.map_or(0, |p| p.0)
    }

    /// The stream's version (its number of events).
    pub(super) async fn version(&self, stream: &StreamId) -> JsResult<Version> {
        match self {
            Backend::IndexedDb(db) => js(db.version(stream).await),
            Backend::Memory(m, on) => memory_arm!(m, on => js(m.version(stream).await)),
            #[cfg(feature = "file")]
            Backend::File(f) => js(f.version(stream).await),
        }
    }

    /// `[{ stream, version, lastPosition, syncedVersion }]`.
    pub(super) async fn streams(&self) -> JsResult<Array> {
        match self {
            Backend::IndexedDb(db) => js(db.stream_records().await),
            Backend::Memory(m, on) => memory_arm!(m, on => {
                Ok(js(m.streams().await)?.iter().map(stream_info_to_js).collect())
            }),
            #[cfg(feature = "file")]
            Backend::File(f) => Ok(js(f.streams().await)?.iter().map(stream_info_to_js).collect()),
        }
    }

    /// Applies `retention` now (see [`crate::store::retention`]).
    pub(super) async fn compact(
        &self,
        retention: &crate::store::Retention,
    ) -> JsResult<crate::store::Compacted> {
        match self {
            Backend::IndexedDb(db) => js(db.compact_now(retention).await),
            Backend::Memory(m, on) => memory_arm!(m, on => js(m.compact_now(retention))),
            #[cfg(feature = "file")]
            Backend::File(f) => js(f.compact(retention).await),
        }
    }

    /// Counters since the store was opened.
    pub(super) fn metrics(&self) -> Metrics {
        match self {
            Backend::IndexedDb(db) => db.metrics(),
            Backend::Memory(m, on) => memory_arm!(m, on => m.metrics()),
            #[cfg(feature = "file")]
            Backend::File(f) => f.metrics(),
        }
    }

    /// Whether the store was closed (by `close()`, or by another tab's upgrade).
    pub(super) fn closed(&self) -> bool {
        match self {
            Backend::IndexedDb(db) => db.is_closed(),
            Backend::Memory(m, on) => memory_arm!(m, on => m.is_closed()),
            #[cfg(feature = "file")]
            Backend::File(f) => f.is_closed(),
        }
    }

    /// Closes the store; later calls reject with a `ClosedError`.
    pub(super) fn close(&self) {
        match self {
            Backend::IndexedDb(db) => db.close(),
            Backend::Memory(m, on) => memory_arm!(m, on => m.close()),
            #[cfg(feature = "file")]
            Backend::File(f) => f.close(),
        }
    }
}
