//! # tidelog
//!
//! An offline-first event log for web apps, written in Rust and compiled to
//! WebAssembly: an append-only event store over IndexedDB (in memory where there is
//! none), with a JS API shipped as the npm package `tidelog`.
//!
//! ## Map of the crate
//! | module | what lives there | builds for |
//! |---|---|---|
//! | [`event`] | the event model: [`StreamId`], [`EventId`], [`Version`], [`Position`], [`ExpectedVersion`], UUIDv7 ids | everywhere |
//! | [`error`] | the one [`Error`] enum and its stable JS names/codes | everywhere |
//! | [`store`] | the [`EventStore`](store::EventStore) trait, the shared append rules, [`MemoryStore`](store::MemoryStore), the conformance suite; `store::indexeddb` over IndexedDB | everywhere; IndexedDB on wasm32 |
//! | [`outbox`] | the outbox as pure state machines: retry policy (backoff with full jitter), entry leases, batch limits | everywhere |
//! | [`sync`] | the [`SyncEngine`](sync::SyncEngine) over a `Transport` and a `SyncLocal`; the pure integration plan for remote events (rebase, quarantine) | everywhere |
//! | [`replay`] | the replay engine: [`Projection`](replay::Projection), paged [`replay`](replay::replay) with time travel, [`Upcasters`](replay::Upcasters), snapshots and [`ProjectionRunner`](replay::ProjectionRunner), the decide/evolve [`execute`](replay::execute) loop | everywhere |
//! | [`protocol`] | the HTTP sync protocol both sides share: paths, ETags and preconditions, query strings, JSON bodies | everywhere |
//! | `server` | the sync server core: `server::handle` turns a request into a response over a `ServerStore`, `MemoryServerStore`; `KvServerStore`, the Durable Object key layout over a `Kv` (feature `server`) | feature `server` |
//! | `bindings` | the JS API: every `#[wasm_bindgen]` item (`EventStore` class, errors as JS `Error`s; `handleSyncRequest` over Durable Object storage with feature `server`) | wasm32 |
//!
//! The logic is plain Rust that builds and tests natively with `cargo test`; the
//! browser-only adapters are compiled for `wasm32` only and are kept thin.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod bindings;
pub mod error;
pub mod event;
pub mod outbox;
pub mod protocol;
pub mod replay;
#[cfg(feature = "server")]
pub mod server;
pub mod store;
pub mod sync;
#[cfg(test)]
mod test_util;

pub use error::{Error, Result};
pub use event::{
    AppendResult, Event, EventId, EventType, ExpectedVersion, IdGenerator, NewEvent, Position,
    StreamId, Version,
};
