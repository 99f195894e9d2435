import { test } from "node:test";
import assert from "node:assert/strict";
import { floorOf, logRead, oldest } from "./retention.js";

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
