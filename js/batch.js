// @ts-check
// Input checks and record building for appends, on the JS side of the boundary because
// it is cheaper there: a batch is walked once, and its records are built and added to
// IndexedDB in one call (src/bindings/input.rs and the IndexedDB store call these).

/**
 * What the checks throw: the Rust side turns it into an InvalidInputError.
 * @typedef {{ field: string, message: string }} FieldError
 */

/**
 * An event as the checks copy it: every field read once from the input.
 * @typedef {{ type: string, tags: string[], data: unknown, meta: unknown, schema: number }} CheckedEvent
 */

/**
 * The result of {@link inspectEvents}.
 * @typedef {object} InspectedBatch
 * @property {CheckedEvent[]} events the copies to store
 * @property {string[]} types each event's type (checked further by the Rust side)
 * @property {string[][]} tags each event's tags (checked further by the Rust side)
 * @property {(string | undefined)[]} ids each event's id, undefined when not given
 * @property {number} bytes the approximate JSON size of all payloads
 */

/**
 * One stored event record (the public event shape), as makeRecord builds it and reads
 * return it.
 * @typedef {object} EventRecord
 * @property {number} position
 * @property {string} id
 * @property {string} stream
 * @property {number} version
 * @property {string} type
 * @property {string[]} tags
 * @property {unknown} data
 * @property {unknown} meta
 * @property {number} recordedAt
 * @property {number} schema
 */

const MAX_DEPTH = 64;

/** A payload problem found by jsonSize, at `path` (relative to the event). */
class PayloadError {
  /**
   * @param {string} path
   * @param {string} message
   */
  constructor(path, message) {
    this.path = path;
    this.message = message;
  }
}

/**
 * The approximate JSON size in bytes of `value`; throws a PayloadError naming the
 * offending value. Accepts exactly JSON's values: plain objects, arrays, strings, finite
 * numbers, booleans, null. Every property is read once.
 * @param {unknown} value
 * @param {string} path
 * @param {number} depth
 * @param {object[]} ancestors the objects above `value` (to find cycles)
 * @returns {number}
 */
function jsonSize(value, path, depth, ancestors) {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      if (!Number.isFinite(value)) throw new PayloadError(path, `is ${value}, which JSON cannot represent`);
      return 8;
    case "boolean":
      return 5;
    case "undefined":
      throw new PayloadError(path, "is undefined; use null or leave the key out");
    case "bigint":
      throw new PayloadError(path, "is a BigInt, which JSON cannot represent; use a string");
    case "function":
      throw new PayloadError(path, "is a function, which cannot be stored");
    case "symbol":
      throw new PayloadError(path, "is a symbol, which cannot be stored");
  }
  if (value === null) return 4;
  const object = /** @type {object} */ (value); // every other typeof was handled above
  if (depth > MAX_DEPTH) throw new PayloadError(path, `is nested deeper than ${MAX_DEPTH} levels`);
  if (ancestors.includes(object)) throw new PayloadError(path, "refers back to itself (a cycle)");
  ancestors.push(object);
  let size = 2;
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) {
      size += jsonSize(object[i], `${path}[${i}]`, depth + 1, ancestors) + 1;
    }
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = object.constructor?.name ?? "object";
      throw new PayloadError(path, `is a ${kind}, not a plain object; convert it first (e.g. a Date to an ISO string)`);
    }
    const record = /** @type {Record<string, unknown>} */ (object);
    for (const key in record) {
      if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
      const item = record[key];
      if (item === undefined) continue; // JSON drops undefined properties; so do we
      size += key.length + 3 + jsonSize(item, `${path}.${key}`, depth + 1, ancestors) + 1;
    }
    if (Object.getOwnPropertySymbols(object).length > 0) {
      throw new PayloadError(path, "has symbol keys, which cannot be stored");
    }
  }
  ancestors.pop();
  return size;
}

/**
 * The payload size of `data` and `meta` (`meta` null counts nothing).
 * @param {unknown} data
 * @param {unknown} meta
 * @returns {number}
 */
function payloadBytes(data, meta) {
  let size = 0;
  if (data !== undefined) size += jsonSize(data, "data", 0, []);
  if (meta !== undefined && meta !== null) size += jsonSize(meta, "meta", 0, []);
  return size;
}

/** A UUIDv7 (what the store makes when an event has no id): the width of the id it will have. */
const STAND_IN_ID = "00000000-0000-7000-8000-000000000000";
/** The widest version and position (`Number.MAX_SAFE_INTEGER`), as the server measures. */
const WIDEST = Number.MAX_SAFE_INTEGER;
/** A time in ms with 13 digits, as every time from 2001 to 2286. */
const STAND_IN_TIME = 1_000_000_000_000;
/** Bytes the JSON of one UTF-16 code unit can take at most (a `\u0001` escape). */
const WORST_BYTES_PER_UNIT = 6;

/** @type {TextEncoder | undefined} */
let encoder;

/**
 * The size in bytes of an event's JSON as a sync server stores and serves it:
 * `{id, stream, version, position, type, tags, data, meta, recordedAt, schema}` (`tags`
 * only when there are some) with the widest version and position; the measure the
 * server compares with its event limit
 * (`protocol::MAX_EVENT_BYTES`, 422 `event_too_large`).
 * @param {string} stream
 * @param {string | undefined} id undefined: the store makes a UUIDv7
 * @param {string} type
 * @param {unknown} data
 * @param {unknown} meta
 * @param {number} schema
 * @param {string[]} [tags]
 * @returns {number}
 */
export function storedEventBytes(stream, id, type, data, meta, schema, tags = []) {
  const json = JSON.stringify({
    id: id ?? STAND_IN_ID,
    stream,
    version: WIDEST,
    position: WIDEST,
    type,
    tags: tags.length > 0 ? tags : undefined,
    data: data === undefined ? null : data,
    meta: meta ?? null,
    recordedAt: STAND_IN_TIME,
    schema,
  });
  encoder ??= new TextEncoder();
  return encoder.encode(json).length;
}

/**
 * Throws when event `at` would be larger than `maxEventBytes` as the server stores it.
 * The exact measure (JSON.stringify) runs only when the cheap one (`approx`, from
 * jsonSize) cannot rule it out, so small events cost nothing more.
 * @param {string} at
 * @param {number} approx the event's payload size from payloadBytes
 * @param {string} stream
 * @param {string | undefined} id
 * @param {string} type
 * @param {unknown} data
 * @param {unknown} meta
 * @param {number} schema
 * @param {string[]} tags
 * @param {number} maxEventBytes
 */
function checkEventSize(at, approx, stream, id, type, data, meta, schema, tags, maxEventBytes) {
  let tagUnits = 0;
  for (const tag of tags) tagUnits += tag.length + 3;
  const envelope = (stream.length + type.length + (id ?? STAND_IN_ID).length + tagUnits) * WORST_BYTES_PER_UNIT + 210;
  if (approx * WORST_BYTES_PER_UNIT + envelope <= maxEventBytes) return;
  const size = storedEventBytes(stream, id, type, data, meta, schema, tags);
  if (size > maxEventBytes) {
    throw fieldError(
      at,
      `is ${size} bytes as the sync server stores it; the limit is ${maxEventBytes} bytes (the open option maxEventBytes): split it, or keep large blobs outside the log`,
    );
  }
}

// The IndexedDB request plumbing, an append's requests, the query walk and the query
// shape check, re-exported for js/index.js (which keeps to four modules: see there).
export {
  appendHeads, candidateRecords, inspectQuery, intersectKeys, logPage, lookupIds, markPending, markPendingFrom,
  openDatabase, settled, streamPage, transaction, transactionDone, upgradeSchema, writeHeads,
} from "./idb.js";
// Retention's IndexedDB plumbing, for the same reason.
export { logRead, retentionHeld, retentionDrop, readFloor, streamBounds } from "./retention.js";

const EVENT_KEYS = new Set(["id", "type", "tags", "data", "meta", "schema"]);

/**
 * `value`'s kind for a message: "null", "an array", "a number", ...
 * @param {unknown} value
 * @returns {string}
 */
export function describeType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/**
 * Whether `text` is well-formed UTF-16 (no lone surrogate).
 * @param {string} text
 */
function wellFormed(text) {
  const native = /** @type {{ isWellFormed?: () => boolean }} */ (/** @type {unknown} */ (text)).isWellFormed;
  if (typeof native === "function") return native.call(text);
  return !/[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));
}

/**
 * @param {string} field
 * @param {string} message
 * @returns {FieldError}
 */
function fieldError(field, message) {
  return { field, message };
}

/**
 * Checks a whole batch of input events in one pass and copies each into a plain
 * `{ type, tags, data, meta, schema }` object. Each field of an event is read exactly once,
 * and the checks run on what was read, so a getter cannot hand the store something
 * other than what was checked. The string rules of types, tags and ids (and the tag
 * limits) are checked by the Rust side.
 * @param {unknown} input the `events` argument of `append`
 * @param {string} [stream] the stream appended to (for the size check)
 * @param {number} [maxEventBytes] refuse an event larger than this as the sync server
 *   stores it ({@link storedEventBytes}); 0 or absent: no limit
 * @returns {InspectedBatch}
 * @throws {FieldError} for the first problem, `field` naming it (e.g. `events[1].data.when`)
 */
export function inspectEvents(input, stream = "", maxEventBytes = 0) {
  if (!Array.isArray(input)) {
    throw fieldError("events", `must be an array of events, got ${describeType(input)}`);
  }
  const n = input.length;
  /** @type {CheckedEvent[]} */
  const events = new Array(n);
  /** @type {string[]} */
  const types = new Array(n);
  /** @type {(string | undefined)[]} */
  const ids = new Array(n);
  /** @type {string[][]} */
  const tagLists = new Array(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const at = `events[${i}]`;
    const event = input[i];
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      throw fieldError(at, "must be an object like { type, data }");
    }
    /** @type {unknown} */ let type;
    /** @type {unknown} */ let id;
    /** @type {unknown} */ let data;
    /** @type {unknown} */ let meta;
    /** @type {unknown} */ let schema;
    /** @type {unknown} */ let tags;
    let approx = 0;
    try {
      for (const key of Object.keys(event)) {
        if (!EVENT_KEYS.has(key)) {
          throw fieldError(`${at}.${key}`, "is not an event field (allowed: id, type, tags, data, meta, schema)");
        }
      }
      ({ type, id, tags, data, meta, schema } = event);
      approx = payloadBytes(data, meta);
      bytes += approx;
      tags = copyTags(tags, `${at}.tags`);
    } catch (e) {
      if (e instanceof PayloadError) throw fieldError(`${at}.${e.path}`, e.message);
      if (isFieldError(e)) throw e;
      throw fieldError(at, `cannot be checked: ${e}`); // e.g. a getter or proxy that throws
    }
    if (type === undefined) throw fieldError(`${at}.type`, "is missing: every event needs a type name");
    if (typeof type !== "string") throw fieldError(`${at}.type`, `must be a string, got ${describeType(type)}`);
    if (!wellFormed(type)) throw fieldError(`${at}.type`, "contains a lone surrogate (not valid Unicode)");
    if (id !== undefined && id !== null) {
      if (typeof id !== "string") throw fieldError(`${at}.id`, `must be a string, got ${describeType(id)}`);
      if (!wellFormed(id)) throw fieldError(`${at}.id`, "contains a lone surrogate (not valid Unicode)");
      ids[i] = id;
    }
    if (schema !== undefined && !(typeof schema === "number" && Number.isInteger(schema) && schema >= 1 && schema <= 0xffffffff)) {
      throw fieldError(`${at}.schema`, "must be a whole number from 1 to 2^32 - 1");
    }
    if (maxEventBytes > 0) {
      checkEventSize(at, approx, stream, ids[i], type, data, meta, /** @type {number} */ (schema ?? 1), /** @type {string[]} */ (tags), maxEventBytes);
    }
    types[i] = type;
    const checkedTags = /** @type {string[]} */ (tags);
    tagLists[i] = checkedTags;
    events[i] = { type, tags: checkedTags, data: data === undefined ? null : data, meta: meta ?? null, schema: schema ?? 1 };
  }
  return { events, types, tags: tagLists, ids, bytes };
}

/**
 * An event's `tags` copied into a new array of strings (absent or null: none); each
 * element is read once. The Rust side checks the tag rules and limits.
 * @param {unknown} tags
 * @param {string} at the field path (`events[i].tags`)
 * @returns {string[]}
 */
function copyTags(tags, at) {
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw fieldError(at, `must be an array of strings, got ${describeType(tags)}`);
  const n = tags.length;
  // More than the limit is refused by the Rust side; do not copy a huge array first.
  if (n > 1024) throw fieldError(at, `has ${n} tags; an event carries at most 32`);
  /** @type {string[]} */
  const copy = new Array(n);
  for (let j = 0; j < n; j++) {
    const tag = tags[j];
    if (typeof tag !== "string") throw fieldError(`${at}[${j}]`, `must be a string, got ${describeType(tag)}`);
    if (!wellFormed(tag)) throw fieldError(`${at}[${j}]`, "contains a lone surrogate (not valid Unicode)");
    copy[j] = tag;
  }
  return copy;
}

/**
 * @param {unknown} e
 * @returns {e is FieldError}
 */
function isFieldError(e) {
  return typeof e === "object" && e !== null && !(e instanceof Error) && typeof (/** @type {FieldError} */ (e)).field === "string";
}

/**
 * One stored event record (the public event shape).
 * @param {number} position
 * @param {string} id
 * @param {string} stream
 * @param {number} version
 * @param {string} type
 * @param {string[]} tags
 * @param {unknown} data
 * @param {unknown} meta
 * @param {number} recordedAt
 * @param {number} schema
 * @returns {EventRecord}
 */
export function makeRecord(position, id, stream, version, type, tags, data, meta, recordedAt, schema) {
  return { position, id, stream, version, type, tags, data, meta, recordedAt, schema };
}

/**
 * A projection snapshot record, as the `snapshots` store keeps it (the memory backend
 * keeps the same shape).
 * @param {string} name the projection's
 * @param {unknown} state
 * @param {number} position the global position the state reflects
 * @param {number} version the projection's revision
 * @param {number} moves the move epoch the state reflects
 */
export function snapshotRecord(name, state, position, version, moves) {
  return { name, state, position, version, moves, savedAt: Date.now() };
}

/**
 * One row of `streams()`: `{ stream, version, lastPosition, syncedVersion }`.
 * @param {string} stream
 * @param {number} version
 * @param {number} lastPosition
 * @param {number} syncedVersion
 */
export function streamRow(stream, version, lastPosition, syncedVersion) {
  return { stream, version, lastPosition, syncedVersion };
}

/**
 * The rows of `streams()` from stored stream heads: the public shape only (the stored
 * heads also carry sync bookkeeping); heads written before schema 3 have no
 * `syncedVersion`: nothing of them is synced (0).
 * @param {{ stream: string, version: number, lastPosition: number, syncedVersion?: number }[]} heads
 */
export function streamRows(heads) {
  return heads.map((h) => streamRow(h.stream, h.version, h.lastPosition, h.syncedVersion ?? 0));
}

/**
 * Builds the stored records of a batch (the public event shape) and adds them to an
 * IndexedDB object store, in one call. Event `i` gets position `firstPosition + i` and
 * version `firstVersion + i`.
 * @param {{ add(value: EventRecord): unknown }} store an IDBObjectStore in a readwrite transaction
 * @param {CheckedEvent[]} events from {@link inspectEvents}
 * @param {string[]} ids one id per event (generated where the input had none)
 * @param {string} stream
 * @param {number} firstVersion
 * @param {number} firstPosition
 * @param {number} recordedAt
 * @returns {FieldError | { error: unknown } | null} null, or for the first event the store
 *   refused synchronously what it threw, as a FieldError (`events[i].data`) when it
 *   cannot be cloned (DataCloneError); the caller aborts
 */
export function addRecords(store, events, ids, stream, firstVersion, firstPosition, recordedAt) {
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const record = makeRecord(firstPosition + i, ids[i], stream, firstVersion + i, e.type, e.tags, e.data, e.meta, recordedAt, e.schema);
    try {
      store.add(record);
    } catch (error) {
      const { name, message } = /** @type {{ name?: unknown, message?: unknown }} */ (error ?? {});
      if (name === "DataCloneError") return fieldError(`events[${i}].data`, `cannot be stored: ${message}`);
      return { error };
    }
  }
  return null;
}

/**
 * The payload size of a stored event, measured exactly as {@link inspectEvents} measured
 * it at append time (so the outbox's pendingBytes can be kept by adding and
 * subtracting); 0 for a payload that is not JSON.
 * @param {unknown} data
 * @param {unknown} meta
 * @returns {number}
 */
export function payloadSize(data, meta) {
  try {
    return payloadBytes(data, meta);
  } catch {
    return 0;
  }
}

/**
 * Checks an options argument (the one check of every options object, in `open`,
 * `append`, `read`, ... and the sync options): `undefined` or `null` is no options
 * (false); anything but a plain object, or an object with a key outside `allowed`, is
 * refused, so a misspelt option never passes silently.
 * @param {unknown} value
 * @param {string} field what the argument is called in messages (`options`, `options.retain`)
 * @param {string} allowed the known keys, comma-separated (`"fromVersion,limit"`)
 * @returns {boolean} whether options were given
 * @throws {FieldError}
 */
export function checkOptions(value, field, allowed) {
  if (value === undefined || value === null) return false;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw fieldError(field, `must be an object, got ${describeType(value)}`);
  }
  const known = allowed.split(",");
  const key = unknownKey(value, known);
  if (key !== undefined) {
    throw fieldError(`${field}.${key}`, `is not a known option (known: ${known.join(", ")})`);
  }
  return true;
}

/**
 * A string argument that is valid UTF-16 (no lone surrogate).
 * @param {unknown} value
 * @param {string} field
 * @returns {string}
 * @throws {FieldError}
 */
export function checkString(value, field) {
  if (typeof value !== "string") throw fieldError(field, `must be a string, got ${describeType(value)}`);
  if (!wellFormed(value)) throw fieldError(field, "contains a lone surrogate (not valid Unicode)");
  return value;
}

/**
 * A whole-number argument: from 0 to 2^53 - 1.
 * @param {unknown} value
 * @param {string} field
 * @returns {number}
 * @throws {FieldError}
 */
export function checkWhole(value, field) {
  if (typeof value !== "number") throw fieldError(field, `must be a number, got ${describeType(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fieldError(field, "must be a whole number from 0 to 2^53 - 1");
  }
  return value;
}

/**
 * A boolean option: `undefined` is `otherwise`; anything but a boolean is refused.
 * @param {unknown} value
 * @param {string} field
 * @param {boolean} otherwise
 * @returns {boolean}
 * @throws {FieldError}
 */
export function checkFlag(value, field, otherwise) {
  if (value === undefined) return otherwise;
  if (typeof value !== "boolean") throw fieldError(field, `must be true or false, got ${describeType(value)}`);
  return value;
}

/**
 * The first own enumerable key of `options` not in `allowed`, or undefined.
 * @param {object} options
 * @param {readonly string[]} allowed
 * @returns {string | undefined}
 */
export function unknownKey(options, allowed) {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) return key;
  }
  return undefined;
}
