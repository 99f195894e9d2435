// Unit tests of js/fold.js (no wasm, no browser): folding, upcaster chains, skip mode
// and its report, failures naming the event, the live feeder and the task queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addUpcaster, describeThrown, foldPage, liveFeeder, newFold, newUpcasters, serialize, upcastEvent, upcastRecords,
} from "./fold.js";

/** Records 1..n as stored: alternating streams "a" and "b", data { n }. */
function log(n, { type = "Added", schema = 1 } = {}) {
  return Array.from({ length: n }, (_, k) => {
    const i = k + 1;
    const stream = i % 2 === 1 ? "a" : "b";
    return { position: i, id: `e${i}`, stream, version: Math.ceil(i / 2), type, data: { n: i }, meta: null, recordedAt: 0, schema };
  });
}

const sum = (s, e) => s + e.data.n;
const fold = (reducer, state, over = {}) =>
  newFold(reducer, state, over.upcasters ?? null, over.toPosition ?? Infinity, over.after ?? 0, over.streams ?? null, over.skip ?? false);

test("folds pages in order into one state, whatever the page size", () => {
  const records = log(1000);
  for (const size of [1, 7, 128, 1000]) {
    const ctx = fold(sum, 0);
    for (let i = 0; i < records.length; i += size) {
      const page = records.slice(i, i + size);
      assert.equal(foldPage(ctx, page), page.length);
    }
    assert.equal(ctx.state, 500_500);
    assert.equal(ctx.applied, 1000);
    assert.equal(ctx.lastPosition, 1000);
    assert.equal(ctx.lastVersion, 500);
    assert.equal(ctx.after, 1000);
  }
});

test("time travel: a page stops at toPosition; covered records and other streams are consumed, not applied", () => {
  const ctx = fold(sum, 0, { toPosition: 4 });
  assert.equal(foldPage(ctx, log(10)), 4, "records 5.. are not consumed");
  assert.equal(ctx.state, 1 + 2 + 3 + 4);
  assert.equal(ctx.lastPosition, 4);

  const resumed = fold(sum, 0, { after: 6 });
  assert.equal(foldPage(resumed, log(10)), 10);
  assert.equal(resumed.state, 7 + 8 + 9 + 10);
  assert.equal(resumed.applied, 4);

  const onlyA = fold(sum, 0, { streams: ["a"] });
  assert.equal(foldPage(onlyA, log(10)), 10);
  assert.equal(onlyA.state, 1 + 3 + 5 + 7 + 9);
  assert.equal(onlyA.lastPosition, 10, "the other streams' records still count as covered");

  const empty = fold(sum, 42);
  assert.equal(foldPage(empty, []), 0);
  assert.deepEqual([empty.state, empty.lastPosition, empty.lastVersion], [42, 0, 0]);
});

test("upcaster chain 1 -> 2 -> 3: each step sees the event at its schema; stored records stay as they are", () => {
  const registry = newUpcasters();
  const calls = [];
  assert.equal(addUpcaster(registry, "Priced", 2, (data, event) => {
    calls.push(event.schema);
    return { amount: { value: data.amount, currency: "EUR" } };
  }), true);
  assert.equal(addUpcaster(registry, "Priced", 1, (data, event) => {
    calls.push(event.schema);
    return { amount: data.cents / 100 };
  }), true);
  assert.equal(addUpcaster(registry, "Priced", 1, (d) => d), false, "a step registers once");
  const stored = [
    { position: 1, id: "p1", stream: "p", version: 1, type: "Priced", data: { cents: 150 }, meta: null, recordedAt: 0, schema: 1 },
    { position: 2, id: "p2", stream: "p", version: 2, type: "Priced", data: { amount: 2.5 }, meta: null, recordedAt: 0, schema: 2 },
    { position: 3, id: "p3", stream: "p", version: 3, type: "Priced", data: { amount: { value: 4, currency: "EUR" } }, meta: null, recordedAt: 0, schema: 3 },
    { position: 4, id: "o1", stream: "p", version: 4, type: "Other", data: 1, meta: null, recordedAt: 0, schema: 1 },
  ];
  const copy = structuredClone(stored);
  const ctx = fold((s, e) => [...s, [e.schema, e.type === "Priced" ? e.data.amount.value : e.data]], [], { upcasters: registry });
  foldPage(ctx, stored);
  assert.deepEqual(ctx.state, [[3, 1.5], [3, 2.5], [3, 4], [1, 1]]);
  assert.deepEqual(calls, [1, 2, 2]);
  assert.deepEqual(stored, copy, "the records handed in are not changed");
  assert.equal(upcastEvent(registry, stored[3]), stored[3], "no step: the same object, no copy");

  const raw = fold((s, e) => [...s, e.schema], [], { upcasters: null });
  foldPage(raw, stored);
  assert.deepEqual(raw.state, [1, 2, 3, 1], "upcasters null: events as stored");

  const read = structuredClone(stored);
  assert.equal(upcastRecords(registry, read), read);
  assert.deepEqual(read.map((e) => e.schema), [3, 3, 3, 1]);
  assert.deepEqual(read[0].data, { amount: { value: 1.5, currency: "EUR" } });
});

test("a throwing reducer stops the fold: the failure names the stored event and keeps what was thrown", () => {
  const thrown = new RangeError("no booms");
  const records = log(4);
  records[2] = { ...records[2], type: "Boom", id: "bad-1" };
  const reducer = (s, e) => { if (e.type === "Boom") throw thrown; return s + e.data.n; };
  const ctx = fold(reducer, 0);
  assert.equal(foldPage(ctx, records), -1);
  assert.equal(ctx.state, 1 + 2, "the state before the failing event");
  assert.equal(ctx.applied, 2);
  const { event, cause } = ctx.failure;
  assert.deepEqual([event.position, event.id, event.stream, event.version, event.type], [3, "bad-1", "a", 2, "Boom"]);
  assert.equal(cause, thrown, "the thrown value itself");
  assert.equal(describeThrown(cause), "RangeError: no booms");
  assert.equal(describeThrown("plain"), "plain");
  assert.equal(describeThrown(Object.create(null)), "[object Object]", "even a value String() refuses");
});

test("a throwing upcaster fails like a reducer, with the event as stored (before any step)", () => {
  const registry = newUpcasters();
  addUpcaster(registry, "Added", 1, (data) => ({ n: data.n * 10 }));
  addUpcaster(registry, "Added", 2, () => { throw new Error("no"); });
  const ctx = fold(sum, 0, { upcasters: registry });
  assert.equal(foldPage(ctx, log(3)), -1);
  assert.deepEqual([ctx.failure.event.position, ctx.failure.event.schema, ctx.failure.event.data], [1, 1, { n: 1 }]);
  assert.equal(describeThrown(ctx.failure.cause), "Error: no");

  const read = log(3);
  assert.throws(() => upcastRecords(registry, read), (e) => e.replayIndex === 0 && e.cause.message === "no");
});

test("a reducer returning a Promise is refused with a TypeError", () => {
  const ctx = fold(async (s) => s, 0);
  assert.equal(foldPage(ctx, log(1)), -1);
  assert.ok(ctx.failure.cause instanceof TypeError);
  assert.match(ctx.failure.cause.message, /reducers must be synchronous/);
});

test("skip mode: failing events (reducer or upcaster) are skipped and listed in order; the rest is applied", () => {
  const registry = newUpcasters();
  addUpcaster(registry, "Old", 1, () => { throw new Error("cannot raise"); });
  const records = [
    { position: 1, id: "ok-1", stream: "s", version: 1, type: "Ok", data: 1, meta: null, recordedAt: 0, schema: 1 },
    { position: 2, id: "bad-1", stream: "s", version: 2, type: "Boom", data: 2, meta: null, recordedAt: 0, schema: 1 },
    { position: 3, id: "ok-2", stream: "s", version: 3, type: "Ok", data: 3, meta: null, recordedAt: 0, schema: 1 },
    { position: 4, id: "bad-2", stream: "s", version: 4, type: "Old", data: 4, meta: null, recordedAt: 0, schema: 1 },
  ];
  const reducer = (s, e) => { if (e.type === "Boom") throw new Error("boom"); return s + e.data; };
  const ctx = fold(reducer, 0, { upcasters: registry, skip: true });
  assert.equal(foldPage(ctx, records.slice(0, 2)), 2);
  assert.equal(foldPage(ctx, records.slice(2)), 2);
  assert.equal(ctx.state, 4);
  assert.equal(ctx.applied, 2);
  assert.deepEqual(ctx.skipped, ["bad-1", "bad-2"]);
  assert.equal(ctx.failure, null);
  assert.deepEqual([ctx.lastPosition, ctx.lastVersion], [4, 4], "skipped events count as covered");
});

test("the live feeder folds the next event, ignores covered ones and asks for a catch-up after a gap", () => {
  const ctx = fold(sum, 0, { after: 2 });
  const pages = [];
  let gaps = 0;
  const feed = liveFeeder(ctx, (applied) => pages.push(applied), () => gaps++);
  const [, e2, e3, , e5] = log(5);
  feed(e2);
  feed(e3);
  feed(e5);
  assert.deepEqual(pages, [1]);
  assert.equal(gaps, 1);
  assert.equal(ctx.state, 3);
  assert.equal(ctx.after, 3);

  const failing = fold(() => { throw new Error("x"); }, 0);
  const out = [];
  liveFeeder(failing, (applied) => out.push(applied), () => {})(log(1)[0]);
  assert.deepEqual(out, [-1]);
  assert.equal(failing.failure.event.id, "e1");
});

test("serialize runs tasks one after another, after failures too", async () => {
  const holder = { tail: Promise.resolve() };
  const order = [];
  const slow = serialize(holder, async () => { await new Promise((r) => setTimeout(r, 20)); order.push("slow"); throw new Error("slow failed"); });
  const fast = serialize(holder, async () => { order.push("fast"); return 7; });
  await assert.rejects(slow, /slow failed/);
  assert.equal(await fast, 7);
  assert.deepEqual(order, ["slow", "fast"]);
});
