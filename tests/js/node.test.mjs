// The built package in Node (no IndexedDB): the memory store behind the same JS API,
// through the entry Node resolves (`tidelog.node.js`: its one wasm has the memory store;
// the browser entry's client wasm hands memory stores to the memory wasm, which it
// fetches, and Node's fetch does not read file: URLs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { root } from "./harness.mjs";

const tidelog = await import(`${root}/pkg/tidelog.node.js`);
const { EventStore } = tidelog;

test("auto storage is memory where there is no IndexedDB; the API behaves the same", async () => {
  const store = await EventStore.open("node");
  assert.equal(store.storage, "memory");
  const r = await store.append("s", [{ type: "A", data: { n: 1 } }, { type: "B", data: [1, 2] }], { expectedVersion: "no_stream" });
  assert.deepEqual(r, { stream: "s", firstVersion: 1, lastVersion: 2, firstPosition: 1, lastPosition: 2 });
  const events = await store.read("s");
  assert.deepEqual(events.map((e) => [e.version, e.position, e.type, e.data]), [[1, 1, "A", { n: 1 }], [2, 2, "B", [1, 2]]]);
  assert.equal(await store.version("s"), 2);
  await assert.rejects(store.append("s", [{ type: "C" }], { expectedVersion: 1 }), (e) =>
    e instanceof tidelog.VersionConflictError && e instanceof tidelog.TidelogError &&
    e.name === "VersionConflictError" && e.stream === "s" && e.expectedVersion === 1 && e.actualVersion === 2);
  await assert.rejects(store.append("s", [{ type: "C", data: () => 1 }]), { name: "InvalidInputError", field: "events[0].data" });
  assert.equal((await store.readAll()).length, 2, "failed appends wrote nothing");
});

test("stored payloads are copies: mutating input or output changes nothing", async () => {
  const store = await EventStore.open("copies", { storage: "memory" });
  const data = { items: ["a"] };
  await store.append("s", [{ type: "A", data }]);
  data.items.push("mutated");
  const [first] = await store.read("s");
  first.data.items.push("also mutated");
  const [again] = await store.read("s");
  assert.deepEqual(again.data, { items: ["a"] });
});

test("idempotent retries and subscriptions in memory", async () => {
  const store = await EventStore.open("sub", { storage: "memory" });
  const seen = [];
  store.subscribe((e) => seen.push(e.position), { fromPosition: 1 });
  const batch = [{ id: "x1", type: "A" }, { id: "x2", type: "A" }];
  const a = await store.append("s", batch);
  const b = await store.append("s", batch, { expectedVersion: 0 });
  assert.deepEqual(a, b);
  await store.append("t", [{ type: "B" }]);
  for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(store.metrics().idempotentAppends, 1);
  store.close();
  await assert.rejects(store.version("s"), { name: "ClosedError" });
});

test("asking for IndexedDB where there is none is a clear StorageError", async () => {
  await assert.rejects(EventStore.open("x", { storage: "indexeddb" }), (e) =>
    e.name === "StorageError" && e.cause?.name === "NotSupportedError");
});

test("a caller's getter that throws during the input checks: a clear error, and nothing written", async () => {
  const store = await EventStore.open("getter", { storage: "memory" });
  const thrown = new Error("getter says no");
  const event = { data: 1, get type() { throw thrown; } };
  await assert.rejects(store.append("s", [event]), (e) =>
    e.name === "InvalidInputError" && e.field === "events[0]" && /getter says no/.test(e.message));
  await assert.rejects(store.append("s", [{ type: "A" }], { get expectedVersion() { throw thrown; } }), (e) => e === thrown || e.name === "InvalidInputError");
  assert.equal((await store.readAll()).length, 0);
});
