//! The platform layer (wasm32 only): tidelog's adapters to the hosts it runs in
//! (browsers, web and service workers, Node, edge workers), below the JS API in
//! `bindings` and beside the pure core. It implements the core's ports
//! ([`EventStore`](crate::store::EventStore), [`SyncLocal`](crate::sync::SyncLocal),
//! [`Transport`](crate::sync::Transport), [`Kv`](crate::server::Kv),
//! [`SqlSpace`](crate::server::SqlSpace)) over host APIs, and
//! knows nothing of the JS API built on top of it.
//!
//! | module | what lives there |
//! |---|---|
//! | [`glue`] | the typed `extern` declarations of tidelog's own JS modules, and the one `get`/`set` pair |
//! | [`convert`] | every JS <-> Rust conversion: caught exceptions -> [`Error`](crate::Error), records, wire and push events, outbox entries, failures |
//! | `idb` | IndexedDB request plumbing: a future per request, transactions |
//! | [`indexeddb`] | [`IndexedDbStore`](indexeddb::IndexedDbStore): the event store, its sync side and projection snapshots over IndexedDB |
//! | [`fetch`] | [`FetchTransport`](fetch::FetchTransport): the sync protocol over the host's `fetch` |
//! | [`host`] | typed access to the host's globals: timers, `navigator.onLine`, page visibility and its events, Web Locks, Background Sync |
//! | `node_fs` | `NodeFileSystem`: the file store's disk calls over `node:fs`, for Node, Deno and Bun (feature `file`) |
//! | `do_storage` | `DurableObjectKv`: the sync server's key-value primitives over Durable Object storage (feature `server`) |
//! | `do_sql` | `DurableObjectSql`: the sync server's SQL queries over a SQLite-backed Durable Object's `ctx.storage.sql` (feature `server`) |
//! | `space_store` | `HostSpaceStore`: the sync server's `ServerStore` implemented by a JS object (PostgreSQL, the file log; feature `server`) |

pub mod convert;
#[cfg(feature = "server")]
pub mod do_sql;
#[cfg(feature = "server")]
pub mod do_storage;
#[cfg(feature = "sync")]
pub mod fetch;
pub mod glue;
#[cfg(feature = "sync")]
pub mod host;
#[cfg(any(feature = "client", feature = "sync"))]
mod idb;
#[cfg(any(feature = "client", feature = "sync"))]
pub mod indexeddb;
#[cfg(feature = "file")]
pub mod node_fs;
#[cfg(feature = "server")]
pub mod space_store;

#[cfg(feature = "client")]
pub use idb::has_indexeddb;
