//! The `EventStore` JS class: open, append, read, readAll, version, streams, subscribe,
//! metrics, close. What its objects share is in `shared.rs`, the dispatch over the two
//! backends in `backend.rs`, live subscriptions in `subscribe.rs`. Every async call of
//! the client (these methods, the replays, a projection's operations, the subscription
//! pump) runs in one future type, [`call`], which keeps the wasm small.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::backend::Backend;
use super::errors::{invalid, to_js};
use super::input;
use super::shared::{CloseReason, Shared, SyncHook, CLOSED_EVENT};
use super::subscribe::{self, Subscriptions};
#[cfg(feature = "file")]
use crate::error::Error;
use crate::event::Position;
use crate::protocol::MAX_EVENT_BYTES;
use crate::web::convert::{append_result_to_js, metrics_to_js};
use crate::web::glue;
use crate::web::indexeddb::{Durability, IndexedDbStore};

/// The largest `maxEventBytes` accepted (1 GiB).
const MAX_EVENT_BYTES_OPTION: u64 = 1 << 30;

/// An append-only event log: IndexedDB in browsers, memory elsewhere.
#[wasm_bindgen(js_name = EventStore)]
pub struct JsEventStore {
    pub(super) shared: Rc<Shared>,
    pub(super) name: String,
    /// `store.sync`, when opened with a `sync` option (the sync side made it once, so
    /// `store.sync === store.sync`).
    sync: Option<JsValue>,
    /// The answer of `navigator.storage.persist()` when opened with `persist: true`.
    persisted: js_sys::Promise,
}

/// An async call of `EventStore`. Every one runs in the same future type ([`call`]): one
/// promise adapter and one state machine in the wasm instead of one per method.
pub(super) enum Call {
    /// `EventStore.open(name, options)`.
    Open(JsValue, JsValue),
    /// `EventStore.deleteStore(name, options)`.
    DeleteStore(JsValue, JsValue),
    /// A call on an open store: its shared state, whether it syncs, the call.
    On(Rc<Shared>, bool, Op),
    /// A run of a store's subscription pump (`subscribe.rs`).
    Pump(Rc<Backend>, Rc<Subscriptions>),
    /// A projection's queued operation (`projection.rs`).
    Projection(Rc<super::projection::Inner>, super::projection::Task),
}

/// An async call on an open store.
pub(super) enum Op {
    /// `append(stream, events, options)`.
    Append(JsValue, JsValue, JsValue),
    /// `read(stream, options)`.
    Read(JsValue, JsValue),
    /// `readAll(options)`.
    ReadAll(JsValue),
    /// `query(query, options)`.
    Query(JsValue, JsValue),
    /// `version(stream)`.
    Version(JsValue),
    /// `streams()`.
    Streams,
    /// `compact()`.
    Compact,
    /// `replay`, `replayAll` (no stream), `replayReport`, `replayAllReport` (`true`:
    /// resolves to the report).
    Replay(Option<JsValue>, JsValue, bool),
    /// `execute(stream, command, options)`.
    Execute(JsValue, JsValue, JsValue),
}

/// `call` as a promise: resolves to what the method resolves to, rejects with its error.
pub(super) fn call(call: Call) -> Promise {
    future_to_promise(async move {
        let (shared, syncs, op) = match call {
            Call::Open(name, options) => return open(name, options).await,
            Call::DeleteStore(name, options) => {
                delete_store(name, options).await?;
                return Ok(JsValue::UNDEFINED);
            }
            Call::On(shared, syncs, op) => (shared, syncs, op),
            Call::Projection(inner, task) => return task.run(&inner).await,
            Call::Pump(backend, subs) => {
                subscribe::run(&backend, &subs).await;
                return Ok(JsValue::UNDEFINED);
            }
        };
        let records = match op {
            Op::Append(stream, events, options) => {
                return append(&shared, stream, events, options).await
            }
            Op::Read(stream, options) => {
                let stream = input::stream_id(&stream)?;
                let upcast = input::upcast_option(&options)?;
                let options = input::read_options(&options)?;
                let records = shared.backend.read(&stream, options).await?;
                super::upcast::upcast_records(&shared.replay.upcasters, upcast, records)?
            }
            Op::ReadAll(options) => {
                let upcast = input::upcast_option(&options)?;
                let (from, limit) = input::read_all_options(&options)?;
                let records = shared.backend.read_held(from, limit).await?;
                super::upcast::upcast_records(&shared.replay.upcasters, upcast, records)?
            }
            Op::Query(query, options) => {
                let query = input::query(&query, "query")?;
                let options = input::query_options(&options)?;
                shared.backend.query(&query, options).await?
            }
            Op::Version(stream) => {
                let stream = input::stream_id(&stream)?;
                return Ok(shared.backend.version(&stream).await?.as_f64().into());
            }
            Op::Streams => return Ok(shared.backend.streams().await?.into()),
            Op::Compact => {
                shared.check_open()?;
                let done = shared.compact().await?;
                let out = js_sys::Object::new();
                glue::set(&out, "dropped", (done.dropped as f64).into());
                glue::set(&out, "from", done.from.as_f64().into());
                return Ok(out.into());
            }
            Op::Replay(stream, options, report) => {
                return super::replay::replay(&shared, stream, options, report).await
            }
            Op::Execute(stream, command, options) => {
                return super::replay::execute(&shared, stream, command, options).await
            }
        };
        // In a store that syncs, each event's `pending` (not on the server yet).
        if syncs {
            if let Some(db) = shared.backend.indexeddb() {
                db.mark_pending(&records).await.map_err(|e| to_js(&e))?;
            }
        }
        Ok(records.into())
    })
}

/// `append`: checks the input, appends, wakes subscribers, other tabs and sync; resolves
/// to `{ stream, firstVersion, lastVersion, firstPosition, lastPosition }`.
pub(super) async fn append(
    shared: &Rc<Shared>,
    stream: JsValue,
    events: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let stream = input::stream_id(&stream)?;
    let options = input::options(&options, "options", "expectedVersion,condition")?;
    let expected = input::expected_version(input::get(options.as_ref(), "expectedVersion")?)?;
    let condition =
        input::get(options.as_ref(), "condition")?.map(|c| input::condition(&c)).transpose()?;
    let batch = input::events(&events, stream.as_str(), shared.max_event_bytes)?;
    let result = shared.backend.append(&stream, expected, condition.as_ref(), batch).await?;
    shared.notify_appended(result.last_position);
    Ok(append_result_to_js(&result))
}

impl JsEventStore {
    /// `op` on this store, as a promise ([`call`]).
    pub(super) fn call(&self, op: Op) -> Promise {
        call(Call::On(self.shared.clone(), self.sync.is_some(), op))
    }

    /// Another handle on the same open store (for objects that outlive a call, such as a
    /// projection).
    pub(super) fn share(&self) -> JsEventStore {
        JsEventStore {
            shared: self.shared.clone(),
            name: self.name.clone(),
            sync: self.sync.clone(),
            persisted: self.persisted.clone(),
        }
    }
}

/// Starts the sync side of `shared` (the store `name`; `option`: its `sync` open option):
/// in this wasm instance, or in the browser package in the sync wasm (`sync_side`, as
/// `open` loaded it with `load_sync_side`). Either way the two sides meet through JS
/// functions (see `bindings::sync`'s `link.rs`). Returns the hook the store calls and
/// `store.sync`.
async fn start_sync(
    shared: &Rc<Shared>,
    name: &str,
    option: &JsValue,
    durability: Durability,
    created: bool,
    #[cfg(not(feature = "sync"))] sync_side: Option<JsValue>,
) -> Result<(SyncHook, JsValue), JsValue> {
    let store = js_sys::Object::new();
    let weak = Rc::downgrade(shared);
    let changed = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(shared) = weak.upgrade() {
            shared.notify_changed();
        }
    });
    glue::set(&store, "changed", changed.into_js_value());
    if shared.retain.get().is_some() {
        let weak = Rc::downgrade(shared);
        // `compact()`'s call (the sync side awaits it and reads no result).
        let compact = Closure::<dyn FnMut() -> Promise>::new(move || match weak.upgrade() {
            Some(shared) => call(Call::On(shared, true, Op::Compact)),
            None => Promise::resolve(&JsValue::UNDEFINED),
        });
        glue::set(&store, "compact", compact.into_js_value());
    }
    if let Some(max) = shared.max_event_bytes {
        glue::set(&store, "maxEventBytes", (max as f64).into());
    }
    glue::set(&store, "durability", durability.name().into());
    glue::set(&store, "created", created.into());
    #[cfg(feature = "sync")]
    let answer = super::sync::start(name, option, &store).await?;
    #[cfg(not(feature = "sync"))]
    let answer = {
        let sync_side = match sync_side {
            Some(side) => side,
            None => load_sync_side(option).await?,
        };
        let start: Function = glue::get(&sync_side, "startSync").unchecked_into();
        let started = start.call3(&JsValue::UNDEFINED, &name.into(), option, &store)?;
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(started)).await?
    };
    let function = |key| glue::get(&answer, key).unchecked_into::<Function>();
    let hook = SyncHook { changed: function("changed"), close: function("close") };
    Ok((hook, glue::get(&answer, "sync")))
}

/// The browser package's sync wasm (`js/util.js`'s `loadSyncModule`), once its
/// `checkSync` passed `option`.
#[cfg(not(feature = "sync"))]
async fn load_sync_side(option: &JsValue) -> Result<JsValue, JsValue> {
    let side = wasm_bindgen_futures::JsFuture::from(glue::load_sync_module()).await?;
    let check: Function = glue::get(&side, "checkSync").unchecked_into();
    check.call1(&JsValue::UNDEFINED, option)?;
    Ok(side)
}

/// Checks a store name (`open`, `deleteStore`): 1 to 256 bytes.
fn store_name(name: &JsValue) -> Result<String, JsValue> {
    let name = input::string(name, "name")?;
    if name.is_empty() || name.len() > 256 {
        return Err(invalid("name", "must be 1 to 256 bytes long"));
    }
    Ok(name)
}

/// The option keys of `open` (`deleteStore` takes `force`, `storage` and `directory`).
#[cfg(not(feature = "file"))]
const OPEN_KEYS: &str = "storage,durability,sync,maxEventBytes,persist,retain";
#[cfg(feature = "file")]
const OPEN_KEYS: &str = "storage,durability,sync,maxEventBytes,persist,directory,retain";
#[cfg(not(feature = "file"))]
const DELETE_KEYS: &str = "force,storage";
#[cfg(feature = "file")]
const DELETE_KEYS: &str = "force,storage,directory";

/// `options.storage`: `None` (not given), `"auto"`, `"indexeddb"` or `"memory"` (in the
/// Node build also `"file"`).
fn storage_option(options: Option<&js_sys::Object>) -> Result<Option<String>, JsValue> {
    #[cfg(not(feature = "file"))]
    const KINDS: (&[&str], &str) =
        (&["auto", "indexeddb", "memory"], "must be \"auto\", \"indexeddb\" or \"memory\"");
    #[cfg(feature = "file")]
    const KINDS: (&[&str], &str) = (
        &["auto", "indexeddb", "memory", "file"],
        "must be \"auto\", \"indexeddb\", \"memory\" or \"file\"",
    );
    match input::get(options, "storage")?.map(|v| v.as_string()) {
        None => Ok(None),
        Some(Some(s)) if KINDS.0.contains(&s.as_str()) => Ok(Some(s)),
        Some(_) => Err(invalid("options.storage", KINDS.1)),
    }
}

/// Whether `storage` means IndexedDB (`None` or `"auto"`: where the host has it).
fn uses_indexeddb(storage: Option<&str>) -> bool {
    match storage {
        None | Some("auto") => crate::web::has_indexeddb(),
        Some(s) => s == "indexeddb",
    }
}

/// The file store's directory `<directory>/<name>`, when `options` ask for one
/// (`storage: "file"` with a `directory`).
#[cfg(feature = "file")]
fn file_dir(
    name: &str,
    options: Option<&js_sys::Object>,
    storage: Option<&str>,
) -> Result<Option<String>, JsValue> {
    let directory = input::get(options, "directory")?;
    if storage != Some("file") {
        if directory.is_some() {
            return Err(invalid("options.directory", "only goes with storage: \"file\""));
        }
        return Ok(None);
    }
    let Some(directory) = directory.and_then(|d| d.as_string()).filter(|d| !d.is_empty()) else {
        return Err(invalid(
            "options.directory",
            "storage \"file\" needs a directory: a non-empty path string",
        ));
    };
    let plain = !matches!(name, "." | "..")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !plain {
        return Err(invalid(
            "name",
            "names a directory with storage \"file\": only letters, digits, '.', '_' and '-' (not \".\" or \"..\")",
        ));
    }
    Ok(Some(format!("{}/{name}", directory.trim_end_matches('/'))))
}

/// `deleteStore` of the file store in `dir`: this process's handle on it first (the lock
/// would refuse it: unless `force`, refused while it holds events, then closed with
/// reason `"deleted"`), then the files ([`FileStore::delete`](crate::store::file::FileStore::delete)).
#[cfg(feature = "file")]
fn delete_file(dir: &str, force: bool) -> Result<(), JsValue> {
    let open = Shared::open_here(dir);
    if !force {
        let pending_count = open.iter().map(|s| s.backend.event_count()).sum();
        if pending_count > 0 {
            return Err(to_js(&Error::UnsyncedEvents { pending_count }));
        }
    }
    for store in &open {
        store.close(CloseReason::Deleted);
    }
    let fs = crate::web::node_fs::NodeFileSystem;
    crate::store::file::FileStore::delete(fs, dir, force || !open.is_empty()).map_err(|e| to_js(&e))
}

/// A memory store opened in the browser package's memory wasm, which this wasm (built
/// without the memory backend) loads once (`js/util.js`, `loadMemoryModule`): its
/// `EventStore.open(name, options)`, which checks the options again.
#[cfg(not(feature = "memory"))]
async fn open_in_memory_wasm(name: &str, options: &JsValue) -> Result<JsValue, JsValue> {
    use wasm_bindgen_futures::JsFuture;
    let open: Function = JsFuture::from(glue::load_memory_module()).await?.unchecked_into();
    let opened = open.call2(&JsValue::UNDEFINED, &name.into(), options)?;
    JsFuture::from(Promise::from(opened)).await
}

/// `EventStore.open` (see there): the store, or in the browser package a memory store of
/// the memory wasm.
async fn open(name: JsValue, raw_options: JsValue) -> Result<JsValue, JsValue> {
    let name = store_name(&name)?;
    let options = input::options(&raw_options, "options", OPEN_KEYS)?;
    let options = options.as_ref();
    let persist = input::flag(
        input::get(options, "persist")?.unwrap_or(JsValue::UNDEFINED),
        "options.persist",
        false,
    )?;
    let durability = match input::get(options, "durability")? {
        None => Durability::Default,
        Some(value) => value.as_string().and_then(|d| Durability::parse(&d)).ok_or_else(|| {
            invalid("options.durability", "must be \"default\", \"relaxed\" or \"strict\"")
        })?,
    };
    // `null` asks for no sync, as absent does; the sync side checks the rest.
    let sync_option = input::get(options, "sync")?.filter(|v| !v.is_null());
    let syncs = sync_option.is_some();
    let retain = input::get(options, "retain")?.map(|r| input::retain(&r, syncs)).transpose()?;
    let max_event_bytes = match input::get(options, "maxEventBytes")? {
        Some(value) => {
            let n = input::whole_number(&value, "options.maxEventBytes")?;
            if !(1..=MAX_EVENT_BYTES_OPTION).contains(&n) {
                return Err(invalid(
                    "options.maxEventBytes",
                    "must be a whole number from 1 to 2^30 (bytes)",
                ));
            }
            Some(n as usize)
        }
        None => syncs.then_some(MAX_EVENT_BYTES),
    };
    let storage = storage_option(options)?;
    #[cfg(feature = "file")]
    let file_dir = file_dir(&name, options, storage.as_deref())?;
    #[cfg(feature = "file")]
    if syncs && file_dir.is_some() {
        return Err(invalid(
            "options.sync",
            "does not go with storage \"file\" yet: the outbox lives in IndexedDB",
        ));
    }
    #[cfg(not(feature = "file"))]
    let file_dir: Option<String> = None;
    let indexeddb = file_dir.is_none() && uses_indexeddb(storage.as_deref());
    if syncs && !indexeddb {
        return Err(invalid(
            "options.sync",
            "needs IndexedDB storage: the outbox must survive reloads (this host has none, or storage is \"memory\")",
        ));
    }
    // The sync option is checked before anything opens, by the sync side, which reads it
    // again when it starts. In the browser package that is the sync wasm: loaded first
    // (the store's sync needs it anyway), so the client wasm carries no copy of the check.
    #[cfg(feature = "sync")]
    if let Some(option) = &sync_option {
        super::sync::parse_config(option)?;
    }
    #[cfg(not(feature = "sync"))]
    let sync_side = match &sync_option {
        Some(option) => Some(load_sync_side(option).await?),
        None => None,
    };
    // Every option is checked: a memory store of the browser package opens in its memory
    // wasm.
    #[cfg(not(feature = "memory"))]
    if file_dir.is_none() && !indexeddb {
        return open_in_memory_wasm(&name, &raw_options).await;
    }
    let (backend, _dir) = match file_dir {
        #[cfg(feature = "file")]
        Some(dir) => (Backend::open_file(&dir, durability)?, Some(dir)),
        #[cfg(feature = "memory")]
        _ if !indexeddb => (Backend::open_memory(), None),
        // (Without the memory backend a memory store went to the memory wasm above.)
        _ => (Backend::open_indexeddb(&name, durability).await?, None::<String>),
    };
    // Not awaited: Firefox answers with a permission prompt, which must not hold the
    // store closed.
    let persisted = if persist {
        crate::web::glue::persist_storage()
    } else {
        js_sys::Promise::resolve(&JsValue::NULL)
    };
    let created = backend.indexeddb().is_some_and(IndexedDbStore::created);
    let shared = Shared::new(&name, backend, max_event_bytes);
    #[cfg(feature = "file")]
    if let Some(dir) = _dir {
        shared.register_here(dir);
    }
    shared.retain.set(retain);
    // Retention is applied once at open (before sync starts), then by `compact()`.
    if retain.is_some() {
        if let Err(e) = shared.compact().await {
            shared.close(CloseReason::Close);
            return Err(e);
        }
    }
    let mut sync = None;
    if let Some(option) = &sync_option {
        #[cfg(feature = "sync")]
        let started = start_sync(&shared, &name, option, durability, created).await;
        #[cfg(not(feature = "sync"))]
        let started = start_sync(&shared, &name, option, durability, created, sync_side).await;
        match started {
            Ok((hook, handle)) => {
                *shared.sync.borrow_mut() = Some(hook);
                shared.subscriptions.mark_pending.set(true);
                sync = Some(handle);
            }
            Err(e) => {
                shared.close(CloseReason::Close);
                return Err(e);
            }
        }
    }
    Ok(JsEventStore { shared, name, sync, persisted }.into())
}

/// `EventStore.deleteStore` (see there).
async fn delete_store(name: JsValue, options: JsValue) -> Result<(), JsValue> {
    let name = store_name(&name)?;
    let options = input::options(&options, "options", DELETE_KEYS)?;
    let options = options.as_ref();
    let force = input::flag(
        input::get(options, "force")?.unwrap_or(JsValue::UNDEFINED),
        "options.force",
        false,
    )?;
    let storage = storage_option(options)?;
    #[cfg(feature = "file")]
    if let Some(dir) = file_dir(&name, options, storage.as_deref())? {
        return delete_file(&dir, force);
    }
    if !uses_indexeddb(storage.as_deref()) {
        // Memory stores are not shared by name: each handle has its own events, which
        // go with it. There is nothing to delete by name (open handles stay open).
        return Ok(());
    }
    IndexedDbStore::delete_store(&name, force).await.map_err(|e| to_js(&e))
}

#[wasm_bindgen(js_class = EventStore)]
impl JsEventStore {
    /// Opens (or creates) the event store `name`.
    ///
    /// Options: `storage`: `"auto"` (default: IndexedDB where the host has it, memory
    /// elsewhere), `"indexeddb"` or `"memory"` (in the Node build also `"file"`, with
    /// `directory`: the store lives in `<directory>/<name>/`); `durability`: `"default"`,
    /// `"relaxed"` or `"strict"` (IndexedDB's transaction durability for appends; for
    /// files, whether each append is fsynced: strict, the default, does); `maxEventBytes`:
    /// `append` refuses an event larger than this as the sync server stores it (default:
    /// the server's 100 KiB when the store syncs, no limit otherwise); `retain`:
    /// `{ events?, ms? }`, what the local log keeps (see `compact`). In the browser
    /// package a memory store is opened in its memory wasm, loaded on first use.
    pub fn open(name: JsValue, options: JsValue) -> Promise {
        call(Call::Open(name, options))
    }

    /// Deletes the store `name` and closes every handle on it: in this tab and in every
    /// other (they reject every call with `ClosedError` from then on and emit `closed`
    /// with reason `"deleted"`). IndexedDB: the database; `storage: "file"` (Node build):
    /// the directory `<directory>/<name>/` (another process holding it open:
    /// `StorageError` `"Locked"`); `storage: "memory"`: nothing (memory stores are not
    /// shared by name: each handle's events go with it). Options: `force`, `storage`,
    /// `directory` (as in `open`).
    ///
    /// Unless `force: true`, refuses with `UnsyncedEventsError` (`pendingCount`) while
    /// the store holds events the sync server does not have (counted in the database, so
    /// other tabs' appends count; in a store that does not sync, every event); a refusal
    /// deletes and closes nothing. No such store: resolves (nothing is created). A
    /// connection that is not tidelog's and keeps the database open: `StorageError`
    /// `"Blocked"` when it is still there 5 s after the request (the browser deletes it
    /// once that connection closes).
    #[wasm_bindgen(js_name = deleteStore)]
    pub fn delete_store(name: JsValue, options: JsValue) -> Promise {
        call(Call::DeleteStore(name, options))
    }

    /// Listens to `"closed"` (`{ reason: "close" | "deleted" | "versionchange" }`, once,
    /// when the store closes: by `close()`, by a `deleteStore` in any tab, by another
    /// tab's schema upgrade); returns the function that stops listening. A listener added
    /// once the store is closed is not called (see `closed`).
    pub fn on(&self, event: JsValue, callback: JsValue) -> Result<Function, JsValue> {
        if input::string(&event, "event")? != "closed" {
            return Err(invalid("event", "must be \"closed\""));
        }
        let Some(callback) = callback.dyn_ref::<Function>() else {
            return Err(invalid("callback", "must be a function"));
        };
        Ok(self.shared.closed_listeners.add(CLOSED_EVENT, callback.clone()))
    }

    /// Whether the store is closed (by `close()`, a delete, another tab's upgrade).
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.shared.closed()
    }

    /// The sync side (`undefined` unless opened with a `sync` option): the same object on
    /// every access.
    #[wasm_bindgen(getter)]
    pub fn sync(&self) -> JsValue {
        self.sync.clone().unwrap_or(JsValue::UNDEFINED)
    }

    /// Resolves to `navigator.storage.persist()`'s answer when opened with `persist:
    /// true` (`true`: the browser keeps the data under storage pressure); to `null` when
    /// not asked or the host has no storage manager.
    #[wasm_bindgen(getter)]
    pub fn persisted(&self) -> js_sys::Promise {
        self.persisted.clone()
    }

    /// The store's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Where the events live: `"indexeddb"` or `"memory"` (or `"file"` in the Node build).
    #[wasm_bindgen(getter)]
    pub fn storage(&self) -> String {
        self.shared.backend.kind().into()
    }

    /// Appends `events` (`[{ type, data, meta?, id?, schema? }]`) to `stream`, all or
    /// nothing. Options: `expectedVersion` (a number, `"any"`, `"no_stream"`,
    /// `"exists"`). Resolves to `{ stream, firstVersion, lastVersion, firstPosition,
    /// lastPosition }` once the events are committed.
    pub fn append(&self, stream: JsValue, events: JsValue, options: JsValue) -> Promise {
        self.call(Op::Append(stream, events, options))
    }

    /// Reads one stream. Options: `fromVersion` (inclusive), `limit`, `direction`
    /// (`"forward"` | `"backward"`). Resolves to an array of events
    /// `{ id, stream, version, position, type, data, meta, recordedAt, schema }`.
    /// `upcast: true` hands out events raised to their latest schema (see
    /// `registerUpcaster`).
    pub fn read(&self, stream: JsValue, options: JsValue) -> Promise {
        self.call(Op::Read(stream, options))
    }

    /// Reads the global log in position order. Options: `fromPosition` (inclusive;
    /// positions start at 1, 0 means the start), `limit`, `upcast` (as in `read`).
    #[wasm_bindgen(js_name = readAll)]
    pub fn read_all(&self, options: JsValue) -> Promise {
        self.call(Op::ReadAll(options))
    }

    /// The events of the whole log matching `query` (`"all"`, or a list of
    /// `{ types?, tags? }` items ORed together), in position order. Options: `after`
    /// (only positions greater than it), `backwards` (newest first), `limit`.
    pub fn query(&self, query: JsValue, options: JsValue) -> Promise {
        self.call(Op::Query(query, options))
    }

    /// The stream's version: its number of events (0 when it has none).
    pub fn version(&self, stream: JsValue) -> Promise {
        self.call(Op::Version(stream))
    }

    /// Every stream with events: `[{ stream, version, lastPosition, syncedVersion }]`
    /// (events after `syncedVersion` are pending: not yet on the sync server).
    pub fn streams(&self) -> Promise {
        self.call(Op::Streams)
    }

    /// Calls `callback(event)` for every event appended from now on (or from
    /// `options.fromPosition`, inclusive), in position order, including events other
    /// tabs and workers append to the same database. Each event once: one that sync
    /// moves after the callback had it (a rebase) is not delivered again; `onMoved`
    /// (option) gets `{ stream, id, from: { version, position }, to: { version, position
    /// } }` for it instead (`null`: moves were lost from the log; re-read to be sure).
    /// A subscription whose start is below what retention holds ends at once, reporting
    /// a `NotRetainedError` (`reportError`). Returns a function that stops it.
    pub fn subscribe(&self, callback: JsValue, options: JsValue) -> Result<Function, JsValue> {
        let Some(callback) = callback.dyn_ref::<Function>() else {
            return Err(invalid("callback", "must be a function"));
        };
        self.shared.check_open()?;
        let options = input::options(&options, "options", "fromPosition,onMoved")?;
        let cursor = input::get(options.as_ref(), "fromPosition")?
            .map(|v| input::whole_number(&v, "options.fromPosition").map(|p| Position(p.max(1))))
            .transpose()?;
        let on_moved = match input::get(options.as_ref(), "onMoved")? {
            None => None,
            Some(f) => match f.dyn_into::<Function>() {
                Ok(f) => Some(f),
                Err(_) => return Err(invalid("options.onMoved", "must be a function")),
            },
        };
        Ok(subscribe::add(
            &self.shared.backend,
            &self.shared.subscriptions,
            callback.clone(),
            cursor,
            on_moved,
            None,
        ))
    }

    /// Applies the open option `retain` now: drops the oldest events it lets go (in a
    /// store that syncs, only events the server has). Resolves to `{ dropped, from }`
    /// (`from`: the lowest global position still held, or the next one if none is).
    /// Without `retain` nothing is dropped. Also run at open and, in a store that syncs,
    /// after a sync round that moved events (at most once a minute).
    pub fn compact(&self) -> Promise {
        self.call(Op::Compact)
    }

    /// Counters since this store was opened: `{ appends, eventsWritten, bytesWritten,
    /// idempotentAppends, conflicts, reads, eventsRead }`.
    pub fn metrics(&self) -> JsValue {
        metrics_to_js(self.shared.backend.metrics())
    }

    /// Closes the store: subscriptions and sync stop, and every later call rejects with a
    /// `ClosedError`.
    pub fn close(&self) {
        self.shared.close(CloseReason::Close);
    }
}

#[cfg(feature = "file")]
#[wasm_bindgen(js_class = EventStore)]
impl JsEventStore {
    /// What opening a file store cut off the end of its log (a torn tail: the append a
    /// crash interrupted): `{ offset, bytes, events }` (`events`: `null` when the cut
    /// frame's header was torn too), or `null` when nothing was cut or the store is not
    /// a file store.
    #[wasm_bindgen(getter)]
    pub fn recovery(&self) -> JsValue {
        let Some(cut) = self.shared.backend.file().and_then(|f| f.recovery()) else {
            return JsValue::NULL;
        };
        crate::web::convert::recovery_to_js(cut)
    }
}
