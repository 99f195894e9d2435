//! [`IndexedDbStore`]: the event store over the browser's IndexedDB (wasm32 only).
//!
//! - `schema.rs`: the schema version (the database is opened and upgraded step by step
//!   by `js/idb.js`'s `openDatabase` and `upgradeSchema`);
//! - `append.rs`: one readwrite transaction per batch;
//! - `read.rs`: stream, log and head reads (IndexedDB's own arrays, no conversion);
//! - `query.rs`: query reads and append conditions over the tag and type indexes;
//! - `outbox.rs`: the sync side ([`SyncLocal`](crate::sync::SyncLocal));
//! - `snapshots.rs`: projection snapshots;
//! - `retention.rs`: compaction (the open option `retain`) and the floor reads check.
//!
//! ## Layout (schema version [`SCHEMA_VERSION`])
//! - `events`: key `position` (assigned by the store, 1, 2, ...); unique index
//!   `by_stream` on `[stream, version]`; unique index `by_id` on `id`; (schema 4)
//!   multiEntry index `by_tag` on `tags` and index `by_type` on `type`, for query reads
//!   and append conditions (`query.rs`). Records have exactly the public event shape
//!   `{position, id, stream, version, type, tags, data, meta, recordedAt, schema}` (events
//!   written before schema 4 have no `tags`), so reads hand IndexedDB's own result arrays
//!   to JS unchanged.
//! - `streams`: key `stream`; `{stream, version, lastPosition}`: O(1) head checks.
//! - `meta`: out-of-line keys; `"head"` -> `{position}`, the last global position;
//!   `"floor"` -> `{position}`, retention's floor: the events below it were dropped
//!   (absent: nothing was). Stream heads stay in `streams`, so versions do not change.
//! - `outbox`, `dead_letters`, `conflicts` (schema 3): the sync side (`outbox.rs`); a
//!   stream's pending events are those past its `syncedVersion` (a field of its
//!   `streams` record), so an append and its outbox entry land in one transaction.
//!   `deleteStore` counts events the server lacks from these stores in JS
//!   (`unsyncedCount` in `js/util.js`): a change here changes it too.
//! - `snapshots` (schema 2): key `name`; `{name, state, position, version, moves, savedAt}`,
//!   the replay engine's projection snapshots (see `snapshots.rs`).
//!
//! ## One transaction per append
//! An append is a single readwrite transaction over `events`, `streams` and `meta`: read
//! the stream head and the global head, check the expected version and the append
//! condition (its matching events are read in the same transaction), `add` every record,
//! write both heads, then wait for `complete`. IndexedDB serializes readwrite
//! transactions with overlapping scopes across every connection of the origin (tabs,
//! workers), so the check and the write cannot interleave with another writer's: the
//! concurrency guarantee lives inside the database, not in this tab's memory. Nothing
//! but IndexedDB requests is awaited while the transaction is open (it would
//! auto-commit).
//!
//! Idempotency costs nothing on the happy path: the unique `by_id` index refuses a
//! stored id, the transaction aborts with `ConstraintError`, and only then are the ids
//! looked up to return the original result.
//!
//! ## Why web-sys and not rexie
//! rexie (and the idb crate below it) was the first choice of the design brief. The store
//! talks to IndexedDB through web-sys directly because it needs three things rexie does
//! not offer: the transaction `durability` option, the `DOMException` name and message of
//! a failure (rexie's error loses them, and `QuotaExceededError` must stay
//! distinguishable), and issuing a whole batch of requests without awaiting each one.
//! The browser tests still open the database with rexie to show it is plain IndexedDB.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbVersionChangeEvent};

use crate::env::SystemEnvironment;
use crate::error::{Error, Result};
use crate::event::{
    AppendResult, Event, EventId, ExpectedVersion, IdGenerator, NewEvent, Position, StreamId,
    Version,
};
use crate::query::{AppendCondition, Query, QueryOptions};
use crate::store::{EventStore, Metrics, ReadOptions, StreamInfo};
use crate::web::convert::{
    js_error, records_to_events, string_field, synced_version_field, version_field,
};
use crate::web::glue;
use crate::web::idb::{idb_factory, request, Transaction};

mod append;
mod conditions;
pub mod outbox;
mod query;
mod read;
mod retention;
mod schema;
mod snapshots;

pub use schema::SCHEMA_VERSION;

pub(crate) const EVENTS: &str = "events";
pub(crate) const STREAMS: &str = "streams";
pub(crate) const META: &str = "meta";
pub(crate) const BY_STREAM: &str = "by_stream";
pub(crate) const BY_ID: &str = "by_id";
pub(crate) const HEAD_KEY: &str = "head";
/// Field of a `streams` record: the prefix of the stream the server confirmed.
pub(crate) const SYNCED_VERSION: &str = "syncedVersion";

/// How hard a readwrite transaction's `complete` promises the data is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// The browser's default (relaxed in Chromium and Firefox today).
    #[default]
    Default,
    /// `complete` fires before the OS has flushed: fastest.
    Relaxed,
    /// `complete` fires only after the data is flushed to disk: survives power loss.
    Strict,
}

impl Durability {
    /// The open option's value: `"default"`, `"relaxed"` or `"strict"`.
    pub fn parse(name: &str) -> Option<Durability> {
        match name {
            "default" => Some(Durability::Default),
            "relaxed" => Some(Durability::Relaxed),
            "strict" => Some(Durability::Strict),
            _ => None,
        }
    }

    /// The open option's value of this durability (see [`parse`](Self::parse)).
    pub fn name(self) -> &'static str {
        self.as_str().unwrap_or("default")
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            Durability::Default => None,
            Durability::Relaxed => Some("relaxed"),
            Durability::Strict => Some("strict"),
        }
    }
}

/// A checked batch of events as JS objects `{ type, tags, data, meta, schema }` (the caller
/// validated them), with their ids (`None`: the store makes a UUIDv7).
pub struct JsBatch {
    /// The events.
    pub events: Array,
    /// Their ids, in order.
    pub ids: Vec<Option<EventId>>,
}

/// An [`EventStore`] over one IndexedDB database. Payloads are JS values, stored by
/// structured clone.
pub struct IndexedDbStore {
    db: IdbDatabase,
    name: String,
    durability: Durability,
    /// Set by `close()` and by another tab's upgrade or deletion (`versionchange`).
    closed: Rc<Cell<bool>>,
    /// Called once when a `versionchange` closes the connection (see
    /// [`on_version_change`](Self::on_version_change)).
    on_closed: VersionChangeHook,
    /// This open created the database: it did not exist (a new device, or the browser
    /// evicted it, or the user deleted it).
    created: bool,
    ids: RefCell<IdGenerator>,
    metrics: RefCell<Metrics>,
    /// A read saw retention's floor above 1 (events were dropped; the floor never moves
    /// back): stream reads then ask for their bounds before their page.
    cut: Cell<bool>,
    env: SystemEnvironment,
    _on_version_change: Closure<dyn FnMut(JsValue)>,
}

/// What a `versionchange` that closed the connection calls: `true` when the database is
/// being deleted (the event's `newVersion` is `null`), `false` for an upgrade.
type VersionChangeHook = Rc<Cell<Option<Box<dyn FnOnce(bool)>>>>;

/// How long `deleteStore` waits for the database to be deleted (from the request) before
/// it rejects with a `StorageError` named `"Blocked"`: a connection that is not tidelog's
/// keeps it open (the browser deletes it once that connection closes).
pub const DELETE_BLOCKED_MS: u32 = 5_000;

impl std::fmt::Debug for IndexedDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbStore").field("name", &self.name).finish_non_exhaustive()
    }
}

impl IndexedDbStore {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str, durability: Durability) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        // The request, its upgrade steps and their abort are `js/idb.js`'s `openDatabase`.
        let opened = glue::open_database(&idb_factory()?, name, SCHEMA_VERSION);
        let opened: Array = JsFuture::from(opened).await.map_err(js_error)?.unchecked_into();
        let db: IdbDatabase = opened.get(0).unchecked_into();
        let created = opened.get(1).is_truthy();

        // Another tab (or this one) upgrading or deleting the database: step aside (close),
        // so it is not blocked, report ClosedError from then on, and tell the owner.
        let closed = Rc::new(Cell::new(false));
        let on_closed: VersionChangeHook = Rc::default();
        let on_version_change = {
            let db = db.clone();
            let closed = closed.clone();
            let on_closed = on_closed.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let event: IdbVersionChangeEvent = event.unchecked_into();
                closed.set(true);
                db.close();
                if let Some(hook) = on_closed.take() {
                    hook(event.new_version().is_none());
                }
            })
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Ok(IndexedDbStore {
            db,
            name: name.to_string(),
            durability,
            closed,
            on_closed,
            created,
            ids: RefCell::new(IdGenerator::new()),
            metrics: RefCell::default(),
            cut: Cell::new(false),
            env: SystemEnvironment,
            _on_version_change: on_version_change,
        })
    }

    /// Deletes the database `name` (all its events; none: nothing to do) and waits until
    /// it is gone: [`delete_store`](Self::delete_store) with `force`.
    pub async fn delete(name: &str) -> Result<()> {
        Self::delete_store(name, true).await
    }

    /// `EventStore.deleteStore` over IndexedDB (the requests are `js/util.js`'s
    /// `deleteStore`). Unless `force`, refuses with [`Error::UnsyncedEvents`] while the
    /// database holds events the server does not have: every stream's events past its
    /// `syncedVersion`, and the local events of quarantined conflicts and dead letters
    /// (taken out of the log), counted in the database itself, so other tabs' appends
    /// count; nothing is deleted or closed then. Otherwise deletes the database and
    /// waits until it is gone. Every tidelog connection to it closes itself on the
    /// `versionchange` this causes, and its owner hears of it
    /// ([`on_version_change`](Self::on_version_change)); a connection that is not
    /// tidelog's and stays open makes this fail with [`Error::Storage`] `"Blocked"` when
    /// the database is still there [`DELETE_BLOCKED_MS`] after the request (the browser
    /// deletes it once that connection closes). A database that does not exist is not
    /// created.
    ///
    /// The count and the delete are two steps: an append another tab commits between
    /// them is deleted too.
    pub async fn delete_store(name: &str, force: bool) -> Result<()> {
        idb_factory()?;
        let answer = glue::delete_store(name, force, DELETE_BLOCKED_MS);
        let pending = JsFuture::from(answer).await.map_err(js_error)?;
        match pending.as_f64() {
            Some(n) if n > 0.0 => Err(Error::UnsyncedEvents { pending_count: n as u64 }),
            _ => Ok(()),
        }
    }

    /// Calls `hook` once if a `versionchange` closes the connection: `hook(true)` when the
    /// database is being deleted (by `deleteStore` or any `deleteDatabase`, in any tab),
    /// `hook(false)` for another tab's schema upgrade.
    pub fn on_version_change(&self, hook: impl FnOnce(bool) + 'static) {
        self.on_closed.set(Some(Box::new(hook)));
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this open created the database (it did not exist before).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Whether the store was closed (by `close()` or by another tab's upgrade).
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn begin(&self, stores: &[&str], write: bool) -> Result<Transaction> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let durability = if write { self.durability.as_str() } else { None };
        let tx = glue::transaction(&self.db, &names, write, durability)
            .map_err(|e| self.closed_or(e))?;
        let done = JsFuture::from(glue::transaction_done(&tx));
        Ok(Transaction { tx, done })
    }

    /// `transaction()` on a connection the browser closed throws InvalidStateError.
    fn closed_or(&self, e: JsValue) -> Error {
        match js_error(e) {
            Error::Storage { name, .. } if name == "InvalidStateError" => {
                self.closed.set(true);
                Error::Closed
            }
            other => other,
        }
    }
}

impl EventStore for IndexedDbStore {
    type Payload = JsValue;

    async fn append_if(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<JsValue>>,
    ) -> Result<AppendResult> {
        self.append_events(stream, expected, condition, events, 0).await
    }

    async fn query(&self, query: &Query, options: QueryOptions) -> Result<Vec<Event<JsValue>>> {
        records_to_events(&self.query_records(query, options).await?)
    }

    async fn read(&self, stream: &StreamId, options: ReadOptions) -> Result<Vec<Event<JsValue>>> {
        records_to_events(&self.read_records(stream, options).await?)
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<JsValue>>> {
        records_to_events(&self.read_all_records(Some(from), limit).await?)
    }

    async fn version(&self, stream: &StreamId) -> Result<Version> {
        let tx = self.begin(&[STREAMS], false)?;
        self.count_read(0);
        let head = request(tx.store(STREAMS)?.get(&JsValue::from_str(stream.as_str())))?;
        Ok(Version(version_field(&head.await?, "version")?))
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>> {
        let records = self.stream_records().await?;
        let mut streams = records
            .iter()
            .map(|r| {
                Ok(StreamInfo {
                    stream: StreamId::new(string_field(&r, "stream")?)?,
                    version: Version(version_field(&r, "version")?),
                    last_position: Position(version_field(&r, "lastPosition")?),
                    synced_version: Version(synced_version_field(&r)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        streams.sort_by(|a, b| a.stream.cmp(&b.stream));
        Ok(streams)
    }

    async fn compact(
        &self,
        retention: &crate::store::Retention,
    ) -> Result<crate::store::Compacted> {
        self.compact_now(retention).await
    }

    async fn floor(&self) -> Result<Position> {
        let tx = self.begin(&[META], false)?;
        self.floor_in(&tx).await
    }

    fn metrics(&self) -> Metrics {
        *self.metrics.borrow()
    }

    fn close(&self) {
        self.closed.set(true);
        self.db.close();
    }
}
