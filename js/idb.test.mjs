// The IndexedDB plumbing of js/idb.js against stand-in stores (the real ones run in
// tests/browser_store.rs and the JS suites): which requests are made, and what comes back.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendHeads, inspectQuery, intersectKeys, lookupIds, markPendingFrom, openDatabase, transaction, upgradeSchema, writeHeads,
} from "./idb.js";

/** A store whose `get` answers from `records` in a later task, as IndexedDB does. */
function fakeStore(records) {
  const asked = [];
  const get = (key) => {
    asked.push(key);
    const request = { result: records[key], error: null, onsuccess: null, onerror: null };
    setTimeout(() => request.onsuccess());
    return request;
  };
  return { asked, get, index: (name) => ({ name, get }) };
}

test("appendHeads reads the stream head, the log head, and the feed cursor only when asked", async () => {
  const streams = fakeStore({ s: { stream: "s", version: 2 } });
  const meta = fakeStore({ head: { position: 7 }, feed: { position: 3 } });
  assert.deepEqual(await appendHeads(streams, meta, "s", false), [{ stream: "s", version: 2 }, { position: 7 }, undefined]);
  assert.deepEqual(meta.asked, ["head"]);
  assert.deepEqual(await appendHeads(streams, meta, "t", true), [undefined, { position: 7 }, { position: 3 }]);
  assert.deepEqual(meta.asked, ["head", "head", "feed"]);
});

test("lookupIds answers per id, asking nothing for ids not given", async () => {
  const events = fakeStore({ a: { id: "a", position: 1 } });
  assert.deepEqual(await lookupIds(events, ["a", null, "b"]), [{ id: "a", position: 1 }, undefined, undefined]);
  assert.deepEqual(events.asked, ["a", "b"]);
});

test("writeHeads puts the stream head and the log head", () => {
  const put = [];
  const store = { put: (value, key) => put.push([value, key]) };
  writeHeads(store, store, "s", 3, 9, 1, 120);
  assert.deepEqual(put, [
    [{ stream: "s", version: 3, lastPosition: 9, syncedVersion: 1, pendingBytes: 120 }, undefined],
    [{ position: 9 }, "head"],
  ]);
});

test("transaction passes durability only when given", () => {
  const calls = [];
  const db = { transaction: (...args) => (calls.push(args), "tx") };
  assert.equal(transaction(db, ["events"], false, undefined), "tx");
  transaction(db, ["events", "meta"], true, undefined);
  transaction(db, ["events"], true, "strict");
  assert.deepEqual(calls, [
    [["events"], "readonly"],
    [["events", "meta"], "readwrite"],
    [["events"], "readwrite", { durability: "strict" }],
  ]);
});

test("upgradeSchema creates the log's stores and indexes, step by step", () => {
  const made = [];
  const store = (name) => ({ createIndex: (...args) => made.push([name, "index", ...args]) });
  const db = { createObjectStore: (name, options) => (made.push([name, "store", options]), store(name)) };
  const tx = { objectStore: (name) => store(name) };
  upgradeSchema(db, tx, 0);
  assert.deepEqual(made, [
    ["events", "store", { keyPath: "position" }],
    ["events", "index", "by_stream", ["stream", "version"], { unique: true }],
    ["events", "index", "by_id", "id", { unique: true }],
    ["streams", "store", { keyPath: "stream" }],
    ["meta", "store", undefined],
    ["snapshots", "store", { keyPath: "name" }],
    ["outbox", "store", { keyPath: "stream" }],
    ["dead_letters", "store", { keyPath: "id", autoIncrement: true }],
    ["conflicts", "store", { keyPath: "id", autoIncrement: true }],
    ["events", "index", "by_tag", "tags", { multiEntry: true }],
    ["events", "index", "by_type", "type"],
  ]);
  made.length = 0;
  upgradeSchema(db, tx, 2);
  assert.deepEqual(made.map((m) => m[0]), ["outbox", "dead_letters", "conflicts", "events", "events"]);
  made.length = 0;
  upgradeSchema(db, tx, 3);
  assert.deepEqual(made.map((m) => m[2]), ["by_tag", "by_type"]);
  made.length = 0;
  upgradeSchema(db, tx, 4);
  assert.deepEqual(made, []);
});

test("markPendingFrom reads each stream's head once and marks what is past its synced version", async () => {
  const streams = fakeStore({ a: { stream: "a", version: 3, syncedVersion: 1 }, b: { stream: "b", version: 1 } });
  const records = [
    { stream: "a", version: 1 }, { stream: "a", version: 2 }, { stream: "b", version: 1 }, { stream: "c", version: 1 },
  ];
  await markPendingFrom(streams, records);
  assert.deepEqual(records.map((r) => r.pending), [false, true, true, true]);
  assert.deepEqual(streams.asked, ["a", "b", "c"]);
});

// The index walk of query reads without a browser: intersecting key lists. (The walk over
// real IndexedDB runs in tests/browser_store.rs and tests/js/decision.test.mjs.)

test("intersectKeys keeps the keys every list has, ascending", () => {
  assert.deepEqual(intersectKeys([]), []);
  assert.deepEqual(intersectKeys([[1, 3, 5]]), [1, 3, 5]);
  assert.deepEqual(intersectKeys([[1, 2, 3, 5, 8], [2, 3, 8, 9], [3, 8]]), [3, 8]);
  assert.deepEqual(intersectKeys([[1, 2], []]), []);
});

test("inspectQuery copies the shape and names the first bad field", () => {
  assert.equal(inspectQuery("all", "query"), null);
  assert.deepEqual(inspectQuery([{ types: ["A"] }, { tags: ["t"], types: ["B", "C"] }], "query"), [
    { types: ["A"], tags: null }, { types: ["B", "C"], tags: ["t"] },
  ]);
  assert.deepEqual(inspectQuery([{}], "q"), [{ types: null, tags: null }], "the Rust side refuses the empty item");
  const problem = (value) => {
    try {
      inspectQuery(value, "c.failIfEventsMatch");
    } catch (e) {
      return [e.field, e.message];
    }
    assert.fail("expected a problem");
  };
  assert.deepEqual(problem("some"), ["c.failIfEventsMatch", 'must be "all" or an array of { types, tags } items, got a string']);
  assert.deepEqual(problem([null]), ["c.failIfEventsMatch[0]", "must be an object like { types, tags }"]);
  assert.deepEqual(problem([{ tags: ["a"], kinds: [] }]), ["c.failIfEventsMatch[0].kinds", "is not a query item field (allowed: types, tags)"]);
  assert.deepEqual(problem([{ tags: "a" }]), ["c.failIfEventsMatch[0].tags", "must be an array of strings, got a string"]);
  assert.deepEqual(problem([{ tags: ["a", 1] }]), ["c.failIfEventsMatch[0].tags[1]", "must be a string, got a number"]);
  assert.deepEqual(problem([{ types: ["\ud800"] }]), ["c.failIfEventsMatch[0].types[0]", "contains a lone surrogate (not valid Unicode)"]);
  assert.equal(problem(new Array(65).fill({ types: ["A"] }))[0], "c.failIfEventsMatch");
});

/** A stand-in IDBFactory: `open` answers in a later task, upgrading from `oldVersion`. */
function fakeFactory(oldVersion, { failStep = false, failRequest = null } = {}) {
  const log = [];
  const made = [];
  const db = { createObjectStore: (name) => (made.push(name), { createIndex() {} }) };
  const tx = {
    objectStore: () => ({ createIndex() { if (failStep) throw new Error("step failed"); } }),
    abort: () => log.push("abort"),
  };
  const open = (name, version) => {
    log.push(["open", name, version]);
    const request = { result: db, error: failRequest, transaction: tx, onupgradeneeded: null, onsuccess: null, onerror: null };
    setTimeout(() => {
      if (oldVersion < version) request.onupgradeneeded({ oldVersion });
      if (failStep || failRequest) request.onerror();
      else request.onsuccess();
    });
    return request;
  };
  return { log, made, db, open };
}

test("openDatabase runs the schema steps and says whether it created the database", async () => {
  const fresh = fakeFactory(0);
  const [db, created] = await openDatabase(fresh, "app", 4);
  assert.equal(db, fresh.db);
  assert.equal(created, true);
  assert.deepEqual(fresh.log, [["open", "app", 4]]);
  assert.ok(fresh.made.includes("events") && fresh.made.includes("outbox"));

  const older = fakeFactory(2);
  assert.deepEqual(await openDatabase(older, "app", 4), [older.db, false]);
  assert.deepEqual(older.made, ["outbox", "dead_letters", "conflicts"]);

  const current = fakeFactory(4);
  assert.deepEqual(await openDatabase(current, "app", 4), [current.db, false]);
  assert.deepEqual(current.made, []);
});

test("openDatabase: a failing step aborts the upgrade and rejects with what it threw; else the request's error", async () => {
  const failing = fakeFactory(3, { failStep: true });
  await assert.rejects(openDatabase(failing, "app", 4), /step failed/);
  assert.deepEqual(failing.log.slice(1), ["abort"]);

  const refused = fakeFactory(4, { failRequest: { name: "UnknownError" } });
  await assert.rejects(openDatabase(refused, "app", 4), (e) => e.name === "UnknownError");

  const throwing = { open: () => { throw new Error("SecurityError"); } };
  await assert.rejects(openDatabase(throwing, "app", 4), /SecurityError/);
});
