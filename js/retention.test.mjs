import { test } from "node:test";
import assert from "node:assert/strict";
import { floorOf, logRead, oldest, streamBounds } from "./retention.js";

test("floorOf reads a stored floor, 1 when none", () => {
  assert.equal(floorOf(undefined), 1);
  assert.equal(floorOf({ position: 41 }), 41);
  assert.equal(floorOf({ position: 0 }), 1);
  assert.equal(floorOf({ position: "7" }), 1);
});

test("oldest pending position", () => {
  assert.equal(oldest([]), null);
  assert.equal(oldest([9, 4, 12]), 4);
});

test("logRead reads the floor with the page, from the floor when no start is given", async () => {
  const answer = (result) => {
    const request = { result, error: null, onsuccess: null, onerror: null };
    setTimeout(() => request.onsuccess());
    return request;
  };
  globalThis.IDBKeyRange ??= /** @type {any} */ ({ lowerBound: (lower) => ({ lower }) });
  const pages = [];
  const events = { getAll: (range, limit) => (pages.push([range.lower, limit]), answer([{ position: range.lower }])) };
  const meta = { get: (key) => answer({ floor: { position: 5 }, moves: { epoch: 2, log: [] } }[key]) };
  assert.deepEqual(await logRead(events, meta, 0, 10, false), [5, [{ position: 5 }], undefined]);
  assert.deepEqual(await logRead(events, meta, 7, 3, true), [5, [{ position: 7 }], { epoch: 2, log: [] }]);
  assert.deepEqual(pages, [[5, 10], [7, 3]]);
});

/**
 * A fake of the three object stores a stream read uses: every request is logged when it
 * is made and answered on a later task, like IndexedDB's, unless `fail` names it.
 * @param {{ floor?: number, head?: number, held?: number[], fail?: string }} db
 */
function storesOf({ floor, head = 0, held = [], fail }) {
  /** @type {string[]} */
  const log = [];
  const answer = (/** @type {string} */ what, /** @type {unknown} */ result) => {
    log.push(what);
    const request = { result, error: new Error(`${what} failed`), onsuccess: () => {}, onerror: () => {} };
    setTimeout(() => (fail === what ? request.onerror() : request.onsuccess()));
    return request;
  };
  globalThis.IDBKeyRange ??= /** @type {any} */ ({});
  /** @type {any} */ (globalThis.IDBKeyRange).bound = (/** @type {any[]} */ lower, /** @type {any[]} */ upper) => ({ lower, upper });
  const byStream = {
    getAll: (/** @type {{ lower: number[], upper: number[] }} */ range, /** @type {number} */ limit) =>
      limit === 1
        ? answer("first held", held.slice(0, 1).map((version) => ({ version })))
        : answer(`page ${range.lower[1]}-${range.upper[1]}`, held.filter((v) => v >= range.lower[1] && v <= range.upper[1]).map((version) => ({ version }))),
  };
  return {
    log,
    events: { index: () => byStream },
    streams: { get: () => answer("head", head ? { version: head } : undefined) },
    meta: { get: () => answer("floor", floor ? { position: floor } : undefined) },
  };
}

test("streamBounds: a forward page asked for with the floor comes back with it, in the same round, when nothing was dropped", async () => {
  const db = storesOf({ head: 5, held: [1, 2, 3, 4, 5] });
  const bounds = streamBounds(db.events, db.streams, db.meta, "s", false, 2, 3);
  assert.deepEqual(db.log, ["floor", "page 2-3"], "both asked for before either answered");
  assert.deepEqual(await bounds, [1, 0, 0, [{ version: 2 }, { version: 3 }]]);
  const none = storesOf({ head: 5, held: [1, 2, 3, 4, 5] });
  assert.deepEqual(await streamBounds(none.events, none.streams, none.meta, "s", false, 0, 0), [1, 0, 0, undefined], "no page asked for");
  assert.deepEqual(none.log, ["floor"]);
  const backward = storesOf({ head: 5, held: [1, 2, 3, 4, 5] });
  assert.deepEqual(await streamBounds(backward.events, backward.streams, backward.meta, "s", true, 0, 0), [1, 5, 0, undefined]);
});

test("streamBounds: once events were dropped the early page is left out, and its failure is no unhandled rejection", async () => {
  /** @type {unknown[]} */
  const unhandled = [];
  const onUnhandled = (/** @type {unknown} */ reason) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const db = storesOf({ floor: 40, head: 9, held: [7, 8, 9], fail: "page 1-3" });
    assert.deepEqual(await streamBounds(db.events, db.streams, db.meta, "s", false, 1, 3), [40, 9, 7]);
    assert.deepEqual(db.log, ["floor", "page 1-3", "first held", "head"]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("streamBounds: a failed early page fails the read when it is the answer", async () => {
  const db = storesOf({ head: 3, held: [1, 2, 3], fail: "page 1-3" });
  await assert.rejects(streamBounds(db.events, db.streams, db.meta, "s", false, 1, 3), /page 1-3 failed/);
});
