// @ts-check
// The SQLite storage of the sync server in a Durable Object (`ctx.storage.sql`):
// src/web/do_sql.rs calls the six queries below; every decision lives in
// src/server/sql/ (the schema is documented there). Each call is synchronous (the
// Durable Object SQL API is), and a push is ONE `transactionSync`.
//
// `sqlOpen` creates the table and, once, copies a space written through the key-value
// API (src/server/kv/: keys `h`, `e:{position}`) into it: the upgrade of a space that a
// KV-backed version of the worker wrote in the same SQLite-backed object.

/**
 * The part of `ctx.storage.sql` used here.
 * @typedef {object} SqlApi
 * @property {(query: string, ...bindings: unknown[]) => SqlCursor} exec
 */
/**
 * @typedef {object} SqlCursor
 * @property {() => Record<string, unknown>[]} toArray
 * @property {() => Record<string, unknown>} one
 */
/**
 * The part of a SQLite-backed Durable Object's `ctx.storage` used here (`get`/`list`
 * only to copy a key-value space).
 * @typedef {object} SqlStorage
 * @property {SqlApi} sql
 * @property {<T>(body: () => T) => T} transactionSync
 * @property {(key: string) => Promise<unknown>} get
 * @property {(options: { prefix: string, start: string, limit: number }) => Promise<Map<string, unknown>>} list
 */

/** SQLite's limit on bound parameters per statement in Durable Objects is 100. */
const MAX_PARAMS = 100;
/** Rows per multi-row INSERT (5 parameters each). */
const INSERT_ROWS = Math.floor(MAX_PARAMS / 5);
/** Events copied per transaction when upgrading a key-value space. */
const COPY_PAGE = 512;

export const SCHEMA = `CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  event TEXT NOT NULL,
  UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS tidelog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`;

/**
 * The feed head per storage, once read: this object is the only writer of its database,
 * and every insert below updates it (a 304 poll then costs no query).
 * @type {WeakMap<SqlStorage, number>}
 */
const heads = new WeakMap();

/**
 * @param {SqlCursor} cursor
 * @returns {number}
 */
function number(cursor) {
  return Number(Object.values(cursor.one())[0]);
}

/**
 * The stream's version (max version of its rows, 0 without rows).
 * @param {SqlStorage} storage
 * @param {string} stream
 * @returns {number}
 */
export function sqlStreamVersion(storage, stream) {
  return number(storage.sql.exec("SELECT coalesce(max(version), 0) AS v FROM events WHERE stream = ?", stream));
}

/**
 * The feed head (max position, 0 without rows).
 * @param {SqlStorage} storage
 * @returns {number}
 */
export function sqlFeedHead(storage) {
  let head = heads.get(storage);
  if (head === undefined) {
    head = number(storage.sql.exec("SELECT coalesce(max(position), 0) AS p FROM events"));
    heads.set(storage, head);
  }
  return head;
}

/**
 * The stored JSON of the events with these ids, in order (undefined for unknown ids).
 * @param {SqlStorage} storage
 * @param {string[]} ids
 * @returns {(string | undefined)[]}
 */
export function sqlEventsById(storage, ids) {
  /** @type {Map<string, string>} */
  const found = new Map();
  for (let i = 0; i < ids.length; i += MAX_PARAMS) {
    const chunk = ids.slice(i, i + MAX_PARAMS);
    const marks = chunk.map(() => "?").join(", ");
    for (const row of storage.sql.exec(`SELECT id, event FROM events WHERE id IN (${marks})`, ...chunk).toArray()) {
      found.set(String(row.id), String(row.event));
    }
  }
  return ids.map((id) => found.get(id));
}

/**
 * Whether any of `ids` is stored.
 * @param {SqlStorage} storage
 * @param {string[]} ids
 */
function anyStored(storage, ids) {
  for (let i = 0; i < ids.length; i += MAX_PARAMS) {
    const chunk = ids.slice(i, i + MAX_PARAMS);
    const marks = chunk.map(() => "?").join(", ");
    if (storage.sql.exec(`SELECT 1 AS x FROM events WHERE id IN (${marks}) LIMIT 1`, ...chunk).toArray().length) return true;
  }
  return false;
}

/**
 * Inserts rows `[position, stream, version, id, event]`, 20 per statement.
 * @param {SqlStorage} storage
 * @param {unknown[][]} rows
 */
function insertRows(storage, rows) {
  for (let i = 0; i < rows.length; i += INSERT_ROWS) {
    const chunk = rows.slice(i, i + INSERT_ROWS);
    const values = chunk.map(() => "(?, ?, ?, ?, ?)").join(", ");
    storage.sql.exec(`INSERT INTO events (position, stream, version, id, event) VALUES ${values}`, ...chunk.flat());
  }
}

/**
 * In ONE transaction: when the stream is at `expected`, the feed head at `head` and no id
 * is stored, inserts the events (versions expected + 1.., positions head + 1..) and
 * returns true; otherwise inserts nothing and returns false.
 * @param {SqlStorage} storage
 * @param {string} stream
 * @param {number} expected
 * @param {number} head
 * @param {string[]} ids
 * @param {string[]} events the JSON of each event, as served
 * @returns {boolean}
 */
export function sqlAppendIf(storage, stream, expected, head, ids, events) {
  return storage.transactionSync(() => {
    if (sqlStreamVersion(storage, stream) !== expected || sqlFeedHead(storage) !== head) return false;
    if (anyStored(storage, ids)) return false;
    insertRows(storage, ids.map((id, i) => [head + i + 1, stream, expected + i + 1, id, events[i]]));
    heads.delete(storage); // re-read after the commit (a failed transaction changes nothing)
    return true;
  });
}

/**
 * Up to `limit` of the stream's events after version `after`, ascending (JSON).
 * @param {SqlStorage} storage
 * @param {string} stream
 * @param {number} after
 * @param {number} limit
 * @returns {string[]}
 */
export function sqlStreamEvents(storage, stream, after, limit) {
  const rows = storage.sql
    .exec("SELECT event FROM events WHERE stream = ? AND version > ? ORDER BY version LIMIT ?", stream, after, limit)
    .toArray();
  return rows.map((row) => String(row.event));
}

/**
 * Up to `limit` events after position `after`, ascending (JSON).
 * @param {SqlStorage} storage
 * @param {number} after
 * @param {number} limit
 * @returns {string[]}
 */
export function sqlFeedEvents(storage, after, limit) {
  const rows = storage.sql.exec("SELECT event FROM events WHERE position > ? ORDER BY position LIMIT ?", after, limit).toArray();
  return rows.map((row) => String(row.event));
}

/**
 * @param {unknown} value a key-value entry (UTF-8 bytes)
 * @returns {string}
 */
function utf8(value) {
  if (!(value instanceof Uint8Array)) throw new Error("a key-value entry is not bytes");
  return new TextDecoder().decode(value);
}

/**
 * Prepares a SQLite-backed Durable Object's storage: creates the table (idempotent) and,
 * the first time, copies the events of a space written through the key-value API
 * (src/server/kv/) into it, in transactions of COPY_PAGE events; an interrupted copy
 * resumes after the last copied position. The key-value entries stay as they were (a
 * worker run with TIDELOG_STORAGE=kv reads them, frozen at the copy). Run it before the
 * first request: `ctx.blockConcurrencyWhile(() => sqlOpen(ctx.storage))`.
 * Resolves to the number of events copied.
 * @param {SqlStorage} storage
 * @returns {Promise<number>}
 */
export async function sqlOpen(storage) {
  storage.sql.exec(SCHEMA);
  const marker = storage.sql.exec("SELECT value FROM tidelog_meta WHERE key = 'kv_copied'").toArray();
  if (marker.length) return 0;
  const kvHead = await storage.get("h");
  const last = kvHead === undefined ? 0 : Number(utf8(kvHead));
  let copied = 0;
  for (;;) {
    const after = sqlFeedHead(storage);
    if (after >= last) break;
    const start = `e:${String(after + 1).padStart(16, "0")}`;
    const page = await storage.list({ prefix: "e:", start, limit: COPY_PAGE });
    if (page.size === 0) break;
    const rows = [...page.values()].map((value) => {
      const event = JSON.parse(utf8(value));
      return [event.position, event.stream, event.version, event.id, utf8(value)];
    });
    heads.delete(storage);
    storage.transactionSync(() => insertRows(storage, rows));
    heads.delete(storage);
    copied += rows.length;
  }
  storage.sql.exec("INSERT INTO tidelog_meta (key, value) VALUES ('kv_copied', ?)", String(last));
  return copied;
}
