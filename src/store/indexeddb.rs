//! [`IndexedDbStore`]: the event store over the browser's IndexedDB (wasm32 only).
//!
//! ## Layout (schema version [`SCHEMA_VERSION`])
//! - `events`: key `position` (assigned by the store, 1, 2, ...); unique index
//!   `by_stream` on `[stream, version]`; unique index `by_id` on `id`. Records have
//!   exactly the public event shape `{position, id, stream, version, type, data, meta,
//!   recordedAt, schema}`, so reads hand IndexedDB's own result arrays to JS unchanged.
//! - `streams`: key `stream`; `{stream, version, lastPosition}`: O(1) head checks.
//! - `meta`: out-of-line keys; `"head"` -> `{position}`, the last global position.
//! - `outbox`, `dead_letters`, `conflicts` (schema 3): the sync side (`sync.rs`); a
//!   stream's pending events are those past its `syncedVersion` (a field of its
//!   `streams` record), so an append and its outbox entry land in one transaction.
//! - `snapshots` (schema 2): key `name`; `{name, state, position, version, savedAt}`,
//!   the replay engine's projection snapshots (see `snapshots.rs`).
//!
//! ## One transaction per append
//! An append is a single readwrite transaction over `events`, `streams` and `meta`: read
//! the stream head and the global head, check the expected version, `add` every record,
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

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use super::{
    check_batch_ids, resolve_retry, Direction, Environment, EventStore, Metrics, ReadOptions,
    StoredAt, StreamInfo, SystemEnvironment,
};
use crate::error::{Error, Result};
use crate::event::{
    AppendResult, Event, EventId, EventType, ExpectedVersion, IdGenerator, NewEvent, Position,
    StreamId, Version,
};

/// The database schema version this build writes. Older databases are upgraded in
/// [`upgrade`], step by step, without losing data.
pub const SCHEMA_VERSION: u32 = 3;

const EVENTS: &str = "events";
const STREAMS: &str = "streams";
const META: &str = "meta";
const BY_STREAM: &str = "by_stream";
const BY_ID: &str = "by_id";
const HEAD_KEY: &str = "head";
/// Field of a `streams` record: the prefix of the stream the server confirmed.
const SYNCED_VERSION: &str = "syncedVersion";

mod snapshots;
pub mod sync;

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
    fn as_str(self) -> Option<&'static str> {
        match self {
            Durability::Default => None,
            Durability::Relaxed => Some("relaxed"),
            Durability::Strict => Some("strict"),
        }
    }
}

/// A checked batch of events as JS objects `{ type, data, meta, schema }` (the caller
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
    ids: RefCell<IdGenerator>,
    metrics: RefCell<Metrics>,
    env: SystemEnvironment,
    _on_version_change: Closure<dyn FnMut()>,
}

impl std::fmt::Debug for IndexedDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbStore").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Turns a caught JS exception into a typed error, keeping a `DOMException`'s name and
/// message.
pub(crate) fn js_error(value: JsValue) -> Error {
    if let Some(dom) = value.dyn_ref::<DomException>() {
        return dom_error(dom);
    }
    let name = Reflect::get(&value, &"name".into()).ok().and_then(|v| v.as_string());
    let message = Reflect::get(&value, &"message".into()).ok().and_then(|v| v.as_string());
    match (name, message) {
        (Some(name), Some(message)) => Error::storage(name, message),
        _ => Error::storage("Error", format!("{value:?}")),
    }
}

fn dom_error(dom: &DomException) -> Error {
    let (name, message) = (dom.name(), dom.message());
    if name == "QuotaExceededError" {
        Error::QuotaExceeded { message }
    } else {
        Error::storage(name, message)
    }
}

fn idb_factory() -> Result<IdbFactory> {
    Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| {
            Error::storage(
                "NotSupportedError",
                "IndexedDB is not available in this host; use the memory store",
            )
        })
}

/// A future for one request. Must be created right after the request, before anything
/// is awaited, so its handlers are in place when the request settles.
fn settle(request: &IdbRequest) -> JsFuture {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise)
}

async fn result_of(request: IdbRequest, pending: JsFuture) -> Result<JsValue> {
    match pending.await {
        Ok(_) => request.result().map_err(js_error),
        Err(_) => Err(request
            .error()
            .ok()
            .flatten()
            .map_or_else(|| Error::storage("UnknownError", "request failed"), |d| dom_error(&d))),
    }
}

/// Issues a request and returns a future of its result.
fn request(made: std::result::Result<IdbRequest, JsValue>) -> Result<impl std::future::Future<Output = Result<JsValue>>> {
    let request = made.map_err(js_error)?;
    let pending = settle(&request);
    Ok(result_of(request, pending))
}

/// One open transaction and the future of its end.
struct Transaction {
    tx: IdbTransaction,
    done: JsFuture,
}

impl Transaction {
    fn store(&self, name: &str) -> Result<IdbObjectStore> {
        self.tx.object_store(name).map_err(js_error)
    }

    /// Waits for `complete`; an abort becomes the transaction's error.
    async fn commit(self) -> Result<()> {
        match self.done.await {
            Ok(_) => Ok(()),
            Err(_) => Err(self.tx.error().map_or_else(
                || Error::storage("AbortError", "the transaction was aborted"),
                |d| dom_error(&d),
            )),
        }
    }

    /// Aborts (nothing of this transaction is written).
    fn abort(self) {
        let _ = self.tx.abort();
    }
}

impl IndexedDbStore {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str, durability: Durability) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        let factory = idb_factory()?;
        let open: IdbOpenDbRequest = factory.open_with_u32(name, SCHEMA_VERSION).map_err(js_error)?;
        let upgrade_error: Rc<RefCell<Option<Error>>> = Rc::default();
        let on_upgrade = {
            let open = open.clone();
            let upgrade_error = upgrade_error.clone();
            Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
                move |event: web_sys::IdbVersionChangeEvent| {
                    let old = event.old_version() as u32;
                    let step = || -> Result<()> {
                        let db: IdbDatabase = open.result().map_err(js_error)?.unchecked_into();
                        upgrade(&db, old)
                    };
                    if let Err(e) = step() {
                        *upgrade_error.borrow_mut() = Some(e);
                        if let Some(tx) = open.transaction() {
                            let _ = tx.abort();
                        }
                    }
                },
            )
        };
        open.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let pending = settle(&open);
        let opened = result_of(open.clone().unchecked_into(), pending).await;
        open.set_onupgradeneeded(None);
        drop(on_upgrade);
        if let Some(e) = upgrade_error.borrow_mut().take() {
            return Err(e);
        }
        let db: IdbDatabase = opened?.unchecked_into();

        // Another tab upgrading or deleting the database: step aside (close), so it is
        // not blocked, and report ClosedError from then on.
        let closed = Rc::new(Cell::new(false));
        let on_version_change = {
            let db = db.clone();
            let closed = closed.clone();
            Closure::<dyn FnMut()>::new(move || {
                closed.set(true);
                db.close();
            })
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Ok(IndexedDbStore {
            db,
            name: name.to_string(),
            durability,
            closed,
            ids: RefCell::new(IdGenerator::new()),
            metrics: RefCell::default(),
            env: SystemEnvironment,
            _on_version_change: on_version_change,
        })
    }

    /// Deletes the database `name` (all its events). Waits until it is gone.
    pub async fn delete(name: &str) -> Result<()> {
        let factory = idb_factory()?;
        let request = factory.delete_database(name).map_err(js_error)?;
        let pending = settle(&request);
        result_of(request.unchecked_into(), pending).await.map(drop)
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the store was closed (by `close()` or by another tab's upgrade).
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn begin(&self, stores: &[&str], write: bool) -> Result<Transaction> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let mode = if write { IdbTransactionMode::Readwrite } else { IdbTransactionMode::Readonly };
        let tx = match (write, self.durability.as_str()) {
            (true, Some(durability)) => {
                // `transaction(names, mode, { durability })`, called dynamically: the
                // typed binding needs web-sys's unstable-API cfg.
                let options = Object::new();
                Reflect::set(&options, &"durability".into(), &durability.into()).map_err(js_error)?;
                let method: Function = Reflect::get(&self.db, &"transaction".into())
                    .map_err(js_error)?
                    .unchecked_into();
                method
                    .call3(&self.db, &names, &"readwrite".into(), &options)
                    .map_err(|e| self.closed_or(e))?
                    .unchecked_into()
            }
            _ => self
                .db
                .transaction_with_str_sequence_and_mode(&names, mode)
                .map_err(|e| self.closed_or(e))?,
        };
        let done = JsFuture::from(Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onabort(Some(&reject));
        }));
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

    /// Appends JS-valued events (the [`EventStore::append`] path for Rust callers);
    /// `bytes` is the caller's payload size estimate (for metrics and the outbox).
    pub async fn append_events(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent<JsValue>>,
        bytes: u64,
    ) -> Result<AppendResult> {
        let list = Array::new();
        let mut ids = Vec::with_capacity(events.len());
        for event in events {
            let js = Object::new();
            set(&js, "type", &event.event_type.as_str().into())?;
            set(&js, "data", &event.data)?;
            set(&js, "meta", event.meta.as_ref().unwrap_or(&JsValue::NULL))?;
            set(&js, "schema", &event.schema.into())?;
            list.push(&js);
            ids.push(event.id);
        }
        self.append_batch(stream, expected, JsBatch { events: list, ids }, bytes).await
    }

    /// Appends a checked batch in one readwrite transaction: reads the stream head and
    /// the log head, checks the expected version, adds every record (built and added by
    /// one JS call, `addRecords`), writes both heads. All or nothing.
    pub async fn append_batch(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        batch: JsBatch,
        bytes: u64,
    ) -> Result<AppendResult> {
        let JsBatch { events, ids } = batch;
        check_batch_ids(&mut ids.iter().map(Option::as_ref), ids.len())?;
        if events.length() as usize != ids.len() {
            return Err(Error::invalid("events", "the batch and its ids differ in length"));
        }
        let tx = self.begin(&[EVENTS, STREAMS, META], true)?;
        let (events_store, streams_store, meta_store) =
            (tx.store(EVENTS)?, tx.store(STREAMS)?, tx.store(META)?);
        let stream_key = JsValue::from_str(stream.as_str());
        let head = request(streams_store.get(&stream_key))?;
        let global = request(meta_store.get(&HEAD_KEY.into()))?;
        let head_record = head.await?;
        let head = version_field(&head_record, "version")?;
        // The synced prefix is kept as it is: the new events are pending (in the outbox)
        // by being past it, written in this same transaction.
        let synced = synced_version_field(&head_record)?;
        let pending_bytes = sync::pending_bytes_field(&head_record);
        let global = version_field(&global.await?, "position")?;
        let (head, global) = (Version(head), Position(global));

        if !expected.accepts(head) {
            // A retry of a stored batch answers with the original result, even though
            // the stream has moved on.
            if ids.iter().any(Option::is_some) {
                let found = self.lookup_ids(&tx, &ids).await?;
                if let Some(original) = resolve_retry(stream, &ids, &found)? {
                    tx.abort();
                    self.metrics.borrow_mut().idempotent_appends += 1;
                    return Ok(original);
                }
            }
            tx.abort();
            self.metrics.borrow_mut().conflicts += 1;
            return Err(Error::VersionConflict { stream: stream.clone(), expected, actual: head });
        }

        let count = ids.len() as u64;
        let result = AppendResult {
            stream: stream.clone(),
            first_version: head.next()?,
            last_version: head.plus(count)?,
            first_position: global.next()?,
            last_position: global.plus(count)?,
        };
        let now = self.env.now_ms();
        // Ids the caller did not give: UUIDv7 from one draw of random bytes per batch.
        let missing = ids.iter().filter(|id| id.is_none()).count();
        let mut random = vec![0u8; missing * 10];
        super::fill_random(&mut random);
        let mut random = random.chunks_exact(10);
        let mut generator = self.ids.borrow_mut();
        let ids: Vec<Option<EventId>> = ids
            .into_iter()
            .map(|id| {
                Some(id.unwrap_or_else(|| {
                    let mut bytes = [0u8; 10];
                    if let Some(chunk) = random.next() {
                        bytes.copy_from_slice(chunk);
                    }
                    generator.next_id(now, bytes)
                }))
            })
            .collect();
        drop(generator);
        let id_list: Array = ids.iter().map(|id| JsValue::from_str(id.as_ref().map_or("", EventId::as_str))).collect();
        let refused = crate::bindings::js::add_records(
            &events_store,
            &events,
            &id_list,
            stream.as_str(),
            result.first_version.as_f64(),
            result.first_position.as_f64(),
            now as f64,
        );
        if !refused.is_null() && !refused.is_undefined() {
            tx.abort();
            // As a whole number: float formatting would pull ~15 KB into the wasm.
            let index = Reflect::get(&refused, &"index".into()).ok().and_then(|i| i.as_f64()).unwrap_or(0.0) as u64;
            let error = Reflect::get(&refused, &"error".into()).unwrap_or(JsValue::UNDEFINED);
            return Err(match js_error(error) {
                Error::Storage { name, message } if name == "DataCloneError" => {
                    Error::invalid(format!("events[{index}].data"), format!("cannot be stored: {message}"))
                }
                other => other,
            });
        }
        let head_record = Object::new();
        set(&head_record, "stream", &stream_key)?;
        set(&head_record, "version", &result.last_version.as_f64().into())?;
        set(&head_record, "lastPosition", &result.last_position.as_f64().into())?;
        set(&head_record, SYNCED_VERSION, &(synced as f64).into())?;
        set(&head_record, sync::PENDING_BYTES, &(pending_bytes + bytes as f64).into())?;
        streams_store.put(&head_record).map_err(js_error)?;
        let global_record = Object::new();
        set(&global_record, "position", &result.last_position.as_f64().into())?;
        meta_store.put_with_key(&global_record, &HEAD_KEY.into()).map_err(js_error)?;

        match tx.commit().await {
            Ok(()) => {
                let mut metrics = self.metrics.borrow_mut();
                metrics.appends += 1;
                metrics.events_written += count;
                metrics.bytes_written += bytes;
                Ok(result)
            }
            Err(Error::Storage { name, message }) if name == "ConstraintError" => {
                // A stored id: an idempotent retry, or a mistake that resolve_retry names.
                let tx = self.begin(&[EVENTS], false)?;
                let found = self.lookup_ids(&tx, &ids).await?;
                match resolve_retry(stream, &ids, &found)? {
                    Some(original) => {
                        self.metrics.borrow_mut().idempotent_appends += 1;
                        Ok(original)
                    }
                    None => Err(Error::storage(name, message)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Where each id is stored, if anywhere; all lookups are issued before any is awaited.
    async fn lookup_ids(&self, tx: &Transaction, ids: &[Option<EventId>]) -> Result<Vec<Option<StoredAt>>> {
        let index = tx.store(EVENTS)?.index(BY_ID).map_err(js_error)?;
        let mut pending = Vec::with_capacity(ids.len());
        for id in ids {
            pending.push(match id {
                Some(id) => Some(request(index.get(&JsValue::from_str(id.as_str())))?),
                None => None,
            });
        }
        let mut found = Vec::with_capacity(ids.len());
        for lookup in pending {
            found.push(match lookup {
                Some(lookup) => {
                    let record = lookup.await?;
                    if record.is_undefined() {
                        None
                    } else {
                        let event = record_to_event(&record)?;
                        Some(StoredAt { stream: event.stream, version: event.version, position: event.position })
                    }
                }
                None => None,
            });
        }
        Ok(found)
    }

    /// Reads one stream as IndexedDB's own array of event records (the public JS shape),
    /// in the requested direction. No per-event conversion.
    pub async fn read_records(&self, stream: &StreamId, options: ReadOptions) -> Result<Array> {
        let stream_key = JsValue::from_str(stream.as_str());
        // Versions are dense (1..=head), so a forward read is one range query that needs
        // no head lookup: a range past the head simply returns fewer records. A backward
        // read must know where the stream ends.
        let (tx, head) = if options.direction == Direction::Forward {
            (self.begin(&[EVENTS], false)?, Version(crate::event::MAX_SAFE_INTEGER))
        } else {
            let tx = self.begin(&[EVENTS, STREAMS], false)?;
            let head = request(tx.store(STREAMS)?.get(&stream_key))?;
            let head = Version(version_field(&head.await?, "version")?);
            (tx, head)
        };
        self.count_read(0);
        let Some((low, high)) = options.version_range(head) else {
            return Ok(Array::new());
        };
        let range = IdbKeyRange::bound(
            &Array::of2(&stream_key, &low.as_f64().into()),
            &Array::of2(&stream_key, &high.as_f64().into()),
        )
        .map_err(js_error)?;
        let index = tx.store(EVENTS)?.index(BY_STREAM).map_err(js_error)?;
        let records: Array = request(index.get_all_with_key(&range))?.await?.unchecked_into();
        if options.direction == Direction::Backward {
            records.reverse();
        }
        self.count_read(records.length());
        Ok(records)
    }

    /// Reads the global log from `from` (inclusive) as an array of event records.
    pub async fn read_all_records(&self, from: Position, limit: usize) -> Result<Array> {
        let tx = self.begin(&[EVENTS], false)?;
        self.count_read(0);
        if limit == 0 {
            return Ok(Array::new());
        }
        let range = IdbKeyRange::lower_bound(&from.0.max(1).as_f64_js()).map_err(js_error)?;
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let records: Array = request(tx.store(EVENTS)?.get_all_with_key_and_limit(&range, limit))?
            .await?
            .unchecked_into();
        self.count_read(records.length());
        Ok(records)
    }

    /// Lists the stream head records `{stream, version, lastPosition, syncedVersion}`.
    pub async fn stream_records(&self) -> Result<Array> {
        let tx = self.begin(&[STREAMS], false)?;
        self.count_read(0);
        let records: Array = request(tx.store(STREAMS)?.get_all())?.await?.unchecked_into();
        // The public shape only (the stored heads also carry sync bookkeeping); records
        // written before schema 3 have no syncedVersion: nothing of them is synced.
        records
            .iter()
            .map(|record| {
                let out = Object::new();
                set(&out, "stream", &Reflect::get(&record, &"stream".into()).map_err(js_error)?)?;
                set(&out, "version", &Reflect::get(&record, &"version".into()).map_err(js_error)?)?;
                set(&out, "lastPosition", &Reflect::get(&record, &"lastPosition".into()).map_err(js_error)?)?;
                set(&out, SYNCED_VERSION, &(synced_version_field(&record)? as f64).into())?;
                Ok(JsValue::from(out))
            })
            .collect()
    }

    /// The last global position written (0 for an empty log).
    pub async fn head_position(&self) -> Result<Position> {
        let tx = self.begin(&[META], false)?;
        let head = request(tx.store(META)?.get(&HEAD_KEY.into()))?;
        Ok(Position(version_field(&head.await?, "position")?))
    }

    fn count_read(&self, events: u32) {
        let mut metrics = self.metrics.borrow_mut();
        if events == 0 {
            metrics.reads += 1;
        }
        metrics.events_read += u64::from(events);
    }
}

trait AsF64Js {
    fn as_f64_js(self) -> JsValue;
}
impl AsF64Js for u64 {
    fn as_f64_js(self) -> JsValue {
        JsValue::from_f64(self as f64)
    }
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(target, &JsValue::from_str(key), value).map(drop).map_err(js_error)
}

/// Builds the stored (and public) record of one event, in one call to JS (`makeRecord`:
/// an object literal, so every record has the same shape).
#[allow(clippy::too_many_arguments)]
pub(crate) fn event_record(
    id: &EventId,
    stream: &JsValue,
    version: Version,
    position: Position,
    event_type: &EventType,
    data: &JsValue,
    meta: Option<&JsValue>,
    recorded_at: &JsValue,
    schema: u32,
) -> Result<Object> {
    Ok(crate::bindings::js::make_record(
        position.as_f64(),
        id.as_str(),
        stream,
        version.as_f64(),
        event_type.as_str(),
        data,
        meta.unwrap_or(&JsValue::NULL),
        recorded_at,
        schema,
    ))
}

/// Reads a numeric field of a record that may be absent (`undefined` record: 0).
fn version_field(record: &JsValue, field: &str) -> Result<u64> {
    if record.is_undefined() || record.is_null() {
        return Ok(0);
    }
    let value = Reflect::get(record, &field.into()).map_err(js_error)?;
    value
        .as_f64()
        .and_then(|v| Version::from_f64(v).ok())
        .map(|v| v.0)
        .ok_or_else(|| Error::storage("DataError", format!("stored record has no valid {field}")))
}

/// A stream record's `syncedVersion`; records written before schema 3 have none (0).
fn synced_version_field(record: &JsValue) -> Result<u64> {
    let present = !record.is_undefined()
        && !record.is_null()
        && Reflect::get(record, &SYNCED_VERSION.into()).is_ok_and(|v| !v.is_undefined());
    if present {
        version_field(record, SYNCED_VERSION)
    } else {
        Ok(0)
    }
}

fn string_field(record: &JsValue, field: &str) -> Result<String> {
    Reflect::get(record, &field.into())
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| Error::storage("DataError", format!("stored event has no {field}")))
}

/// Converts a stored record into a typed event (for Rust callers; JS gets the records).
pub fn record_to_event(record: &JsValue) -> Result<Event<JsValue>> {
    let corrupt = |e: Error| Error::storage("DataError", format!("stored event is malformed: {e}"));
    let meta = Reflect::get(record, &"meta".into()).map_err(js_error)?;
    let recorded_at = Reflect::get(record, &"recordedAt".into())
        .map_err(js_error)?
        .as_f64()
        .unwrap_or(0.0);
    Ok(Event {
        id: EventId::new(string_field(record, "id")?).map_err(corrupt)?,
        stream: StreamId::new(string_field(record, "stream")?).map_err(corrupt)?,
        version: Version(version_field(record, "version")?),
        position: Position(version_field(record, "position")?),
        event_type: EventType::new(string_field(record, "type")?).map_err(corrupt)?,
        data: Reflect::get(record, &"data".into()).map_err(js_error)?,
        meta: if meta.is_null() || meta.is_undefined() { None } else { Some(meta) },
        recorded_at: recorded_at.max(0.0) as u64,
        schema: version_field(record, "schema")?.try_into().unwrap_or(u32::MAX),
    })
}

fn records_to_events(records: &Array) -> Result<Vec<Event<JsValue>>> {
    records.iter().map(|r| record_to_event(&r)).collect()
}

/// Creates or upgrades the schema from `old_version` to [`SCHEMA_VERSION`], one step at a
/// time. Runs inside the `versionchange` transaction: all steps land or none.
fn upgrade(db: &IdbDatabase, old_version: u32) -> Result<()> {
    if old_version < 1 {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"position".into());
        let events = db.create_object_store_with_optional_parameters(EVENTS, &params).map_err(js_error)?;
        let unique = IdbIndexParameters::new();
        unique.set_unique(true);
        let stream_version: Array = ["stream", "version"].iter().map(|s| JsValue::from_str(s)).collect();
        events
            .create_index_with_str_sequence_and_optional_parameters(BY_STREAM, &stream_version, &unique)
            .map_err(js_error)?;
        events.create_index_with_str_and_optional_parameters(BY_ID, "id", &unique).map_err(js_error)?;
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"stream".into());
        db.create_object_store_with_optional_parameters(STREAMS, &params).map_err(js_error)?;
        db.create_object_store(META).map_err(js_error)?;
    }
    if old_version < 2 {
        snapshots::create_store(db)?;
    }
    if old_version < 3 {
        sync::create_stores(db)?;
    }
    Ok(())
}

impl EventStore for IndexedDbStore {
    type Payload = JsValue;

    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent<JsValue>>,
    ) -> Result<AppendResult> {
        self.append_events(stream, expected, events, 0).await
    }

    async fn read(&self, stream: &StreamId, options: ReadOptions) -> Result<Vec<Event<JsValue>>> {
        records_to_events(&self.read_records(stream, options).await?)
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<JsValue>>> {
        records_to_events(&self.read_all_records(from, limit).await?)
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

    fn metrics(&self) -> Metrics {
        *self.metrics.borrow()
    }

    fn close(&self) {
        self.closed.set(true);
        self.db.close();
    }
}
