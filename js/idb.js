// @ts-check
// IndexedDB request plumbing the Rust side awaits (src/web/idb.rs): a request's or a
// transaction's end as a promise; and the requests of an append
// (src/web/indexeddb/append.rs calls these inside its one readwrite transaction over
// `events`, `streams` and `meta`): the heads it reads, the heads it writes, and the id
// lookups of a retry. The rules (expected version, condition, idempotency) are decided
// by the Rust side; here only requests are made, in JS because a loop of requests costs
// far fewer bytes here than as a Rust future. js/idb_query.js and js/retention.js use
// `settled` too.

/**
 * A request's result as a promise (resolved in its success event, so the transaction is
 * still active for the next request); rejected with the request's error.
 * @template T
 * @param {{ result: T, error: unknown, onsuccess: unknown, onerror: unknown }} request an IDBRequest
 * @returns {Promise<T>}
 */
export function settled(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * The schema steps of the event log's stores from `oldVersion` (src/web/indexeddb/schema.rs
 * has the version and runs the sync side's step 3 after these), inside the
 * `versionchange` transaction `tx`. See the layout in src/web/indexeddb/mod.rs.
 * @param {any} db the IDBDatabase being upgraded
 * @param {any} tx its versionchange IDBTransaction
 * @param {number} oldVersion 0 for a new database
 */
export function upgradeSchema(db, tx, oldVersion) {
  if (oldVersion < 1) {
    const events = db.createObjectStore("events", { keyPath: "position" });
    events.createIndex("by_stream", ["stream", "version"], { unique: true });
    events.createIndex("by_id", "id", { unique: true });
    db.createObjectStore("streams", { keyPath: "stream" });
    db.createObjectStore("meta");
  }
  // Projection snapshots.
  if (oldVersion < 2) db.createObjectStore("snapshots", { keyPath: "name" });
  if (oldVersion < 4) {
    // Query reads and append conditions: every tag of an event (multiEntry), and its
    // type. Existing events are indexed by the upgrade itself (they carry no tags).
    const events = tx.objectStore("events");
    events.createIndex("by_tag", "tags", { multiEntry: true });
    events.createIndex("by_type", "type");
  }
}

/**
 * Begins a transaction over the object stores `names`: readwrite when `write`, with the
 * `durability` option when given (a typed binding of it would need web-sys's unstable
 * APIs). Throws what `transaction()` throws (InvalidStateError on a closed connection).
 * @param {{ transaction(names: string[], mode: string, options?: object): unknown }} db an IDBDatabase
 * @param {string[]} names
 * @param {boolean} write
 * @param {string | undefined} durability
 */
export function transaction(db, names, write, durability) {
  const mode = write ? "readwrite" : "readonly";
  return durability === undefined ? db.transaction(names, mode) : db.transaction(names, mode, { durability });
}

/**
 * A transaction's end as a promise: resolved on `complete`, rejected on `abort` (the
 * Rust side reads the transaction's `error`).
 * @param {{ oncomplete: unknown, onabort: unknown }} tx an IDBTransaction
 * @returns {Promise<unknown>}
 */
export function transactionDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onabort = reject;
  });
}

/**
 * The events of `stream` from version `low` to `high` (inclusive), from the `by_stream`
 * index; newest first when `backward`.
 * @param {any} events the `events` IDBObjectStore
 * @param {string} stream
 * @param {number} low
 * @param {number} high
 * @param {boolean} backward
 * @returns {Promise<unknown[]>}
 */
export async function streamPage(events, stream, low, high, backward) {
  const range = IDBKeyRange.bound([stream, low], [stream, high]);
  const records = /** @type {unknown[]} */ (await settled(events.index("by_stream").getAll(range)));
  return backward ? records.reverse() : records;
}

/**
 * Up to `limit` events of the log from position `from` on.
 * @param {any} events the `events` IDBObjectStore
 * @param {number} from
 * @param {number} limit
 * @returns {Promise<unknown[]>}
 */
export function logPage(events, from, limit) {
  return settled(events.getAll(IDBKeyRange.lowerBound(from), limit));
}

/**
 * An append's reads, issued together: `[stream head, log head, feed cursor]`, the
 * records `streams[stream]`, `meta["head"]` and (with `feed`, for a conditional append)
 * `meta["feed"]`; undefined where there is none (or not asked).
 * @param {any} streams the `streams` IDBObjectStore (readwrite transaction)
 * @param {any} meta the `meta` IDBObjectStore
 * @param {string} stream
 * @param {boolean} feed
 * @returns {Promise<unknown[]>}
 */
export function appendHeads(streams, meta, stream, feed) {
  return Promise.all([
    settled(streams.get(stream)),
    settled(meta.get("head")),
    feed ? settled(meta.get("feed")) : undefined,
  ]);
}

/**
 * The stored record under each id (`null`: not given; undefined: not stored), all
 * requests issued before any is awaited.
 * @param {any} events the `events` IDBObjectStore (any transaction)
 * @param {(string | null)[]} ids
 * @returns {Promise<unknown[]>}
 */
export function lookupIds(events, ids) {
  const index = events.index("by_id");
  return Promise.all(ids.map((id) => (id === null ? undefined : settled(index.get(id)))));
}

/**
 * Writes an append's heads: `streams[stream]` (`{ stream, version, lastPosition,
 * syncedVersion, pendingBytes }`) and `meta["head"]` (`{ position }`).
 * @param {any} streams the `streams` IDBObjectStore (readwrite transaction)
 * @param {any} meta the `meta` IDBObjectStore
 * @param {string} stream
 * @param {number} version the stream's new version
 * @param {number} lastPosition the log's new head
 * @param {number} syncedVersion kept as it was
 * @param {number} pendingBytes
 */
export function writeHeads(streams, meta, stream, version, lastPosition, syncedVersion, pendingBytes) {
  streams.put({ stream, version, lastPosition, syncedVersion, pendingBytes });
  meta.put({ position: lastPosition }, "head");
}
