//! `store.sync`: drives the [`SyncEngine`](crate::sync::SyncEngine) in the browser.
//!
//! - **Triggers**: every append wakes it (bursts coalesce into one round), and so do
//!   the `online` and `visibilitychange` events, a timer (the next backoff deadline, or
//!   the poll interval: longer while the page is hidden), another tab's append
//!   (BroadcastChannel) and `sync.now()`.
//! - **One syncing tab**: the tab holding the Web Lock `tidelog-sync:<database>` runs
//!   rounds; the others queue for the lock and take over when that tab closes (or
//!   freezes: the lock is released on `freeze` and requested again on `resume`).
//!   Without the Web Locks API (older hosts, workers of some runtimes) every instance
//!   syncs, which idempotency by event id keeps correct.
//! - **Status** is a snapshot kept up to date after every round and append:
//!   `{ online, paused, leader, pendingCount, pendingStreamCount, pendingBytes,
//!   oldestPendingAt, inFlight, conflictCount, deadLetterCount, lastSyncedAt, lastError,
//!   nextAttemptAt, stalled, auth }` (`auth`: the refusal that paused sync,
//!   `{ status, message }`, until a new token or `now()`).
//! - **Background Sync**: after a round that failed to reach the server (or while the
//!   browser is offline) with events pending, the driver registers the one-off Background
//!   Sync tag `tidelog:<database>` on the page's service worker registration, if any. A
//!   service worker that opens the same store on that `sync` event and calls
//!   `sync.now()` pushes the outbox when the network is back, even with every page closed.
//! - **Stall watchdog**: pending events that make no progress for `stallMs` while online
//!   and not paused set `stalled` and emit an `error`, never a silent "connected".
//!
//! The decisions (coalescing, who syncs, what a round's report leads to, when to wake,
//! the watchdog, Background Sync, the status) are pure code in `crate::sync`
//! (`DriverState`, `SyncStatus`), tested natively; the host APIs are typed in
//! `crate::web::host`. Here:
//! - `config.rs`: the `sync` option of `EventStore.open`, checked before anything opens
//!   (in the browser package by the sync wasm's `checkSync`, which `open` loads first);
//! - `driver.rs`: the driver: host events, the Web Lock, the timer, running rounds;
//! - `conflict.rs`: the `onConflict` function's contract, `resolveConflict` events;
//! - `events.rs`: `sync.on` listeners and the JS shapes (status, reports, `SyncError`);
//! - `handle.rs`: the `Sync` class (`store.sync`);
//! - `link.rs`: where a store and its sync side meet (`start`, and the sync wasm's
//!   `startSync` export): its own connection, and JS calls both ways, so the sync side can
//!   be a wasm instance of its own.
//!
//! Feature `sync` builds all of it; the browser package's client wasm (feature `client`
//! alone) has none of it and loads it as a second wasm.

#[cfg(feature = "sync")]
mod config;
#[cfg(feature = "sync")]
mod conflict;
#[cfg(feature = "sync")]
mod driver;
#[cfg(feature = "sync")]
mod events;
#[cfg(feature = "sync")]
mod handle;
#[cfg(feature = "sync")]
mod link;

#[cfg(all(feature = "client", feature = "sync"))]
pub(in crate::bindings) use config::parse_config;
#[cfg(feature = "sync")]
use driver::Driver;
#[cfg(feature = "sync")]
pub use handle::JsSync;
#[cfg(all(feature = "client", feature = "sync"))]
pub(in crate::bindings) use link::start;
