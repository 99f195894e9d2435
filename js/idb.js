// @ts-check
// IndexedDB request plumbing the Rust side awaits (src/web/idb.rs): a request's or a
// transaction's end as a promise; the database's open with its schema steps; and the requests of an append
// (src/web/indexeddb/append.rs calls these inside its one readwrite transaction over
// `events`, `streams` and `meta`): the heads it reads, the heads it writes, and the id
// lookups of a retry. The rules (expected version, condition, idempotency) are decided
// by the Rust side; here only requests are made, in JS because a loop of requests costs
// far fewer bytes here than as a Rust future. js/retention.js uses `settled` too. Below,
// the query walk.

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
 * The schema steps from `oldVersion` (src/web/indexeddb/schema.rs has the version),
 * inside the `versionchange` transaction `tx`: 1, the log's `events`, `streams` and
 * `meta`; 2, projection `snapshots`; 3, the sync side's `outbox`, `dead_letters` and
 * `conflicts` (src/web/indexeddb/outbox.rs); 4, the tag and type indexes. See the layout
 * in src/web/indexeddb/mod.rs.
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
  // The sync side's outbox and the events it set aside.
  if (oldVersion < 3) {
    db.createObjectStore("outbox", { keyPath: "stream" });
    db.createObjectStore("dead_letters", { keyPath: "id", autoIncrement: true });
    db.createObjectStore("conflicts", { keyPath: "id", autoIncrement: true });
  }
  if (oldVersion < 4) {
    // Query reads and append conditions: every tag of an event (multiEntry), and its
    // type. Existing events are indexed by the upgrade itself (they carry no tags).
    const events = tx.objectStore("events");
    events.createIndex("by_tag", "tags", { multiEntry: true });
    events.createIndex("by_type", "type");
  }
}

/**
 * Opens database `name` at schema `version` with `factory` (the host's `indexedDB`),
 * creating or upgrading it ({@link upgradeSchema}: all steps land or none). Resolves to
 * `[db, created]` (`created`: the database did not exist); rejects with what an upgrade
 * step threw (the upgrade is aborted), else with the request's error.
 * @param {{ open(name: string, version: number): any }} factory an IDBFactory
 * @param {string} name
 * @param {number} version
 * @returns {Promise<[unknown, boolean]>}
 */
export function openDatabase(factory, name, version) {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, version);
    let created = false;
    /** @type {{ thrown: unknown } | undefined} */
    let failed;
    request.onupgradeneeded = (/** @type {{ oldVersion: number }} */ event) => {
      created = event.oldVersion === 0;
      try {
        const tx = request.transaction;
        if (!tx) throw new DOMException("no versionchange transaction", "InvalidStateError");
        upgradeSchema(request.result, tx, event.oldVersion);
      } catch (thrown) {
        failed = { thrown };
        request.transaction?.abort();
      }
    };
    request.onsuccess = () => resolve([request.result, created]);
    request.onerror = () => reject(failed ? failed.thrown : request.error);
  });
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
 * Sets `pending` on each event record: true while it is not on the sync server yet
 * (its version is above its stream's synced version). One call per page of records.
 * @param {{ stream: string, version: number, pending?: boolean }[]} records
 * @param {Record<string, number>} synced each stream's synced version (absent: 0)
 */
export function markPending(records, synced) {
  for (const record of records) record.pending = record.version > (synced[record.stream] ?? 0);
}

/**
 * Sets `pending` on each record ({@link markPending}) from its stream's synced version
 * in the stored stream heads (`syncedVersion`; none: 0), one request per stream, all
 * issued before any is awaited.
 * @param {any} streams the `streams` IDBObjectStore
 * @param {{ stream: string, version: number, pending?: boolean }[]} records
 * @returns {Promise<void>}
 */
export async function markPendingFrom(streams, records) {
  const names = [...new Set(records.map((r) => r.stream))];
  const heads = await Promise.all(names.map((name) => settled(streams.get(name))));
  /** @type {Record<string, number>} */
  const synced = {};
  names.forEach((name, i) => {
    synced[name] = /** @type {{ syncedVersion?: number } | undefined} */ (heads[i])?.syncedVersion ?? 0;
  });
  markPending(records, synced);
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

// The IndexedDB side of query reads and append conditions (src/web/indexeddb/query.rs
// calls it inside its transaction): the candidate records of a query from the `by_tag`
// (multiEntry on `tags`) and `by_type` indexes. Per item, the keys (positions) under each
// of its tags are intersected, or, without tags, the keys under each of its types united;
// only those records are read. Whether a candidate matches the whole query is decided by
// the Rust side (one implementation of matching); here only the indexes are walked, in
// JS because a loop of requests costs far fewer bytes here than as a Rust future.

/**
 * One query item as the Rust side passes it: empty lists mean "not given".
 * @typedef {{ types: string[], tags: string[] }} IndexItem
 */

/**
 * Ascending keys present in every list (the shortest, filtered).
 * @param {number[][]} lists
 * @returns {number[]}
 */
export function intersectKeys(lists) {
  if (lists.length === 0) return [];
  const sorted = [...lists].sort((a, b) => a.length - b.length);
  const sets = sorted.slice(1).map((l) => new Set(l));
  return sorted[0].filter((k) => sets.every((s) => s.has(k)));
}

/**
 * The candidate records of `items` (null: every event) at positions from `first` on,
 * ascending; with `one`, only the first candidate of "all" (items' candidates are all
 * returned: the caller stops at the first that matches).
 * @param {any} events the `events` IDBObjectStore, in an active transaction
 * @param {IndexItem[] | null} items
 * @param {number} first
 * @param {boolean} one
 * @returns {Promise<unknown[]>}
 */
export async function candidateRecords(events, items, first, one) {
  const from = IDBKeyRange.lowerBound(first);
  if (items === null) return settled(one ? events.getAll(from, 1) : events.getAll(from));
  const byTag = events.index("by_tag");
  const byType = events.index("by_type");
  // Every key request is issued before any is awaited.
  const pending = items.map((item) => item.tags.length > 0
    ? { intersect: true, lists: item.tags.map((t) => settled(byTag.getAllKeys(t))) }
    : { intersect: false, lists: item.types.map((t) => settled(byType.getAllKeys(t))) });
  /** @type {Set<number>} */
  const keys = new Set();
  for (const { intersect, lists } of pending) {
    const got = /** @type {number[][]} */ (await Promise.all(lists));
    for (const k of intersect ? intersectKeys(got) : got.flat()) if (k >= first) keys.add(k);
  }
  const ordered = [...keys].sort((a, b) => a - b);
  const records = await Promise.all(ordered.map((k) => settled(events.get(k))));
  return records.filter((r) => r !== undefined);
}

/**
 * Checks the shape of a query argument and copies it (each field read once): `null` for
 * `"all"`, else the items as `{ types, tags }` (`null` where not given). The Rust side
 * checks the strings, the empty lists and the limits (src/query.rs).
 * @param {unknown} query
 * @param {string} field its path for errors (`query`, `options.condition.failIfEventsMatch`)
 * @returns {{ types: string[] | null, tags: string[] | null }[] | null}
 * @throws {{ field: string, message: string }} for the first problem
 */
export function inspectQuery(query, field) {
  if (query === "all") return null;
  if (!Array.isArray(query)) {
    throw { field, message: `must be "all" or an array of { types, tags } items, got ${kind(query)}` };
  }
  if (query.length > 64) throw { field, message: `has ${query.length} items; a query lists at most 64` };
  return query.map((item, i) => {
    const at = `${field}[${i}]`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw { field: at, message: "must be an object like { types, tags }" };
    }
    for (const key of Object.keys(item)) {
      if (key !== "types" && key !== "tags") throw { field: `${at}.${key}`, message: "is not a query item field (allowed: types, tags)" };
    }
    const { types, tags } = item;
    return { types: strings(types, `${at}.types`), tags: strings(tags, `${at}.tags`) };
  });
}

/**
 * @param {unknown} list
 * @param {string} field
 * @returns {string[] | null}
 */
function strings(list, field) {
  if (list === undefined) return null;
  if (!Array.isArray(list)) throw { field, message: `must be an array of strings, got ${kind(list)}` };
  if (list.length > 1024) throw { field, message: `has ${list.length} entries; far more than allowed` };
  return list.map((s, i) => {
    if (typeof s !== "string") throw { field: `${field}[${i}]`, message: `must be a string, got ${kind(s)}` };
    if (/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) {
      throw { field: `${field}[${i}]`, message: "contains a lone surrogate (not valid Unicode)" };
    }
    return s;
  });
}

/** @param {unknown} value */
function kind(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
