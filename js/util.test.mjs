// report, deliver, cloneValue, persistStorage, storageEstimate, and deleteStore's
// databaseExists, unsyncedCount and deleteDatabase without wasm (the storage manager a stand-in `navigator.storage`, the
// IndexedDB factory a stand-in `indexedDB`; the real ones run in tests/js/sync.test.mjs
// and tests/js/api.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deliver, cloneValue, report, persistStorage, storageEstimate, databaseExists, unsyncedCount, deleteDatabase, deleteStore,
  untilClosed, rejectAll, setSyncLoader, loadSyncModule, SyncStandIn, loadSyncGlue, provideSyncGlue,
  setMemoryLoader, loadMemoryModule, shareInstanceof, useMemoryGlue, loadGlue, loadOnFirstCall, latin1Bytes, embeddedInit,
} from "./util.js";
import { StorageError, SyncError } from "./errors.js";
import { latin1Literal } from "../scripts/embed-wasm.mjs";

/** Runs `body` with globalThis[name] replaced by `value` (deleted when undefined). */
async function withGlobal(name, value, body) {
  const had = Object.hasOwn(globalThis, name);
  const saved = globalThis[name];
  if (value === undefined) delete globalThis[name];
  else globalThis[name] = value;
  try {
    return await body();
  } finally {
    if (had) globalThis[name] = saved;
    else delete globalThis[name];
  }
}

test("deliver calls the callback with the value", () => {
  const seen = [];
  deliver((v) => seen.push(v), { n: 1 });
  assert.deepEqual(seen, [{ n: 1 }]);
});

test("deliver: a throwing callback is reported with reportError, and deliver returns", async () => {
  const reported = [];
  const boom = new Error("subscriber failed");
  await withGlobal("reportError", (e) => reported.push(e), () => {
    assert.doesNotThrow(() => deliver(() => { throw boom; }, 1));
  });
  assert.deepEqual(reported, [boom]);
});

test("deliver: without reportError, console.error gets what was thrown (never swallowed)", async () => {
  const logged = [];
  const original = console.error;
  console.error = (...args) => logged.push(args);
  try {
    await withGlobal("reportError", undefined, () => {
      deliver(() => { throw "a string"; }, 1);
    });
  } finally {
    console.error = original;
  }
  assert.deepEqual(logged, [["tidelog: a subscriber threw", "a string"]]);
});

test("deliver: one failing subscriber does not stop the next", async () => {
  const seen = [];
  await withGlobal("reportError", () => {}, () => {
    for (const cb of [() => { throw new Error("first"); }, (v) => seen.push(v)]) deliver(cb, "event");
  });
  assert.deepEqual(seen, ["event"]);
});

test("cloneValue: a deep copy that shares nothing with the input", () => {
  const input = { a: [1, { b: 2 }], when: new Date(0) };
  const copy = cloneValue(input);
  assert.deepEqual(copy, input);
  assert.notEqual(copy, input);
  assert.notEqual(copy.a[1], input.a[1]);
  copy.a[1].b = 3;
  assert.equal(input.a[1].b, 2);
});

test("cloneValue: an uncloneable value throws a DataCloneError", () => {
  assert.throws(() => cloneValue({ f() {} }), { name: "DataCloneError" });
});

test("cloneValue: without structuredClone, the value itself", async () => {
  const input = { a: 1 };
  await withGlobal("structuredClone", undefined, () => {
    assert.equal(cloneValue(input), input);
  });
});

test("report: reportError where the host has it, else console.error with the context", async () => {
  const boom = new Error("boom");
  const reported = [];
  await withGlobal("reportError", (e) => reported.push(e), () => report(boom, "projection update failed"));
  assert.deepEqual(reported, [boom]);
  const logged = [];
  const original = console.error;
  console.error = (...args) => logged.push(args);
  try {
    await withGlobal("reportError", undefined, () => report(boom, "projection update failed"));
  } finally {
    console.error = original;
  }
  assert.deepEqual(logged, [["tidelog: projection update failed", boom]]);
});

/** Runs `body` with globalThis.navigator replaced by `value` (deleted when undefined). */
async function withNavigator(value, body) {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value, configurable: true, writable: true });
  try {
    return await body();
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
}

test("persistStorage hands back the browser's answer", async () => {
  for (const answer of [true, false]) {
    await withNavigator({ storage: { persist: async () => answer } }, async () => {
      assert.equal(await persistStorage(), answer);
    });
  }
});

test("storageEstimate: usage, quota and persisted, 0 for missing figures", async () => {
  const storage = { estimate: async () => ({ usage: 1234, quota: 5678 }), persisted: async () => true };
  await withNavigator({ storage }, async () => {
    assert.deepEqual(await storageEstimate(), { usage: 1234, quota: 5678, persisted: true });
  });
  await withNavigator({ storage: { estimate: async () => ({}) } }, async () => {
    assert.deepEqual(await storageEstimate(), { usage: 0, quota: 0, persisted: null });
  });
});

test("no storage manager, or one that throws: null, never an exception", async () => {
  for (const navigator of [undefined, {}, { storage: {} }]) {
    await withNavigator(navigator, async () => {
      assert.equal(await persistStorage(), null);
      assert.equal(await storageEstimate(), null);
    });
  }
  const failing = { persist: async () => { throw new Error("denied"); }, estimate: async () => { throw new Error("gone"); } };
  await withNavigator({ storage: failing }, async () => {
    assert.equal(await persistStorage(), null);
    assert.equal(await storageEstimate(), null);
  });
});

/**
 * A stand-in `indexedDB`: `databases` as given (omitted: none), and `open` /
 * `deleteDatabase` requests that `script(request, calls)` drives once their handlers are
 * set (a macrotask later, as a browser fires them).
 */
function fakeIndexedDb({ databases, open, remove }) {
  const calls = [];
  const request = (script) => {
    const r = { result: undefined, error: null, transaction: null };
    setTimeout(() => script(r, calls), 0);
    return r;
  };
  return {
    calls,
    ...(databases && { databases }),
    open: (name) => { calls.push(["open", name]); return request(open); },
    deleteDatabase: (name) => { calls.push(["delete", name]); return request(remove); },
  };
}

test("databaseExists: from indexedDB.databases(), a version-0 entry (WebKit's aborted creation) is none", async () => {
  const idb = fakeIndexedDb({ databases: async () => [{ name: "a", version: 4 }, { name: "b", version: 0 }, { name: "c" }] });
  await withGlobal("indexedDB", idb, async () => {
    assert.equal(await databaseExists("a"), true);
    assert.equal(await databaseExists("b"), false);
    assert.equal(await databaseExists("c"), false);
    assert.equal(await databaseExists("missing"), false);
  });
  assert.deepEqual(idb.calls, [], "nothing opened");
});

test("databaseExists without databases(): an open whose creation is aborted (nothing created)", async () => {
  const event = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
  const aborted = [];
  // The database does not exist: upgradeneeded, tidelog aborts, the open fails.
  const missing = fakeIndexedDb({ open: (r) => {
    r.transaction = { abort: () => aborted.push("aborted") };
    r.onupgradeneeded();
    r.error = { name: "AbortError" };
    const e = event();
    r.onerror(e);
    assert.ok(e.prevented, "the expected AbortError is not reported");
  } });
  await withGlobal("indexedDB", missing, async () => assert.equal(await databaseExists("x"), false));
  assert.deepEqual(aborted, ["aborted"]);
  // It exists: success, and the connection is closed again.
  const closed = [];
  const present = fakeIndexedDb({ open: (r) => { r.result = { close: () => closed.push("closed") }; r.onsuccess(); } });
  await withGlobal("indexedDB", present, async () => assert.equal(await databaseExists("x"), true));
  assert.deepEqual(closed, ["closed"]);
  // databases() failing: the same open. Another failure of the open: rejected.
  const failing = fakeIndexedDb({
    databases: async () => { throw new Error("no list"); },
    open: (r) => { r.error = { name: "UnknownError" }; r.onerror(event()); },
  });
  await withGlobal("indexedDB", failing, async () => {
    await assert.rejects(databaseExists("x"), { name: "UnknownError" });
  });
  assert.deepEqual(failing.calls, [["open", "x"]]);
});

test("deleteDatabase: resolves once deleted, also after a short block; an error rejects", async () => {
  const plain = fakeIndexedDb({ remove: (r) => r.onsuccess() });
  await withGlobal("indexedDB", plain, () => deleteDatabase("db", 50));
  assert.deepEqual(plain.calls, [["delete", "db"]]);
  const briefly = fakeIndexedDb({ remove: (r) => { r.onblocked?.(); setTimeout(() => r.onsuccess(), 10); } });
  await withGlobal("indexedDB", briefly, () => deleteDatabase("db", 200));
  const failing = fakeIndexedDb({ remove: (r) => { r.error = { name: "UnknownError", message: "disk" }; r.onerror(); } });
  await withGlobal("indexedDB", failing, async () => {
    await assert.rejects(deleteDatabase("db", 50), { name: "UnknownError" });
  });
});

test("deleteDatabase: not deleted blockedMs after the request (blocked, with or without a blocked event), an Error named Blocked", async () => {
  for (const remove of [(r) => r.onblocked?.(), () => {}]) {
    const blocked = fakeIndexedDb({ remove });
    const started = Date.now();
    await withGlobal("indexedDB", blocked, async () => {
      await assert.rejects(deleteDatabase("my-db", 60), (e) => {
        assert.ok(e instanceof Error);
        assert.equal(e.name, "Blocked");
        assert.match(e.message, /"my-db" is still not deleted after 60 ms: a connection that is not tidelog's keeps it open/);
        return true;
      });
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 55 && waited < 1000, `waited ${waited} ms`);
  }
});

/** A stand-in IDBDatabase holding `stores` (name -> records), answering getAll. */
function fakeDb(stores) {
  const db = {
    closed: false,
    onversionchange: null,
    close() { db.closed = true; },
    objectStoreNames: { contains: (name) => Object.hasOwn(stores, name) },
    transaction: (names, mode) => {
      assert.equal(mode, "readonly");
      assert.ok(names.every((n) => Object.hasOwn(stores, n)), `only stores that exist: ${names}`);
      return { objectStore: (name) => ({ getAll: () => {
        const r = {};
        setTimeout(() => { r.result = stores[name]; r.onsuccess(); }, 0);
        return r;
      } }) };
    },
  };
  return db;
}

/** A stand-in indexedDB whose `open(name)` (without a version) succeeds with `db`. */
function idbWith(db, databases = [{ name: "db", version: 4 }]) {
  return fakeIndexedDb({
    databases: async () => databases,
    open: (r) => { r.result = db; r.onsuccess(); },
    remove: (r) => r.onsuccess(),
  });
}

test("unsyncedCount: events past each stream's syncedVersion, plus conflicts' local and dead letters' events; the connection is closed", async () => {
  const db = fakeDb({
    streams: [{ stream: "a", version: 5, syncedVersion: 3 }, { stream: "never", version: 2 }, { stream: "done", version: 1, syncedVersion: 1 }],
    conflicts: [{ id: 1, local: [{}, {}] }],
    dead_letters: [{ id: 1, events: [{}] }, { id: 2 }],
  });
  const idb = idbWith(db);
  await withGlobal("indexedDB", idb, async () => assert.equal(await unsyncedCount("db"), 2 + 2 + 0 + 2 + 1));
  assert.deepEqual(idb.calls, [["open", "db"]], "opened at its own version (no upgrade)");
  assert.equal(db.closed, true);
  db.closed = false;
  db.onversionchange();
  assert.equal(db.closed, true, "a delete elsewhere is not blocked by the count's connection");
  // An old schema without the sync stores; a database without stores.
  await withGlobal("indexedDB", idbWith(fakeDb({ streams: [{ version: 3 }] })), async () => assert.equal(await unsyncedCount("db"), 3));
  await withGlobal("indexedDB", idbWith(fakeDb({})), async () => assert.equal(await unsyncedCount("db"), 0));
});

test("deleteStore: without force, no database resolves 0 and touches nothing; unsynced events are counted and nothing is deleted; none: deleted", async () => {
  const missing = idbWith(fakeDb({}), []);
  await withGlobal("indexedDB", missing, async () => assert.equal(await deleteStore("db", false, 50), 0));
  assert.deepEqual(missing.calls, [], "neither opened (which would create it) nor deleted");
  const pending = idbWith(fakeDb({ streams: [{ version: 2 }] }));
  await withGlobal("indexedDB", pending, async () => assert.equal(await deleteStore("db", false, 50), 2));
  assert.deepEqual(pending.calls, [["open", "db"]], "refused: not deleted");
  const synced = idbWith(fakeDb({ streams: [{ version: 2, syncedVersion: 2 }], conflicts: [], dead_letters: [] }));
  await withGlobal("indexedDB", synced, async () => assert.equal(await deleteStore("db", false, 50), 0));
  assert.deepEqual(synced.calls, [["open", "db"], ["delete", "db"]]);
  const forced = idbWith(fakeDb({ streams: [{ version: 2 }] }));
  await withGlobal("indexedDB", forced, async () => assert.equal(await deleteStore("db", true, 50), 0));
  assert.deepEqual(forced.calls, [["delete", "db"]], "force: nothing counted");
});

test("untilClosed: the promise's outcome, and it leaves the closing set once settled", async () => {
  const closing = new Set();
  const done = untilClosed(Promise.resolve(42), closing);
  assert.equal(closing.size, 1);
  assert.equal(await done, 42);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(closing.size, 0, "nothing kept once settled");
  await assert.rejects(untilClosed(Promise.reject(new Error("round failed")), closing), /round failed/);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(closing.size, 0);
});

test("rejectAll: a promise that would never settle rejects with the error; later outcomes are ignored", async () => {
  const closing = new Set();
  let finish;
  const never = untilClosed(new Promise((resolve) => { finish = resolve; }), closing);
  const also = untilClosed(new Promise(() => {}), closing);
  const closed = Object.assign(new Error("closed"), { name: "ClosedError" });
  rejectAll(closing, closed);
  assert.equal(closing.size, 0);
  await assert.rejects(never, { name: "ClosedError" });
  await assert.rejects(also, { name: "ClosedError" });
  finish("too late");
  await assert.rejects(never, { name: "ClosedError" });
});

test("loadSyncModule loads the sync module once, and after a failed load tries again", async () => {
  let loads = 0;
  const side = { startSync: async () => ({}), checkSync: () => {}, Sync: class {} };
  setSyncLoader(async () => {
    loads += 1;
    if (loads === 1) throw new TypeError("Failed to fetch");
    return side;
  });
  const failed = await loadSyncModule().then(() => null, (e) => e);
  assert.ok(failed instanceof SyncError, "a SyncError");
  assert.equal(failed.code, "network");
  assert.equal(failed.status, null);
  assert.match(failed.message, /tidelog_sync_bg\.wasm\) could not be loaded: Failed to fetch/);
  assert.ok(failed.cause instanceof TypeError, "the cause kept");
  assert.equal(await loadSyncModule(), side, "the next open loads again");
  assert.equal(await loadSyncModule(), side);
  assert.equal(loads, 2, "loaded once after the failure");
});

test("loadSyncModule without a sync module says so", async () => {
  setSyncLoader(/** @type {any} */ (null));
  const failed = await loadSyncModule().then(() => null, (e) => e);
  assert.ok(failed instanceof SyncError);
  assert.match(failed.message, /has no sync module/);
});

test("the browser entry's Sync: instanceof holds for the loaded class's objects, and only once it is loaded", async () => {
  class Loaded {}
  const made = new Loaded();
  setSyncLoader(async () => ({ startSync: async () => ({}), checkSync: () => {}, Sync: Loaded }));
  assert.equal(made instanceof SyncStandIn, false, "nothing loaded yet");
  await loadSyncModule();
  assert.equal(made instanceof SyncStandIn, true);
  assert.equal({} instanceof SyncStandIn, false);
  assert.equal(SyncStandIn.name, "Sync");
  assert.throws(() => new SyncStandIn(), TypeError);
});

/** A stand-in sync glue: records the wasm url its init got. */
function fakeGlue() {
  const glue = { inits: /** @type {URL[]} */ ([]), startSync: async () => ({}), checkSync: () => {}, Sync: class {},
    default: async (/** @type {{ module_or_path: URL }} */ o) => { glue.inits.push(o.module_or_path); } };
  return glue;
}

test("loadSyncGlue imports the glue, initializes its wasm from the url, hands back startSync, checkSync and Sync", async () => {
  const glue = fakeGlue();
  const wasm = new URL("https://example.test/tidelog_sync_bg.wasm");
  const loaded = await loadSyncGlue(async () => glue, wasm);
  assert.equal(loaded.startSync, glue.startSync);
  assert.equal(loaded.checkSync, glue.checkSync);
  assert.equal(loaded.Sync, glue.Sync);
  assert.deepEqual(glue.inits, [wasm]);
});

test("loadSyncGlue: a glue handed over up front (tidelog/sync) is used without import()", async () => {
  const glue = fakeGlue();
  provideSyncGlue(glue);
  try {
    const loaded = await loadSyncGlue(async () => { throw new Error("import() called"); }, new URL("https://example.test/w.wasm"));
    assert.equal(loaded.Sync, glue.Sync);
  } finally {
    provideSyncGlue(/** @type {any} */ (null));
  }
});

test("loadSyncGlue in a service worker without tidelog/sync: the failure says to import it", async () => {
  // The global object of a service worker is an instance of this class.
  class ServiceWorkerGlobalScope {
    static [Symbol.hasInstance](/** @type {unknown} */ value) { return value === globalThis; }
  }
  await withGlobal("ServiceWorkerGlobalScope", ServiceWorkerGlobalScope, async () => {
    const refused = new TypeError("import() is disallowed on ServiceWorkerGlobalScope by the HTML specification");
    const failed = await loadSyncGlue(async () => { throw refused; }, new URL("https://example.test/w.wasm")).then(() => null, (e) => e);
    assert.match(failed.message, /import "tidelog\/sync" there first/);
    assert.equal(failed.cause, refused);
  });
  // Elsewhere the import's own failure goes through as it is.
  const offline = new TypeError("Failed to fetch dynamically imported module");
  const failed = await loadSyncGlue(async () => { throw offline; }, new URL("https://example.test/w.wasm")).then(() => null, (e) => e);
  assert.equal(failed, offline);
});

test("loadMemoryModule loads the memory module once, and after a failed load tries again", async () => {
  let loads = 0;
  const open = async () => ({});
  setMemoryLoader(async () => {
    loads += 1;
    if (loads === 1) throw new TypeError("Failed to fetch");
    return open;
  });
  const failed = await loadMemoryModule().then(() => null, (e) => e);
  assert.ok(failed instanceof StorageError, "a StorageError");
  assert.equal(failed.code, "storage");
  assert.deepEqual(failed.cause, { name: "TypeError", message: "Failed to fetch" });
  assert.match(failed.message, /tidelog_memory_bg\.wasm\) could not be loaded: Failed to fetch/);
  assert.equal(await loadMemoryModule(), open, "the next open loads again");
  assert.equal(await loadMemoryModule(), open);
  assert.equal(loads, 2, "loaded once after the failure");
});

test("loadMemoryModule without a memory module says so; a non-Error thrown is named Error", async () => {
  setMemoryLoader(/** @type {any} */ (null));
  const failed = await loadMemoryModule().then(() => null, (e) => e);
  assert.ok(failed instanceof StorageError);
  assert.match(failed.message, /has no memory store module/);
  setMemoryLoader(() => Promise.reject("offline"));
  const thrown = await loadMemoryModule().then(() => null, (e) => e);
  assert.deepEqual(thrown.cause, { name: "Error", message: "offline" });
});

test("loadGlue imports a glue, then instantiates its wasm from the url", async () => {
  /** @type {string[]} */
  const steps = [];
  const wasm = new URL("https://example.test/x_bg.wasm");
  const glue = { default: async (/** @type {{ module_or_path: URL }} */ o) => { steps.push(`init ${o.module_or_path}`); } };
  assert.equal(await loadGlue(async () => (steps.push("import"), glue), wasm), glue);
  assert.deepEqual(steps, ["import", `init ${wasm}`]);
});

test("useMemoryGlue: the first memory store loads the glue and its wasm once; its stores and projections are the entry's classes' instances", async () => {
  class EntryStore {}
  class EntryProjection {}
  class MemoryStore {
    static async open(/** @type {string} */ name, /** @type {unknown} */ options) {
      return Object.assign(new MemoryStore(), { name, options });
    }
  }
  class MemoryProjection {}
  /** @type {URL[]} */
  const inits = [];
  let imports = 0;
  const glue = {
    default: async (/** @type {{ module_or_path: URL }} */ o) => { inits.push(o.module_or_path); },
    EventStore: MemoryStore,
    Projection: MemoryProjection,
  };
  const wasm = new URL("https://example.test/tidelog_memory_bg.wasm");
  useMemoryGlue(async () => (imports += 1, glue), () => wasm, EntryStore, EntryProjection);
  assert.equal(imports, 0, "nothing loaded before a memory store opens");
  assert.equal(new MemoryStore() instanceof EntryStore, false);
  const open = await loadMemoryModule();
  const store = await open("m", { storage: "memory" });
  assert.deepEqual([/** @type {any} */ (store).name, /** @type {any} */ (store).options], ["m", { storage: "memory" }]);
  assert.ok(store instanceof EntryStore, "a memory store is an EventStore");
  assert.ok(new MemoryProjection() instanceof EntryProjection);
  assert.ok(new EntryStore() instanceof EntryStore, "the entry's own still are");
  await loadMemoryModule();
  assert.equal(imports, 1, "loaded once");
  assert.deepEqual(inits, [wasm]);
});

test("shareInstanceof: instances of either class, and the other class only once it exists", () => {
  class Here {}
  class There {}
  /** @type {undefined | typeof There} */
  let other;
  shareInstanceof(Here, () => other);
  assert.ok(new Here() instanceof Here);
  assert.ok(!(new There() instanceof Here), "not before the other class is there");
  other = There;
  assert.ok(new There() instanceof Here);
  assert.ok(new Here() instanceof Here);
  assert.ok(!({} instanceof Here));
  assert.ok(!(Object.create(null) instanceof Here));
  assert.ok(!(new Here() instanceof There), "the other class is left alone");
  class Sub extends Here {}
  assert.ok(new Sub() instanceof Here, "subclasses still count");
});

test("loadOnFirstCall: open and deleteStore load the wasm first, once for the page, then run with the same arguments", async () => {
  const steps = [];
  let loaded = false;
  const init = async () => {
    steps.push("init");
    await new Promise((resolve) => setTimeout(resolve, 20));
    loaded = true;
  };
  const EventStore = {
    async open(name, options) {
      steps.push(`wasm open ${name} loaded=${loaded} ${JSON.stringify(options)}`);
      return { name };
    },
    async deleteStore(name, options) {
      steps.push(`wasm deleteStore ${name} loaded=${loaded} ${JSON.stringify(options)}`);
    },
  };
  loadOnFirstCall(EventStore, init);
  assert.deepEqual([EventStore.open.name, EventStore.deleteStore.name], ["open", "deleteStore"]);
  const [a, b] = await Promise.all([EventStore.open("a", { durability: "relaxed" }), EventStore.open("b"), EventStore.deleteStore("d", { force: true })]);
  assert.deepEqual([a, b], [{ name: "a" }, { name: "b" }]);
  await EventStore.open("c");
  assert.deepEqual(steps, [
    "init", 'wasm open a loaded=true {"durability":"relaxed"}', "wasm open b loaded=true undefined",
    'wasm deleteStore d loaded=true {"force":true}', "wasm open c loaded=true undefined",
  ]);
});

test("loadOnFirstCall: a wasm that cannot be loaded rejects with a StorageError; the next open retries", async () => {
  let attempts = 0;
  const init = async () => {
    attempts += 1;
    if (attempts === 1) throw new TypeError("NetworkError when attempting to fetch resource.");
  };
  const opened = [];
  const EventStore = { open: async (name) => (opened.push(name), { name }), deleteStore: async () => {} };
  loadOnFirstCall(EventStore, init);
  const error = await EventStore.open("offline").then(() => assert.fail("expected a rejection"), (e) => e);
  assert.ok(error instanceof StorageError);
  assert.equal(error.code, "storage");
  assert.match(error.message, /^the wasm could not be loaded: NetworkError/);
  assert.deepEqual(error.cause, { name: "TypeError", message: "NetworkError when attempting to fetch resource." });
  assert.deepEqual(opened, [], "nothing opens without the wasm");
  assert.deepEqual(await EventStore.open("offline"), { name: "offline" });
  assert.equal(attempts, 2);
});

test("loadOnFirstCall: the wasm's refusal reaches the caller as it is", async () => {
  const refusal = new Error("options.retain: must be an object");
  const EventStore = { open: async () => { throw refusal; }, deleteStore: async () => {} };
  loadOnFirstCall(EventStore, async () => {});
  await assert.rejects(EventStore.open("refused", { retain: 1 }), (e) => e === refusal);
});

/** Runs `body` with `Uint8Array.fromBase64` set to `value` (deleted when undefined). */
async function withFromBase64(value, body) {
  const had = Object.hasOwn(Uint8Array, "fromBase64");
  const saved = /** @type {any} */ (Uint8Array).fromBase64;
  if (value === undefined) delete /** @type {any} */ (Uint8Array).fromBase64;
  else /** @type {any} */ (Uint8Array).fromBase64 = value;
  try {
    return await body();
  } finally {
    if (had) /** @type {any} */ (Uint8Array).fromBase64 = saved;
    else delete /** @type {any} */ (Uint8Array).fromBase64;
  }
}

/** The string a literal of scripts/embed-wasm.mjs stands for, read as strict-mode JS (as a module is). */
const evalStrict = (literal) => new Function(`"use strict"; return ${literal};`)();

test("latin1Literal and latin1Bytes: any bytes come back as they were, as strict-mode JS and by both decoders", async () => {
  // Every byte value, the escaped ones next to each other and NUL before each digit (an
  // octal escape in waiting), then random arrays.
  const cases = [
    Uint8Array.from({ length: 256 }, (_, i) => i),
    Uint8Array.from([0x5c, 0x27, 0x0a, 0x0d, 0x00, 0x22, 0x60, 0x5c, 0x5c, 0x27, 0x27, 0x0d, 0x0a]),
    Uint8Array.from(Array.from({ length: 10 }, (_, d) => [0, 0x30 + d]).flat().concat([0])),
    new Uint8Array(0),
  ];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let n = 0; n < 200; n++) {
    const length = Math.floor(random() * 300);
    // Half of the arrays drawn from the escaped bytes and the digits, half from all 256.
    const pool = n % 2 === 0 ? [0, 0x0a, 0x0d, 0x27, 0x5c, 0x30, 0x39, 0x80, 0xff] : null;
    cases.push(Uint8Array.from({ length }, () => (pool ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * 256))));
  }
  let native = 0;
  const fromBase64 = (/** @type {string} */ base64) => (native += 1, new Uint8Array(Buffer.from(base64, "base64")));
  for (const bytes of cases) {
    const literal = latin1Literal(bytes);
    assert.doesNotMatch(literal, /[\n\r\u2028\u2029]/, "no line terminator inside the literal");
    const text = evalStrict(literal);
    assert.equal(text.length, bytes.length);
    await withFromBase64(undefined, () => assert.deepEqual(latin1Bytes(text), bytes, "the loop"));
    await withFromBase64(fromBase64, () => assert.deepEqual(latin1Bytes(text), bytes, "through base64"));
  }
  assert.equal(native, cases.length, "the native decoder is used where the host has it");
  // Bytes over 0x7F take two bytes of UTF-8 each; the others one (or two: an escape).
  assert.equal(Buffer.byteLength(latin1Literal(Uint8Array.from([0x41, 0x80, 0xff, 0x0a]))), 2 + 1 + 2 + 2 + 2);
});

/** The smallest valid wasm: the magic number and version 1. */
const EMPTY_WASM = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const text = (/** @type {Uint8Array} */ bytes) => evalStrict(latin1Literal(bytes));

test("embeddedInit: without a source the glue gets the carried wasm compiled, once; a source given goes to the glue as it is", async () => {
  const calls = [];
  let reads = 0;
  const glueInit = async (options) => {
    calls.push(options);
    return "instance";
  };
  const init = embeddedInit(glueInit, () => (reads += 1, text(EMPTY_WASM)));
  assert.equal(await init(), "instance");
  assert.equal(await init({}), "instance");
  assert.equal(await init({ module_or_path: undefined }), "instance");
  assert.equal(calls.length, 3);
  assert.equal(reads, 1, "decoded and compiled on the first call only");
  for (const options of calls) {
    assert.deepEqual(Object.keys(options), ["module_or_path"]);
    assert.ok((await options.module_or_path) instanceof WebAssembly.Module);
  }
  assert.equal(calls[0].module_or_path, calls[2].module_or_path, "one compile shared");
  // Another source: the glue's business (a URL, a Response, bytes, a Module; or the
  // deprecated bare argument, which the glue warns about).
  const url = new URL("https://cdn.example/tidelog_bg.wasm");
  await init({ module_or_path: url });
  await init(url);
  await init(null);
  assert.deepEqual(calls.slice(3), [{ module_or_path: url }, url, null]);
  assert.equal(reads, 1);
});

test("embeddedInit: a compile that fails rejects the call; the next call compiles again", async () => {
  const calls = [];
  let bytes = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00]); // version 2: refused
  const init = embeddedInit(async (options) => {
    calls.push(options);
    return options.module_or_path;
  }, () => text(bytes));
  await assert.rejects(init(), (e) => e instanceof WebAssembly.CompileError);
  bytes = EMPTY_WASM;
  assert.ok((await init()) instanceof WebAssembly.Module);
  assert.equal(calls.length, 2, "the glue saw the failed compile's promise, then the good one");
});
