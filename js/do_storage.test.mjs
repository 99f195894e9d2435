// The Durable Object storage mapping without wasm or workerd: kvGet, kvList, kvPutIf
// against a small in-memory ctx.storage with Durable Object semantics (128 keys per
// call, list by ascending key, a transaction commits only when its body resolves).
import { test } from "node:test";
import assert from "node:assert/strict";
import { kvGet, kvList, kvPutIf } from "./do_storage.js";

const MAX_KEYS = 128;

/** An in-memory `ctx.storage`: get/put/list/transaction. `calls` logs each operation. */
function fakeStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  const calls = [];
  const checkKeys = (keys) => {
    if (keys.length > MAX_KEYS) throw new RangeError(`${keys.length} keys: at most ${MAX_KEYS} per call`);
  };
  const view = (map) => ({
    async get(keys) {
      calls.push(["get", keys.length]);
      checkKeys(keys);
      const found = new Map();
      for (const key of keys) if (map.has(key)) found.set(key, map.get(key));
      return found;
    },
    async put(entries) {
      const keys = Object.keys(entries);
      calls.push(["put", keys.length]);
      checkKeys(keys);
      await null; // a write settles later, as real storage does
      for (const key of keys) map.set(key, entries[key]);
    },
  });
  return {
    data,
    calls,
    ...view(data),
    async list({ prefix = "", start = "", limit = Infinity } = {}) {
      calls.push(["list"]);
      const keys = [...data.keys()].filter((k) => k.startsWith(prefix) && k >= start).sort().slice(0, limit);
      return new Map(keys.map((k) => [k, data.get(k)]));
    },
    async transaction(body) {
      calls.push(["transaction"]);
      const working = new Map(data);
      const result = await body(view(working)); // a throw rolls back: `data` is untouched
      data.clear();
      for (const [k, v] of working) data.set(k, v);
      return result;
    },
  };
}

const bytes = (...values) => new Uint8Array(values);

test("kvGet: one value or undefined per key, in the order asked", async () => {
  const storage = fakeStorage({ a: bytes(1), c: bytes(3) });
  assert.deepEqual(await kvGet(storage, ["c", "b", "a"]), [bytes(3), undefined, bytes(1)]);
  assert.deepEqual(await kvGet(storage, []), []);
});

test("kvList: [key, value, ...] with the prefix, from start (inclusive), by ascending key, up to limit", async () => {
  const storage = fakeStorage({ "v:b:2": bytes(2), "v:b:1": bytes(1), "v:a:1": bytes(9), "v:b:3": bytes(3), s: bytes(0) });
  assert.deepEqual(await kvList(storage, "v:b:", "", 10), ["v:b:1", bytes(1), "v:b:2", bytes(2), "v:b:3", bytes(3)]);
  assert.deepEqual(await kvList(storage, "v:b:", "v:b:2", 1), ["v:b:2", bytes(2)]);
  assert.deepEqual(await kvList(storage, "x", "", 10), []);
});

test("kvPutIf: when every expectation holds, writes everything in one transaction", async () => {
  const storage = fakeStorage({ s: bytes(1), h: bytes(7) });
  const ok = await kvPutIf(storage, ["s", "h", "i:new"], [bytes(1), bytes(7), undefined], ["s", "i:new"], [bytes(2), bytes(5)]);
  assert.equal(ok, true);
  assert.deepEqual(Object.fromEntries(storage.data), { s: bytes(2), h: bytes(7), "i:new": bytes(5) });
  assert.equal(storage.calls.filter(([op]) => op === "transaction").length, 1);
});

test("kvPutIf: any expectation that fails writes nothing", async () => {
  const initial = { s: bytes(1, 2), present: bytes(0) };
  const failing = [
    [["s"], [bytes(1, 3)]], // other bytes
    [["s"], [bytes(1)]], // other length
    [["s"], [undefined]], // expected absent, is present
    [["absent"], [bytes(1)]], // expected present, is absent
    [["present", "s"], [bytes(0), bytes(9, 9)]], // the second of two
  ];
  for (const [keys, values] of failing) {
    const storage = fakeStorage(initial);
    assert.equal(await kvPutIf(storage, keys, values, ["s", "new"], [bytes(3), bytes(4)]), false, JSON.stringify(keys));
    assert.deepEqual(Object.fromEntries(storage.data), initial, "nothing written");
  }
});

test("kvPutIf: more than 128 keys are read and written in calls of at most 128", async () => {
  const n = 300;
  const keys = Array.from({ length: n }, (_, i) => `k:${String(i).padStart(4, "0")}`);
  const storage = fakeStorage(Object.fromEntries(keys.map((k, i) => [k, bytes(i % 256)])));
  const expect = keys.map((_, i) => bytes(i % 256));
  const putKeys = keys.map((k) => `${k}:new`);
  const ok = await kvPutIf(storage, keys, expect, putKeys, putKeys.map(() => bytes(1)));
  assert.equal(ok, true);
  assert.equal(storage.data.size, 2 * n);
  assert.deepEqual(storage.calls.filter(([op]) => op !== "transaction"),
    [["get", 128], ["get", 128], ["get", 44], ["put", 128], ["put", 128], ["put", 44]]);
  // The 299th expectation failing is still found, and nothing is written.
  const again = fakeStorage(Object.fromEntries(keys.map((k, i) => [k, bytes(i % 256)])));
  expect[298] = bytes(0, 0);
  assert.equal(await kvPutIf(again, keys, expect, putKeys, putKeys.map(() => bytes(1))), false);
  assert.equal(again.data.size, n);
});

test("kvPutIf: a failing write rejects and the transaction leaves storage as it was", async () => {
  const storage = fakeStorage({ s: bytes(1) });
  const putKeys = Array.from({ length: 129 }, (_, i) => `p${i}`);
  const original = storage.transaction;
  storage.transaction = (body) => original((txn) => body({
    get: txn.get,
    put: (entries) => ("p128" in entries ? Promise.reject(new Error("storage full")) : txn.put(entries)),
  }));
  await assert.rejects(kvPutIf(storage, ["s"], [bytes(1)], putKeys, putKeys.map(() => bytes(2))), /storage full/);
  assert.deepEqual(Object.fromEntries(storage.data), { s: bytes(1) });
});
