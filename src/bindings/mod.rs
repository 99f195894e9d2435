//! The JS API: every `#[wasm_bindgen]` item of the crate, and the only place where
//! [`Error`](crate::Error)s become JS `Error` objects.
//!
//! ```js
//! import init, { EventStore } from "tidelog";
//! await init();
//! const store = await EventStore.open("shop");
//! await store.append("cart-42", [{ type: "ItemAdded", data: { sku: "A1" } }], { expectedVersion: 0 });
//! const events = await store.read("cart-42");
//! ```
//!
//! The Rust structs behind the JS classes are named `Js*` (`JsEventStore`, `JsSync`,
//! `JsProjection`), apart from the core's `store::EventStore` trait; JS sees `EventStore`,
//! `Sync` and `Projection`. Files, from the bottom up (no file imports one listed after it,
//! with one exception: every async call of the client runs in one future,
//! `event_store::call`, for the wasm's size, so the subscription pump (`subscribe.rs`) and
//! a projection's queued operations (`projection.rs`) hand their work to it, and it runs
//! them and the replays of `replay.rs`; that circle is kept to those names):
//!
//! - `errors.rs`: `Error` -> JS `Error` with a stable `name`, `code` and fields.
//! - `input.rs`: turning JS arguments into validated Rust values (never a panic).
//! - `listeners.rs`: event listener lists (`sync.on`, the store's `closed`).
//! - `backend.rs`: `Backend` (IndexedDB, memory or files) and the `impl` of dispatch
//!   methods. The memory backend is feature `memory` (`MemoryOn`): the browser package's
//!   client wasm leaves it out and opens memory stores in its memory wasm (`open` in
//!   `event_store.rs`; `js/util.js`, `loadMemoryModule`).
//! - `subscribe.rs`: live subscriptions (cursors and one pump).
//! - `upcast.rs`: upcasting read records; the `ReplayError` of a failing reducer.
//! - `shared.rs`: what a store's JS objects share (`Shared`): the backend, subscriptions,
//!   the cross-tab channel, the replay state, a `SyncHook` to the sync side, the `closed`
//!   listeners and the one way a store closes (`Shared::close`, with its reason).
//! - `sync/`: `store.sync` (the `Sync` class) and its driver: options, host triggers,
//!   Web Lock, conflict callback, events; the decisions are pure code in `crate::sync`.
//!   It reaches the store only through JS calls (`sync/link.rs`), so the browser package
//!   builds it as a wasm of its own (feature `sync` without `client`).
//! - `event_store.rs`: the `EventStore` class (and `EventStore.deleteStore`).
//! - `replay.rs`: `replay`, `replayAll`, `replayReport`, `replayAllReport`,
//!   `registerUpcaster` and `execute` on `EventStore`: the pages planned by
//!   `crate::replay`, each folded in one call by `js/fold.js`.
//! - `projection.rs`: `store.projection(...)` and the `Projection` class (snapshots, live
//!   feed, one queue of operations).
//! - `server.rs` (feature `server`): `handleSyncRequest`, the sync server over Durable
//!   Object storage (`web/do_sql.rs`, the SQL API; `web/do_storage.rs`, the key-value
//!   API), for the worker in `tidelog/worker`; and `handleSpaceRequest`, the same over a
//!   JS space store (`web/space_store.rs`), for the self-hosted server in `tidelog/server`.

#[cfg(feature = "client")]
mod backend;
mod errors;
#[cfg(feature = "client")]
mod event_store;
#[cfg(any(feature = "client", feature = "sync"))]
mod input;
#[cfg(any(feature = "client", feature = "sync"))]
mod listeners;
#[cfg(feature = "client")]
mod projection;
#[cfg(feature = "client")]
mod replay;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "client")]
mod shared;
#[cfg(feature = "client")]
mod subscribe;
#[cfg(any(feature = "client", feature = "sync"))]
mod sync;
#[cfg(feature = "client")]
mod upcast;

#[cfg(feature = "client")]
pub use event_store::JsEventStore;
#[cfg(feature = "client")]
pub use projection::JsProjection;
#[cfg(feature = "server")]
pub use server::{handle_space_request, handle_sync_request};

/// The tidelog version (the crate's, which is also the npm package's). Not in the
/// browser package's sync wasm: the client's answers.
#[cfg(any(feature = "client", feature = "server"))]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = version)]
pub fn tidelog_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
