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
