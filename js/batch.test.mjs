// Input checks and record building without wasm: inspectEvents, makeRecord, addRecords,
// payloadSize, unknownKey, streamRows, snapshotRecord.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  inspectEvents, makeRecord, addRecords, payloadSize, unknownKey, markPending, streamRows, snapshotRecord,
  checkOptions, checkString, checkWhole, checkFlag, describeType,
} from "./batch.js";

/** What inspectEvents throws for `input` ({ field, message }); fails when it returns. */
function problem(input) {
  try {
    inspectEvents(input);
  } catch (thrown) {
    return thrown;
  }
  assert.fail(`accepted ${String(input)}`);
}

test("a valid batch: plain copies with defaults, types, ids, bytes", () => {
  const data = { sku: "A1", qty: 2, tags: ["x"], nested: { ok: true, none: null } };
  const input = [
    { type: "ItemAdded", data, meta: { by: "u1" }, id: "e-1", schema: 3, tags: ["cart:1", "user:u1"] },
    { type: "CartOpened", tags: null },
    { type: "Noted", data: "text", id: null, meta: null },
  ];
  const before = structuredClone(input);
  const batch = inspectEvents(input);
  assert.deepEqual(batch.events, [
    { type: "ItemAdded", tags: ["cart:1", "user:u1"], data, meta: { by: "u1" }, schema: 3 },
    { type: "CartOpened", tags: [], data: null, meta: null, schema: 1 },
    { type: "Noted", tags: [], data: "text", meta: null, schema: 1 },
  ]);
  assert.deepEqual(batch.types, ["ItemAdded", "CartOpened", "Noted"]);
  assert.deepEqual(batch.tags, [["cart:1", "user:u1"], [], []]);
  assert.notEqual(batch.events[0].tags, input[0].tags, "the tags are a copy");
  assert.equal(batch.ids.length, 3);
  assert.deepEqual([batch.ids[0], batch.ids[1], batch.ids[2]], ["e-1", undefined, undefined]);
  assert.equal(batch.bytes, input.reduce((n, e) => n + payloadSize(e.data, e.meta), 0));
  assert.notEqual(batch.events[0], input[0], "a copy, not the caller's object");
  assert.deepEqual(input, before, "the input is not changed");
  assert.deepEqual(inspectEvents([]), { events: [], types: [], tags: [], ids: [], bytes: 0 });
});

test("bytes: the approximate JSON size of data and meta", () => {
  // {"a":1} counts 2 + (1 + 3 + 8 + 1) = 15; "x" counts 3; null data counts 4.
  assert.equal(inspectEvents([{ type: "T", data: { a: 1 }, meta: "x" }]).bytes, 18);
  assert.equal(inspectEvents([{ type: "T", data: null }]).bytes, 4);
  assert.equal(inspectEvents([{ type: "T", data: [true, "ab"] }]).bytes, 2 + 6 + 5);
});

test("accepted payloads: undefined properties dropped, a shared (not cyclic) object, null prototype, 64 levels", () => {
  const shared = { v: 1 };
  let deep = 0;
  for (let i = 0; i < 64; i++) deep = [deep];
  const bare = Object.assign(Object.create(null), { k: "v" });
  const batch = inspectEvents([{ type: "T", data: { a: undefined, b: shared, c: shared, deep, bare } }]);
  assert.equal(batch.events[0].data.b, shared);
});

test("not an array of events", () => {
  assert.deepEqual(problem(undefined), { field: "events", message: "must be an array of events, got a undefined" });
  assert.deepEqual(problem(null), { field: "events", message: "must be an array of events, got null" });
  assert.deepEqual(problem({ type: "T" }), { field: "events", message: "must be an array of events, got a object" });
});

test("each kind of bad event, with its field path", () => {
  const cases = [
    [null, "events[1]", /must be an object like \{ type, data \}/],
    ["T", "events[1]", /must be an object/],
    [[{ type: "T" }], "events[1]", /must be an object/],
    [{ type: "T", kind: "x" }, "events[1].kind", /is not an event field \(allowed: id, type, tags, data, meta, schema\)/],
    [{ type: "T", tags: "a" }, "events[1].tags", /must be an array of strings, got a string/],
    [{ type: "T", tags: ["a", 2] }, "events[1].tags[1]", /must be a string, got a number/],
    [{ type: "T", tags: ["\ud800"] }, "events[1].tags[0]", /lone surrogate/],
    [{ type: "T", tags: new Array(2000).fill("t") }, "events[1].tags", /at most 32/],
    [{ data: 1 }, "events[1].type", /is missing/],
    [{ type: 7 }, "events[1].type", /must be a string, got a number/],
    [{ type: null }, "events[1].type", /must be a string, got null/],
    [{ type: "T\ud800" }, "events[1].type", /lone surrogate/],
    [{ type: "T", id: 5 }, "events[1].id", /must be a string, got a number/],
    [{ type: "T", id: ["a"] }, "events[1].id", /must be a string, got an array/],
    [{ type: "T", id: "\udc00x" }, "events[1].id", /lone surrogate/],
    [{ type: "T", schema: 0 }, "events[1].schema", /whole number from 1 to 2\^32 - 1/],
    [{ type: "T", schema: 1.5 }, "events[1].schema", /whole number/],
    [{ type: "T", schema: "2" }, "events[1].schema", /whole number/],
    [{ type: "T", schema: 2 ** 32 }, "events[1].schema", /whole number/],
    [{ type: "T", schema: null }, "events[1].schema", /whole number/],
    [{ type: "T", data: undefined, meta: { n: NaN } }, "events[1].meta.n", /is NaN, which JSON cannot represent/],
    [{ type: "T", data: { n: Infinity } }, "events[1].data.n", /is Infinity/],
    [{ type: "T", data: { big: 1n } }, "events[1].data.big", /is a BigInt/],
    [{ type: "T", data: [1, undefined] }, "events[1].data[1]", /is undefined; use null or leave the key out/],
    [{ type: "T", data: { f() {} } }, "events[1].data.f", /is a function/],
    [{ type: "T", data: { s: Symbol("s") } }, "events[1].data.s", /is a symbol/],
    [{ type: "T", data: { [Symbol("k")]: 1 } }, "events[1].data", /has symbol keys/],
    [{ type: "T", data: { at: new Date(0) } }, "events[1].data.at", /is a Date, not a plain object; convert it first/],
    [{ type: "T", data: new Map() }, "events[1].data", /is a Map, not a plain object/],
    [{ type: "T", data: { list: [{ deeper: new Uint8Array(1) }] } }, "events[1].data.list[0].deeper", /is a Uint8Array/],
  ];
  for (const [bad, field, message] of cases) {
    const thrown = problem([{ type: "Fine", data: { ok: 1 } }, bad]);
    assert.equal(thrown.field, field, `${field}: ${thrown.message}`);
    assert.match(thrown.message, message, field);
  }
});

test("cycles and depth", () => {
  const cyclic = { a: {} };
  cyclic.a.back = cyclic;
  assert.deepEqual(problem([{ type: "T", data: cyclic }]), { field: "events[0].data.a.back", message: "refers back to itself (a cycle)" });
  let deep = 0;
  for (let i = 0; i < 66; i++) deep = [deep];
  const thrown = problem([{ type: "T", data: deep }]);
  assert.match(thrown.field, /^events\[0\]\.data(\[0\]){65}$/);
  assert.equal(thrown.message, "is nested deeper than 64 levels");
});

test("the first bad event is the one reported", () => {
  assert.equal(problem([{ type: "A" }, { type: 1 }, { type: 2 }]).field, "events[1].type");
});

test("a getter or proxy that throws is reported at its event", () => {
  const getter = { type: "T", get data() { throw new Error("boom"); } };
  assert.deepEqual(problem([getter]), { field: "events[0]", message: "cannot be checked: Error: boom" });
  const typeGetter = { get type() { throw new RangeError("no type"); } };
  assert.deepEqual(problem([{ type: "A" }, typeGetter]), { field: "events[1]", message: "cannot be checked: RangeError: no type" });
  const proxy = new Proxy({ type: "T" }, { ownKeys() { throw new TypeError("no keys"); } });
  assert.deepEqual(problem([proxy]), { field: "events[0]", message: "cannot be checked: TypeError: no keys" });
});

test("getters that change their answer: each field is read once and what was checked is what is kept", () => {
  const reads = { type: 0, id: 0, data: 0, meta: 0, schema: 0 };
  // Each getter answers a valid value the first time and an invalid one afterwards.
  const event = {
    get type() { return reads.type++ === 0 ? "Good" : 42; },
    get id() { return reads.id++ === 0 ? "id-1" : "\ud800"; },
    get data() { return reads.data++ === 0 ? { ok: 1 } : { big: 10n }; },
    get meta() { return reads.meta++ === 0 ? null : () => {}; },
    get schema() { return reads.schema++ === 0 ? 2 : 0; },
  };
  const batch = inspectEvents([event]);
  assert.deepEqual(reads, { type: 1, id: 1, data: 1, meta: 1, schema: 1 });
  assert.deepEqual(batch.events, [{ type: "Good", tags: [], data: { ok: 1 }, meta: null, schema: 2 }]);
  assert.deepEqual(batch.types, ["Good"]);
  assert.deepEqual(batch.ids, ["id-1"]);
  assert.equal(batch.bytes, payloadSize({ ok: 1 }, null));
  // And a getter that answers something invalid on its first read is caught.
  const sneaky = { type: "T", get data() { return { n: NaN }; } };
  assert.equal(problem([sneaky]).field, "events[0].data.n");
});

test("nested payload properties are read once while measuring", () => {
  let reads = 0;
  const data = { get value() { reads++; return "v"; } };
  inspectEvents([{ type: "T", data }]);
  assert.equal(reads, 1);
});

test("makeRecord: the public event shape", () => {
  const record = makeRecord(7, "e-7", "cart-1", 3, "ItemAdded", ["cart:1"], { sku: "A1" }, null, 1718000000000, 2);
  assert.deepEqual(record, {
    position: 7, id: "e-7", stream: "cart-1", version: 3, type: "ItemAdded", tags: ["cart:1"],
    data: { sku: "A1" }, meta: null, recordedAt: 1718000000000, schema: 2,
  });
  assert.deepEqual(Object.keys(record), ["position", "id", "stream", "version", "type", "tags", "data", "meta", "recordedAt", "schema"]);
});

/** A stand-in for an IDBObjectStore: records what add() gets; throws for records `refuse` picks. */
function fakeStore(refuse = () => false) {
  const added = [];
  return {
    added,
    add(record) {
      if (refuse(record)) throw new DOMException("could not be cloned", "DataCloneError");
      added.push(record);
      return { readyState: "pending" };
    },
  };
}

test("addRecords: one add per event, consecutive positions and versions, one recordedAt", () => {
  const { events } = inspectEvents([{ type: "A", data: 1 }, { type: "B", meta: { m: 1 }, schema: 2, tags: ["x"] }, { type: "C" }]);
  const store = fakeStore();
  assert.equal(addRecords(store, events, ["i1", "i2", "i3"], "s", 5, 100, 1718000000000), null);
  assert.deepEqual(store.added, [
    makeRecord(100, "i1", "s", 5, "A", [], 1, null, 1718000000000, 1),
    makeRecord(101, "i2", "s", 6, "B", ["x"], null, { m: 1 }, 1718000000000, 2),
    makeRecord(102, "i3", "s", 7, "C", [], null, null, 1718000000000, 1),
  ]);
  assert.equal(addRecords(store, [], [], "s", 1, 1, 0), null);
});

test("addRecords: stops at the first refused record and names it (a DataCloneError) or hands back what was thrown", () => {
  const { events } = inspectEvents([{ type: "A" }, { type: "B" }, { type: "C" }, { type: "D" }]);
  const store = fakeStore((record) => record.type === "C");
  const refused = addRecords(store, events, ["a", "b", "c", "d"], "s", 1, 1, 0);
  assert.deepEqual(refused, { field: "events[2].data", message: "cannot be stored: could not be cloned" });
  assert.deepEqual(store.added.map((r) => r.type), ["A", "B"], "nothing is added after the refused one");
  const closed = new DOMException("the transaction is not active", "TransactionInactiveError");
  const thrown = addRecords({ add: () => { throw closed; } }, events, ["a", "b", "c", "d"], "s", 1, 1, 0);
  assert.equal(thrown.error, closed);
});

test("payloadSize: the append-time measure; 0 for what is not JSON", () => {
  const data = { a: [1, "two", null], b: { c: false } };
  assert.equal(payloadSize(data, { by: "me" }), inspectEvents([{ type: "T", data, meta: { by: "me" } }]).bytes);
  assert.equal(payloadSize(undefined, undefined), 0);
  assert.equal(payloadSize(null, null), 4);
  assert.equal(payloadSize("ab", null), 4);
  assert.equal(payloadSize({ big: 1n }, null), 0);
  assert.equal(payloadSize({ ok: 1 }, { when: new Date() }), 0);
});

test("unknownKey: the first own enumerable key not allowed", () => {
  assert.equal(unknownKey({ limit: 1, fromVersion: 2 }, ["limit", "fromVersion"]), undefined);
  assert.equal(unknownKey({}, []), undefined);
  assert.equal(unknownKey({ limit: 1, lmit: 2, other: 3 }, ["limit"]), "lmit");
  const inherited = Object.create({ notOwn: 1 });
  Object.defineProperty(inherited, "hidden", { value: 1, enumerable: false });
  assert.equal(unknownKey(inherited, []), undefined);
  assert.equal(unknownKey({ toString: 1 }, ["limit"]), "toString");
});

test("maxEventBytes: an event larger than the server stores it is refused, naming the event", async () => {
  const { storedEventBytes } = await import("./batch.js");
  const limit = 100 * 1024;
  const small = [{ type: "T", data: { text: "x".repeat(1000) } }];
  assert.equal(inspectEvents(small, "s", limit).events.length, 1);
  // The measure is the server's: the JSON of the stored event with the widest numbers.
  const exact = storedEventBytes("s", "e-1", "T", { text: "é" }, null, 1);
  assert.equal(
    exact,
    Buffer.byteLength(
      JSON.stringify({ id: "e-1", stream: "s", version: 9007199254740991, position: 9007199254740991, type: "T", data: { text: "é" }, meta: null, recordedAt: 1000000000000, schema: 1 }),
    ),
  );
  // Exactly at the limit passes; one byte more is refused (multi-byte text counted in UTF-8).
  const overhead = storedEventBytes("s", undefined, "T", "", null, 1);
  const fits = [{ type: "T", data: "é".repeat((limit - overhead) / 2) }];
  assert.equal(storedEventBytes("s", undefined, "T", fits[0].data, null, 1), limit);
  assert.equal(inspectEvents(fits, "s", limit).events.length, 1);
  const over = [{ type: "T", data: "ok" }, { type: "T", data: `${fits[0].data}x` }];
  const thrown = (() => {
    try {
      inspectEvents(over, "s", limit);
    } catch (e) {
      return e;
    }
    assert.fail("accepted an event over the limit");
  })();
  assert.equal(thrown.field, "events[1]");
  assert.match(thrown.message, new RegExp(`is ${limit + 1} bytes .*the limit is ${limit} bytes`));
  // Escapes count: control characters take 6 bytes each in JSON.
  assert.throws(() => inspectEvents([{ type: "T", data: "\u0001".repeat(limit / 6) }], "s", limit));
  // No limit (0): a large event passes the checks.
  assert.equal(inspectEvents([{ type: "T", data: "x".repeat(2 * limit) }]).events.length, 1);
});

test("maxEventBytes: an event's tags count, as the server stores them", async () => {
  const { storedEventBytes } = await import("./batch.js");
  const limit = 100 * 1024;
  const tags = ["username:ann", "course:c1"];
  assert.equal(
    storedEventBytes("s", "e-1", "T", 1, null, 1, tags),
    Buffer.byteLength(
      JSON.stringify({ id: "e-1", stream: "s", version: 9007199254740991, position: 9007199254740991, type: "T", tags, data: 1, meta: null, recordedAt: 1000000000000, schema: 1 }),
    ),
  );
  // No tags: no key at all (the server leaves it out).
  assert.equal(storedEventBytes("s", "e-1", "T", 1, null, 1, []), storedEventBytes("s", "e-1", "T", 1, null, 1));
  // An event that fits without its tags is refused with them.
  const overhead = storedEventBytes("s", undefined, "T", "", null, 1);
  const data = "x".repeat(limit - overhead);
  assert.equal(inspectEvents([{ type: "T", data }], "s", limit).events.length, 1);
  assert.throws(() => inspectEvents([{ type: "T", tags: ["t:1"], data }], "s", limit), (e) => e.field === "events[0]");
});

test("markPending: pending while the version is above the stream's synced version", () => {
  const records = [
    { stream: "a", version: 1 },
    { stream: "a", version: 2 },
    { stream: "b", version: 1 },
    { stream: "c", version: 1 },
  ];
  markPending(records, { a: 1, b: 1 });
  assert.deepEqual(records.map((r) => r.pending), [false, true, false, true]);
});

test("streamRows keeps the public fields of stored heads; no syncedVersion is 0", () => {
  const heads = [
    { stream: "a", version: 3, lastPosition: 7, syncedVersion: 2, pendingBytes: 40 },
    { stream: "b", version: 1, lastPosition: 1 },
  ];
  assert.deepEqual(streamRows(heads), [
    { stream: "a", version: 3, lastPosition: 7, syncedVersion: 2 },
    { stream: "b", version: 1, lastPosition: 1, syncedVersion: 0 },
  ]);
});

test("snapshotRecord stamps savedAt", () => {
  const before = Date.now();
  const record = snapshotRecord("p", { n: 1 }, 9, 2, 1);
  assert.deepEqual({ ...record, savedAt: 0 }, { name: "p", state: { n: 1 }, position: 9, version: 2, moves: 1, savedAt: 0 });
  assert.ok(record.savedAt >= before && record.savedAt <= Date.now());
});

/** What `check()` throws ({ field, message }); fails when it returns. */
function refusal(check) {
  try {
    check();
  } catch (thrown) {
    return thrown;
  }
  assert.fail("accepted");
}

test("checkOptions: absent is false, a plain object with known keys true, the rest refused", () => {
  assert.equal(checkOptions(undefined, "options", "a,b"), false);
  assert.equal(checkOptions(null, "options", "a,b"), false);
  assert.equal(checkOptions({}, "options", "a,b"), true);
  assert.equal(checkOptions({ b: 1, a: undefined }, "options", "a,b"), true);
  assert.equal(checkOptions(Object.create({ inherited: 1 }), "options", "a"), true, "own keys only");
  for (const [value, got] of [[1, "a number"], ["x", "a string"], [[], "an array"], [() => {}, "a function"], [true, "a boolean"]]) {
    assert.deepEqual(refusal(() => checkOptions(value, "options.retain", "a")),
      { field: "options.retain", message: `must be an object, got ${got}` });
  }
  assert.deepEqual(refusal(() => checkOptions({ a: 1, limt: 2 }, "options", "a,limit,upcast")),
    { field: "options.limt", message: "is not a known option (known: a, limit, upcast)" });
});

test("checkString: a string without lone surrogates", () => {
  assert.equal(checkString("caf\u00e9 \ud83d\ude00", "name"), "caf\u00e9 \ud83d\ude00");
  assert.equal(checkString("", "name"), "");
  assert.deepEqual(refusal(() => checkString(null, "stream")), { field: "stream", message: "must be a string, got null" });
  assert.deepEqual(refusal(() => checkString(3, "stream")), { field: "stream", message: "must be a string, got a number" });
  for (const lone of ["a\ud800", "\udc00b", "\ude00\ud83d"]) {
    assert.deepEqual(refusal(() => checkString(lone, "event")),
      { field: "event", message: "contains a lone surrogate (not valid Unicode)" });
  }
});

test("checkWhole: a whole number from 0 to 2^53 - 1", () => {
  for (const n of [0, -0, 1, 42, Number.MAX_SAFE_INTEGER]) assert.equal(checkWhole(n, "options.limit"), n);
  assert.deepEqual(refusal(() => checkWhole("3", "options.limit")),
    { field: "options.limit", message: "must be a number, got a string" });
  for (const n of [-1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assert.deepEqual(refusal(() => checkWhole(n, "options.after")),
      { field: "options.after", message: "must be a whole number from 0 to 2^53 - 1" });
  }
});

test("checkFlag: a boolean, undefined the default", () => {
  assert.equal(checkFlag(undefined, "options.persist", false), false);
  assert.equal(checkFlag(undefined, "options.upcast", true), true);
  assert.equal(checkFlag(true, "options.persist", false), true);
  assert.equal(checkFlag(false, "options.upcast", true), false);
  assert.deepEqual(refusal(() => checkFlag(null, "options.force", false)),
    { field: "options.force", message: "must be true or false, got null" });
  assert.deepEqual(refusal(() => checkFlag(1, "options.force", false)),
    { field: "options.force", message: "must be true or false, got a number" });
});

test("describeType: the kind of a value for messages", () => {
  assert.deepEqual([null, [], {}, 1, "s", undefined, () => {}, 1n, Symbol("s")].map(describeType),
    ["null", "an array", "a object", "a number", "a string", "a undefined", "a function", "a bigint", "a symbol"]);
});
