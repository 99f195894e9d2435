//! The JS the crate imports: the typed `extern` declarations of tidelog's own JS modules
//! (batch checks, record building, error classes, utilities), and the one pair of
//! property helpers ([`get`], [`set`]) for objects whose shape the code does not type.
//!
//! Every block imports `./js/index.js` (a `raw_module` specifier, relative to the
//! generated glue), which re-exports the files of `js/`: one module to load instead of
//! four (in Chromium each extra module added about 6 ms to loading the library). The
//! package ships it bundled next to `tidelog.js` (and next to `worker/tidelog.js`); the
//! wasm-bindgen-test runner serves `/js/...` from the crate root.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(raw_module = "./js/index.js")]
extern "C" {
    /// Checks a batch of input events and copies each into a plain `{ type, tags, data,
    /// meta, schema }`; returns `{ events, types, tags, ids, bytes }` or throws
    /// `{ field, message }`. An event of `stream` larger than `max_event_bytes` as the
    /// sync server stores it is refused (0: no limit).
    #[wasm_bindgen(catch, js_name = inspectEvents)]
    pub fn inspect_events(
        events: &JsValue,
        stream: &str,
        max_event_bytes: f64,
    ) -> Result<JsValue, JsValue>;

    /// One stored event record `{ position, id, stream, version, type, tags, data, meta,
    /// recordedAt, schema }`.
    #[wasm_bindgen(js_name = makeRecord)]
    #[allow(clippy::too_many_arguments)]
    pub fn make_record(
        position: f64,
        id: &str,
        stream: &JsValue,
        version: f64,
        event_type: &str,
        tags: &JsValue,
        data: &JsValue,
        meta: &JsValue,
        recorded_at: &JsValue,
        schema: u32,
    ) -> js_sys::Object;

    /// One row of `streams()`: `{ stream, version, lastPosition, syncedVersion }`.
    #[wasm_bindgen(js_name = streamRow)]
    pub fn stream_row(
        stream: &str,
        version: f64,
        last_position: f64,
        synced_version: f64,
    ) -> js_sys::Object;

    /// The rows of `streams()` from the stored stream heads (`syncedVersion` 0 where a
    /// head has none).
    #[wasm_bindgen(js_name = streamRows)]
    pub fn stream_rows(heads: &JsValue) -> js_sys::Array;

    /// A projection snapshot record `{ name, state, position, version, moves, savedAt }`
    /// (`savedAt`: now).
    #[wasm_bindgen(js_name = snapshotRecord)]
    pub fn snapshot_record(
        name: &str,
        state: &JsValue,
        position: f64,
        version: u32,
        moves: f64,
    ) -> js_sys::Object;

    /// Adds a batch's records to an IndexedDB object store in one call; `null`, or for
    /// the first refused event `{ field, message }` (it cannot be cloned) or `{ error }`.
    #[wasm_bindgen(js_name = addRecords)]
    pub fn add_records(
        store: &web_sys::IdbObjectStore,
        events: &js_sys::Array,
        ids: &js_sys::Array,
        stream: &str,
        first_version: f64,
        first_position: f64,
        recorded_at: f64,
    ) -> JsValue;

    /// Checks a query's shape: `null` for `"all"`, else `[{ types, tags }]` (`null` where
    /// not given); throws `{ field, message }`.
    #[wasm_bindgen(catch, js_name = inspectQuery)]
    pub fn inspect_query(query: &JsValue, field: &str) -> Result<JsValue, JsValue>;

    /// Sets `pending` on each event record of `records` from its stream's synced version
    /// in the stored heads of `streams` (`js/idb.js`); resolves when done.
    #[wasm_bindgen(js_name = markPendingFrom)]
    pub fn mark_pending_from(streams: &web_sys::IdbObjectStore, records: &js_sys::Array)
        -> Promise;

    /// Checks an options argument (`js/batch.js`): `false` for `undefined`/`null`,
    /// `true` for a plain object whose keys are all in `allowed` (comma-separated);
    /// throws `{ field, message }` for anything else.
    #[wasm_bindgen(catch, js_name = checkOptions)]
    pub fn check_options(value: &JsValue, field: &str, allowed: &str) -> Result<bool, JsValue>;

    /// A string argument without lone surrogates; throws `{ field, message }`.
    #[wasm_bindgen(catch, js_name = checkString)]
    pub fn check_string(value: &JsValue, field: &str) -> Result<String, JsValue>;

    /// A whole number from 0 to 2^53 - 1; throws `{ field, message }`.
    #[wasm_bindgen(catch, js_name = checkWhole)]
    pub fn check_whole(value: &JsValue, field: &str) -> Result<f64, JsValue>;

    /// A boolean option (`undefined`: `otherwise`); throws `{ field, message }`.
    #[wasm_bindgen(catch, js_name = checkFlag)]
    pub fn check_flag(value: &JsValue, field: &str, otherwise: bool) -> Result<bool, JsValue>;

    /// `value`'s kind for a message: `"null"`, `"an array"`, `"a number"`, ...
    #[wasm_bindgen(js_name = describeType)]
    pub fn describe_type(value: &JsValue) -> String;

    /// The candidate records of a query's items (`null`: every event) from position
    /// `first` on, ascending, from the tag and type indexes of the `events` store
    /// (`js/idb.js`); `one`: only the first of "all".
    #[wasm_bindgen(js_name = candidateRecords)]
    pub fn candidate_records(
        events: &web_sys::IdbObjectStore,
        items: &JsValue,
        first: f64,
        one: bool,
    ) -> Promise;

    /// What retention needs to know of the held events (`js/retention.js`): resolves to
    /// `[floor, next, nthNewest, firstYoung, oldestPending]` (-1 where none).
    #[wasm_bindgen(js_name = retentionHeld)]
    pub fn retention_held(
        events: &web_sys::IdbObjectStore,
        streams: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        n: f64,
        young_after: f64,
        keep_pending: bool,
    ) -> Promise;

    /// Drops the events at positions `[from, to)` and records `to` as the floor; resolves
    /// to how many were dropped.
    #[wasm_bindgen(js_name = retentionDrop)]
    pub fn retention_drop(
        events: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        from: f64,
        to: f64,
    ) -> Promise;

    /// Resolves to `[floor, records, moves]` (`js/retention.js`): retention's floor, up to
    /// `limit` events from position `from` on (0: from the floor), and with `with_moves`
    /// the `meta["moves"]` record.
    #[wasm_bindgen(js_name = logRead)]
    pub fn log_read(
        events: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        from: f64,
        limit: u32,
        with_moves: bool,
    ) -> Promise;

    /// Resolves to the floor as the transaction of `meta` sees it (1: nothing dropped).
    #[wasm_bindgen(js_name = readFloor)]
    pub fn read_floor(meta: &web_sys::IdbObjectStore) -> Promise;

    /// Resolves to `[floor, head, heldFrom, records]` for a read of `stream` (see
    /// `js/retention.js`); the head is looked up when `need_head` or events were dropped;
    /// `records`, the forward page `low..=high` (`low` 0: none) read in the same round, is
    /// there when the floor is 1.
    #[wasm_bindgen(js_name = streamBounds)]
    pub fn stream_bounds(
        events: &web_sys::IdbObjectStore,
        streams: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        stream: &JsValue,
        need_head: bool,
        low: f64,
        high: f64,
    ) -> Promise;

    /// `db.transaction(names, mode, { durability })` (`js/idb.js`): readwrite when
    /// `write`; `durability` (readwrite only) is left out when `None`.
    #[wasm_bindgen(catch)]
    pub fn transaction(
        db: &web_sys::IdbDatabase,
        names: &js_sys::Array,
        write: bool,
        durability: Option<&str>,
    ) -> Result<web_sys::IdbTransaction, JsValue>;

    /// Opens database `name` at schema `version` with `factory`, creating or upgrading it
    /// (`js/idb.js`: the schema steps, all or none): resolves to `[db, created]`; rejects
    /// with what an upgrade step threw, else with the request's error.
    #[wasm_bindgen(js_name = openDatabase)]
    pub fn open_database(factory: &web_sys::IdbFactory, name: &str, version: u32) -> Promise;

    /// Resolves to the events of `stream` from version `low` to `high` (inclusive) from
    /// the `by_stream` index, newest first when `backward` (`js/idb.js`).
    #[wasm_bindgen(js_name = streamPage)]
    pub fn stream_page(
        events: &web_sys::IdbObjectStore,
        stream: &JsValue,
        low: f64,
        high: f64,
        backward: bool,
    ) -> Promise;

    /// A request's result as a promise (`js/idb.js`), rejected with its error.
    pub fn settled(request: &web_sys::IdbRequest) -> Promise;

    /// A transaction's end as a promise: resolved on `complete`, rejected on `abort`.
    #[wasm_bindgen(js_name = transactionDone)]
    pub fn transaction_done(tx: &web_sys::IdbTransaction) -> Promise;

    /// An append's reads (`js/idb.js`): resolves to `[stream head, log head, feed
    /// cursor]` (undefined where none; the feed cursor only when `feed`).
    #[wasm_bindgen(js_name = appendHeads)]
    pub fn append_heads(
        streams: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        stream: &JsValue,
        feed: bool,
    ) -> Promise;

    /// Resolves to the stored record under each id of `ids` (`null`: not given;
    /// undefined: not stored).
    #[wasm_bindgen(js_name = lookupIds)]
    pub fn lookup_ids(events: &web_sys::IdbObjectStore, ids: &js_sys::Array) -> Promise;

    /// Writes an append's stream head and log head.
    #[wasm_bindgen(catch, js_name = writeHeads)]
    pub fn write_heads(
        streams: &web_sys::IdbObjectStore,
        meta: &web_sys::IdbObjectStore,
        stream: &JsValue,
        version: f64,
        last_position: f64,
        synced_version: f64,
        pending_bytes: f64,
    ) -> Result<(), JsValue>;

    /// The approximate JSON size of an event's `data` and `meta`, the same measure as
    /// `inspect_events` (the outbox keeps `pendingBytes` with it).
    #[wasm_bindgen(js_name = payloadSize)]
    pub fn payload_size(data: &JsValue, meta: &JsValue) -> f64;
}

#[wasm_bindgen(raw_module = "./js/index.js")]
extern "C" {
    /// A new instance of tidelog's error class `name` (e.g. `VersionConflictError`).
    #[wasm_bindgen(js_name = makeError)]
    pub fn make_error(name: &str, message: &str) -> JsValue;
}

#[wasm_bindgen(raw_module = "./js/index.js")]
extern "C" {
    /// Reports an error nobody awaits (`reportError`, else `console.error` with `context`).
    pub fn report(error: &JsValue, context: &str);

    /// Calls a subscriber, reporting (never swallowing) what it throws.
    pub fn deliver(callback: &js_sys::Function, event: &JsValue);

    /// `structuredClone(value)` where the host has it.
    #[wasm_bindgen(catch, js_name = cloneValue)]
    pub fn clone_value(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `navigator.storage.persist()`: resolves to the answer, `null` where the host has none.
    #[wasm_bindgen(js_name = persistStorage)]
    pub fn persist_storage() -> Promise;

    /// `navigator.storage.estimate()`: resolves to `{ usage, quota, persisted }` or `null`.
    #[wasm_bindgen(js_name = storageEstimate)]
    pub fn storage_estimate() -> Promise;

    /// `promise`, unless [`reject_all`] rejects it first: the returned promise's `reject`
    /// waits in `closing` (a `Set`) until `promise` settles.
    #[wasm_bindgen(js_name = untilClosed)]
    pub fn until_closed(promise: &Promise, closing: &JsValue) -> Promise;

    /// Rejects every promise waiting in `closing` with `error` (and empties it).
    #[wasm_bindgen(js_name = rejectAll)]
    pub fn reject_all(closing: &JsValue, error: &JsValue);

    /// `EventStore.deleteStore` over IndexedDB (`js/util.js`): resolves to the number of
    /// events of database `name` the server does not have when, without `force`, that
    /// is not 0 (nothing deleted); else deletes the database (none: nothing created) and
    /// resolves to 0. Rejects with an Error named `"Blocked"` when a connection that is
    /// not tidelog's still blocks the delete after `blocked_ms`.
    #[wasm_bindgen(js_name = deleteStore)]
    pub fn delete_store(name: &str, force: bool, blocked_ms: u32) -> Promise;

    /// The browser package's sync wasm, loaded once (`js/util.js`): resolves to
    /// `{ startSync(name, options, store), checkSync(options) }`, its exports; rejects
    /// with a `SyncError` when it cannot be loaded.
    #[cfg(not(feature = "sync"))]
    #[wasm_bindgen(js_name = loadSyncModule)]
    pub fn load_sync_module() -> Promise;

    /// The browser package's memory wasm, loaded once (`js/util.js`): resolves to its
    /// `EventStore.open(name, options)`; rejects with a `StorageError` when it cannot be
    /// loaded.
    #[cfg(not(feature = "memory"))]
    #[wasm_bindgen(js_name = loadMemoryModule)]
    pub fn load_memory_module() -> Promise;
}

/// The fold (`js/fold.js`): upcaster registries, folding pages of records, live feeds.
#[wasm_bindgen(raw_module = "./js/index.js")]
extern "C" {
    #[wasm_bindgen(js_name = newUpcasters)]
    /// A new, empty upcaster registry.
    pub fn new_upcasters() -> JsValue;
    #[wasm_bindgen(js_name = addUpcaster)]
    /// Registers `f` for `event_type` at `from_schema`; false when that step exists.
    pub fn add_upcaster(
        registry: &JsValue,
        event_type: &str,
        from_schema: u32,
        f: &Function,
    ) -> bool;
    #[wasm_bindgen(catch, js_name = upcastRecords)]
    /// Raises read records to their latest schema; throws `{ replayIndex, cause }`.
    pub fn upcast_records_js(registry: &JsValue, records: &Array) -> Result<Array, JsValue>;
    #[wasm_bindgen(js_name = newFold)]
    /// A fold context over `reducer` from `state` (see `js/fold.js` for the fields).
    pub fn new_fold(
        reducer: &Function,
        state: &JsValue,
        upcasters: &JsValue,
        to_position: f64,
        after: f64,
        streams: &JsValue,
        skip: bool,
    ) -> JsValue;
    #[wasm_bindgen(js_name = foldPage)]
    /// Folds a page into `ctx`; the records consumed, or -1 on a failure (`ctx.failure`).
    pub fn fold_page(ctx: &JsValue, records: &Array) -> i32;
    #[wasm_bindgen(js_name = liveFeeder)]
    /// A subscriber that folds live events into `ctx` (`on_page` after each, `on_gap` on a gap).
    pub fn live_feeder(ctx: &JsValue, on_page: &Function, on_gap: &Function) -> Function;
    #[wasm_bindgen(js_name = serialize)]
    /// Runs `task` after the previous task of `holder` (one at a time).
    pub fn serialize(holder: &JsValue, task: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = describeThrown)]
    /// A short description of a thrown value (for `ReplayError`'s message).
    pub fn describe_thrown(value: &JsValue) -> String;
}

/// `target[key]`, `undefined` when the lookup throws (a getter, a proxy).
pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[key] = value` on an object tidelog made itself, where setting cannot fail.
pub(crate) fn set(target: &JsValue, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), &value);
}
