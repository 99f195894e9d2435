// @ts-check
// The IndexedDB side of query reads and append conditions (src/web/indexeddb/query.rs
// calls it inside its transaction): the candidate records of a query from the `by_tag`
// (multiEntry on `tags`) and `by_type` indexes. Per item, the keys (positions) under each
// of its tags are intersected, or, without tags, the keys under each of its types united;
// only those records are read. Whether a candidate matches the whole query is decided by
// the Rust side (one implementation of matching); here only the indexes are walked, in
// JS because a loop of requests costs far fewer bytes here than as a Rust future.

import { settled } from "./idb.js";

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
