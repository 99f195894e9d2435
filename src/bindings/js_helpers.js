// Small JS helpers the Rust bindings import (src/bindings/js.rs). They do what is
// cheaper on the JS side of the boundary: walking a value once, building records.

const MAX_DEPTH = 64;

// Returns the approximate JSON size in bytes of `value`, or throws { path, message }
// naming the offending value. Accepts exactly JSON's values: plain objects,
// arrays, strings, finite numbers, booleans, null.
function jsonSize(value, path, depth, ancestors) {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      if (!Number.isFinite(value)) throw { path, message: `is ${value}, which JSON cannot represent` };
      return 8;
    case "boolean":
      return 5;
    case "undefined":
      throw { path, message: `is undefined; use null or leave the key out` };
    case "bigint":
      throw { path, message: `is a BigInt, which JSON cannot represent; use a string` };
    case "function":
      throw { path, message: `is a function, which cannot be stored` };
    case "symbol":
      throw { path, message: `is a symbol, which cannot be stored` };
  }
  if (value === null) return 4;
  if (depth > MAX_DEPTH) throw { path, message: `is nested deeper than ${MAX_DEPTH} levels` };
  if (ancestors.includes(value)) throw { path, message: `refers back to itself (a cycle)` };
  ancestors.push(value);
  let size = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      size += jsonSize(value[i], `${path}[${i}]`, depth + 1, ancestors) + 1;
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = value?.constructor?.name ?? "object";
      throw { path, message: `is a ${kind}, not a plain object; convert it first (e.g. a Date to an ISO string)` };
    }
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      const item = value[key];
      if (item === undefined) continue; // JSON drops undefined properties; so do we
      size += key.length + 3 + jsonSize(item, `${path}.${key}`, depth + 1, ancestors) + 1;
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw { path, message: `has symbol keys, which cannot be stored` };
    }
  }
  ancestors.pop();
  return size;
}

const EVENT_KEYS = new Set(["id", "type", "data", "meta", "schema"]);

// Checks one input event's shape; returns its approximate payload size in bytes.
// Throws { field, message } for the Rust side to turn into an InvalidInputError.
export function checkEvent(event, index) {
  const at = `events[${index}]`;
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw { field: at, message: "must be an object like { type, data }" };
  }
  for (const key of Object.keys(event)) {
    if (!EVENT_KEYS.has(key)) {
      throw { field: `${at}.${key}`, message: "is not an event field (allowed: id, type, data, meta, schema)" };
    }
  }
  let size = 0;
  try {
    if (event.data !== undefined) size += jsonSize(event.data, "data", 0, []);
    if (event.meta !== undefined && event.meta !== null) size += jsonSize(event.meta, "meta", 0, []);
  } catch (e) {
    if (e && typeof e.path === "string") throw { field: `${at}.${e.path}`, message: e.message };
    throw { field: at, message: `cannot be checked: ${e}` }; // e.g. a RangeError from a getter
  }
  return size;
}

function describeType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function wellFormed(text) {
  return typeof text.isWellFormed === "function" ? text.isWellFormed() : !/[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));
}

// Checks a whole batch of input events in one pass and copies each into a plain
// { type, data, meta, schema } object (every field read once, so a getter cannot hand
// the store something other than what was checked). Returns { events, types, ids, bytes };
// the string rules of types and ids are checked by the Rust side. Throws { field, message }.
export function inspectEvents(input) {
  if (!Array.isArray(input)) {
    throw { field: "events", message: `must be an array of events, got ${describeType(input)}` };
  }
  const n = input.length;
  const events = new Array(n), types = new Array(n), ids = new Array(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const event = input[i];
    bytes += checkEvent(event, i);
    const { type, id, data, meta, schema } = event;
    if (type === undefined) throw { field: `events[${i}].type`, message: "is missing: every event needs a type name" };
    if (typeof type !== "string") throw { field: `events[${i}].type`, message: `must be a string, got ${describeType(type)}` };
    if (!wellFormed(type)) throw { field: `events[${i}].type`, message: "contains a lone surrogate (not valid Unicode)" };
    if (id !== undefined && id !== null) {
      if (typeof id !== "string") throw { field: `events[${i}].id`, message: `must be a string, got ${describeType(id)}` };
      if (!wellFormed(id)) throw { field: `events[${i}].id`, message: "contains a lone surrogate (not valid Unicode)" };
      ids[i] = id;
    }
    if (schema !== undefined && !(Number.isInteger(schema) && schema >= 1 && schema <= 0xffffffff)) {
      throw { field: `events[${i}].schema`, message: "must be a whole number from 1 to 2^32 - 1" };
    }
    types[i] = type;
    events[i] = { type, data: data === undefined ? null : data, meta: meta ?? null, schema: schema ?? 1 };
  }
  return { events, types, ids, bytes };
}

// One stored event record (the public event shape).
export function makeRecord(position, id, stream, version, type, data, meta, recordedAt, schema) {
  return { position, id, stream, version, type, data, meta, recordedAt, schema };
}

// Builds the stored records of a batch (the public event shape) and adds them to the
// IndexedDB object store, in one call. Returns null, or { index, error } for the first
// event IndexedDB refused synchronously (e.g. a DataCloneError); the caller aborts.
export function addRecords(store, events, ids, stream, firstVersion, firstPosition, recordedAt) {
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const record = makeRecord(firstPosition + i, ids[i], stream, firstVersion + i, e.type, e.data, e.meta, recordedAt, e.schema);
    try {
      store.add(record);
    } catch (error) {
      return { index: i, error };
    }
  }
  return null;
}

// The payload size of a stored event, measured exactly as checkEvent measured it at
// append time (so the outbox's pendingBytes can be kept by adding and subtracting).
export function payloadSize(data, meta) {
  try {
    let size = 0;
    if (data !== undefined) size += jsonSize(data, "data", 0, []);
    if (meta !== undefined && meta !== null) size += jsonSize(meta, "meta", 0, []);
    return size;
  } catch {
    return 0;
  }
}

// Checks an options object against the allowed keys; returns the first unknown key.
export function unknownKey(options, allowed) {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) return key;
  }
  return undefined;
}

// Calls `callback(event)`; a throwing callback is reported (reportError / console),
// never swallowed, and never stops delivery to other subscribers.
export function deliver(callback, event) {
  try {
    callback(event);
  } catch (error) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(error);
    else console.error("tidelog: a subscriber threw", error);
  }
}

// structuredClone where the host has it (all current browsers, Node 17+, workerd).
export function cloneValue(value) {
  return typeof globalThis.structuredClone === "function" ? globalThis.structuredClone(value) : value;
}

// ---- The replay engine (src/bindings/replay.rs) ----------------------------------------
// A page of events is folded in ONE call: no boundary crossing and no serde per event.

// A store's upcaster registry: type -> (fromSchema -> fn(data, event) -> data).
export function newUpcasters() {
  return new Map();
}

// Registers one step; false when that step is already registered.
export function addUpcaster(registry, type, fromSchema, fn) {
  let steps = registry.get(type);
  if (steps === undefined) registry.set(type, (steps = new Map()));
  if (steps.has(fromSchema)) return false;
  steps.set(fromSchema, fn);
  return true;
}

// The event raised through every registered step from its schema on (a copy when a step
// applies; the input is never changed).
function upcastOne(registry, event) {
  const steps = registry.get(event.type);
  if (steps === undefined) return event;
  let fn = steps.get(event.schema);
  if (fn === undefined) return event;
  const out = { ...event };
  while (fn !== undefined) {
    out.data = fn(out.data, out);
    out.schema += 1;
    fn = steps.get(out.schema);
  }
  return out;
}

// Upcasts an array of read records in place (they are fresh copies of the stored events).
// A throwing upcaster throws { replayIndex, cause }.
export function upcastRecords(registry, records) {
  if (registry.size === 0) return records;
  for (let i = 0; i < records.length; i++) {
    try {
      records[i] = upcastOne(registry, records[i]);
    } catch (cause) {
      throw { replayIndex: i, cause };
    }
  }
  return records;
}

// A fold context: the reducer, the state, and the bookkeeping of one replay/projection.
// `after`: events at or below this position are already applied (skipped silently).
export function newFold(reducer, state, upcasters, toPosition, after, streams, skip) {
  return {
    reducer, state, upcasters, toPosition, after, skip,
    streams: streams === null ? null : new Set(streams),
    skipped: [], applied: 0, lastPosition: 0, lastVersion: 0, failure: null, tail: Promise.resolve(),
  };
}

// Folds `records` (in position order) into ctx.state. Returns how many records it
// consumed (fewer than records.length when it reached ctx.toPosition), or -1 when an
// event failed and ctx.skip is false (ctx.failure = { event, cause }).
export function foldPage(ctx, records) {
  const { reducer, upcasters, toPosition, after, streams, skip } = ctx;
  const upcast = upcasters !== null && upcasters.size !== 0;
  let state = ctx.state;
  let applied = 0;
  let i = 0;
  const n = records.length;
  for (; i < n; i++) {
    let event = records[i];
    const position = event.position;
    if (position > toPosition) break;
    if (position <= after) continue;
    if (streams !== null && !streams.has(event.stream)) continue;
    try {
      if (upcast) event = upcastOne(upcasters, event);
      const next = reducer(state, event);
      if (next !== null && typeof next === "object" && typeof next.then === "function") {
        throw new TypeError("the reducer returned a Promise; reducers must be synchronous (state, event) => state");
      }
      state = next;
      applied++;
    } catch (cause) {
      if (!skip) {
        ctx.state = state;
        ctx.applied += applied;
        ctx.failure = { event: records[i], cause };
        return -1;
      }
      ctx.skipped.push(event.id);
    }
  }
  ctx.state = state;
  ctx.applied += applied;
  if (i > 0) {
    const last = records[i - 1];
    ctx.lastPosition = last.position;
    ctx.lastVersion = last.version;
    if (last.position > ctx.after) ctx.after = last.position;
  }
  return i;
}

// The live feed of a projection: applies an event that directly follows what the fold
// covers and reports the outcome with onPage(consumedOrMinusOne, applied); an event past
// a gap (e.g. during a rebuild) asks for a catch-up with onGap() instead.
export function liveFeeder(ctx, onPage, onGap) {
  return (event) => {
    if (event.position <= ctx.after) return;
    if (event.position !== ctx.after + 1) return onGap();
    const before = ctx.applied;
    const consumed = foldPage(ctx, [event]);
    onPage(consumed, ctx.applied - before);
  };
}

// Runs task() (which returns a promise) after every task queued before on `holder`.
export function serialize(holder, task) {
  const run = holder.tail.then(() => task(), () => task());
  holder.tail = run.catch(() => {});
  return run;
}

// A thrown value as text, whatever it is.
export function describeThrown(value) {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// ---- error classes ------------------------------------------------------------------
// Every error tidelog throws or reports is an instance of one of these (so `instanceof`
// works) with a stable `name` and `code`; the package re-exports them.
export class TidelogError extends Error {}
export class InvalidInputError extends TidelogError {}
export class VersionConflictError extends TidelogError {}
export class QuotaExceededError extends TidelogError {}
export class StorageError extends TidelogError {}
export class ClosedError extends TidelogError {}
export class ReplayError extends TidelogError {}
export class SyncError extends TidelogError {}

const ERROR_CLASSES = {
  TidelogError, InvalidInputError, VersionConflictError, QuotaExceededError,
  StorageError, ClosedError, ReplayError, SyncError,
};
// Names as strings, not `constructor.name`: minifiers rename classes.
for (const [name, cls] of Object.entries(ERROR_CLASSES)) {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

// A new error of the class called `name` (TidelogError for an unknown name).
export function makeError(name, message) {
  const cls = ERROR_CLASSES[name] ?? TidelogError;
  return new cls(message);
}
