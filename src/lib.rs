//! # tidelog
//!
//! An offline-first event log for web apps, written in Rust and compiled to
//! WebAssembly: an append-only event store over IndexedDB (in memory where there is
//! none, or in a log file in Node, Deno and Bun), with a JS API shipped as the npm
//! package `tidelog`.
//!
//! ## Map of the crate
//! Layers point one way, from the top of this table down: a module uses only the ones
//! below it (`error` uses `event`; `event` refuses bad values with its own
//! [`event::Invalid`], which `?` turns into an [`Error`]). The pure core builds and tests natively;
//! `web` adapts it to the hosts; `bindings` is the JS API over both, and nothing imports it.
//!
//! | layer | module | what lives there | builds for |
//! |---|---|---|---|
//! | JS API | `bindings` | every `#[wasm_bindgen]` item: the `EventStore`, `Projection` and `Sync` classes, argument checks, errors as JS `Error`s; `handleSyncRequest` and `handleSpaceRequest` (feature `server`). The store's API is feature `client`, `store.sync` feature `sync`, its memory backend feature `memory`: one wasm with all three, except in the browser package, where the sync side is a second wasm that meets the store only through JS calls (`bindings/sync/link.rs`) and the memory store a third (the client with `memory`), which the client's wasm opens memory stores in (`bindings/event_store.rs`, `open`) | wasm32 |
//! | platform | `web` | the host adapters: IndexedDB store, `fetch` transport, Durable Object storage (key-value and SQL), JS space stores (the self-hosted server), `node:fs` for the file store (feature `file`), typed externs of tidelog's JS modules, every JS <-> Rust conversion | wasm32 |
//! | server | `server` | the sync server core: `server::handle` turns a request into a response over a `ServerStore`; `KvServerStore`, the Durable Object key layout over a `Kv`; `SqlServerStore`, the SQL schema over a `SqlSpace` (SQLite-backed Durable Objects) | feature `server` |
//! | engines | [`sync`] | the [`SyncEngine`](sync::SyncEngine) over a `Transport` and a `SyncLocal`; the pure integration plan for remote events (rebase, quarantine); the conditions of conditional appends kept for the server's re-check and re-evaluated on `412 condition_failed` (`PendingCondition`); the feed cursor of partial sync (`FeedCursor`: one lane per part of the scope); the driver's policy (when to run a round and wake again, the stall watchdog, Background Sync) and the status it reports | everywhere |
//! | | [`replay`] | replay planning: paged cursors with time travel, snapshot policy, the command retry loop, which moved events (rebases) a reader already had (the fold itself runs in JS, `js/fold.js`) | everywhere |
//! | ports | [`store`] | the [`EventStore`](store::EventStore) trait, the shared append rules, [`MemoryStore`](store::MemoryStore), `store::file::FileStore` (a log file per store: format, recovery, lock, over a `FileSystem` port; `std::fs` natively), the conformance suite (tests only), retention's pure rule (`store::retention`: the floor, which reads it refuses) | everywhere; `file`: feature `file` |
//! | | [`outbox`] | the outbox as pure state machines: retry policy (backoff with full jitter), entry leases, batch limits | everywhere |
//! | | [`protocol`] | the HTTP sync protocol both sides share: paths, ETags and preconditions, query strings (the feed filter of partial sync), JSON bodies | everywhere |
//! | model | [`event`], [`query`], [`error`], [`env`](mod@env) | the event model ([`StreamId`], [`EventId`], [`Version`], [`Position`], [`ExpectedVersion`], [`Tag`], UUIDv7 ids); queries by type and tag and the append condition built on them ([`query::Query`], [`query::AppendCondition`]); the one [`Error`] enum and its stable JS names/codes; the clock and random source | everywhere |
//!
//! Module files: a module with submodules is a folder with a `mod.rs`; a leaf is one file.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod bindings;
pub mod env;
pub mod error;
pub mod event;
pub mod outbox;
pub mod protocol;
pub mod query;
pub mod replay;
#[cfg(feature = "server")]
pub mod server;
pub mod store;
pub mod sync;
#[cfg(test)]
mod test_util;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
pub use event::{
    AppendResult, Event, EventId, EventType, ExpectedVersion, IdGenerator, NewEvent, Position,
    StreamId, Tag, Version,
};

/// The wasm builds' allocator: talc, smaller than std's dlmalloc (measured: 1.7 KB gzip
/// less in the browser wasm) and faster per its own benchmarks.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
