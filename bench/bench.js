// tidelog benchmark page: the same event-store workload through three implementations,
// driven case by case by bench/run.mjs (Chromium through playwright-core, Firefox through
// geckodriver). Every case function returns plain JSON (timings in ms, counts), so the
// runner can compute medians and spreads and write the report.
//
// Implementations (all three store the SAME record shape in the SAME layout, so the
// comparison is of the code path, not of the schema):
//   tidelog  the built package (/pkg/tidelog.js): EventStore.append / read / readAll
//   raw      hand-written IndexedDB, the floor: object store `events` keyed by
//            `position`, unique index `by_stream` on [stream, version], unique index
//            `by_id` on id, plus `streams` (head per stream) and `meta` ("head" ->
//            global position). An append is one readwrite transaction: get both heads,
//            add every record, put both heads, wait for `complete` (what tidelog does).
//            A read is one getAll over a [stream, version] key range (no head lookup:
//            the range alone bounds it).
//   dexie    Dexie 4 (/vendor/dexie/dexie.mjs) over the same layout: one rw transaction
//            with streams.get + meta.get, events.bulkAdd, two puts; reads are
//            where('[stream+version]').between(...).toArray().

const DEXIE_URL = "/vendor/dexie/dexie.mjs";
const TIDELOG_URL = "/pkg/tidelog.js";
const STREAM = "bench-stream";

// ---------------------------------------------------------------------------------
// Workload

const NOTE = "offline-first event log benchmark payload, lorem ipsum dolor sit";

/** The event payload of number `i`: a JSON object of about 200 bytes. */
export function payload(i) {
  return {
    sku: `SKU-${String(i % 99991).padStart(6, "0")}`,
    qty: (i % 7) + 1,
    price: ((i * 37) % 100000) / 100,
    currency: "EUR",
    customer: `customer-${i % 1000}`,
    note: NOTE,
    tags: ["web", "offline"],
    at: "2026-01-01T00:00:00.000Z",
  };
}

function newEvents(from, count) {
  const events = new Array(count);
  for (let k = 0; k < count; k++) events[k] = { type: "ItemAdded", data: payload(from + k) };
  return events;
}

function reqP(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
    tx.onerror = () => {};
  });
}

async function deleteDb(name) {
  await new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => resolve(); // a leftover connection; the name is fresh anyway
  });
}

let dbCounter = 0;
function freshName(impl, label) {
  dbCounter += 1;
  return `bench-${impl}-${label}-${Date.now().toString(36)}-${dbCounter}`;
}

// ---------------------------------------------------------------------------------
// Implementations: open(name) -> { append(stream, events), read(stream, from, limit),
// readAll(from, limit), readStream(stream), close() }

let tidelogModule;
/** The instantiated wasm's exports (for its memory figure), once a store opened. */
let tidelogWasm;
/** Imports the package. `EventStore.open` loads the wasm itself. */
async function importTidelog() {
  tidelogModule ??= await import(TIDELOG_URL);
  return tidelogModule;
}

let DexieClass;
async function loadDexie() {
  if (!DexieClass) DexieClass = (await import(DEXIE_URL)).default;
  return DexieClass;
}

const impls = {
  async tidelog(name) {
    const tidelog = await importTidelog();
    const store = await tidelog.EventStore.open(name, { storage: "indexeddb" });
    tidelogWasm ??= await tidelog.default();
    return {
      append: (stream, events) => store.append(stream, events),
      read: (stream, fromVersion, limit) => store.read(stream, { fromVersion, limit }),
      readAll: (fromPosition, limit) => store.readAll({ fromPosition, limit }),
      readStream: (stream) => store.read(stream),
      close: () => store.close(),
    };
  },

  async raw(name) {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        const events = d.createObjectStore("events", { keyPath: "position" });
        events.createIndex("by_stream", ["stream", "version"], { unique: true });
        events.createIndex("by_id", "id", { unique: true });
        d.createObjectStore("streams", { keyPath: "stream" });
        d.createObjectStore("meta");
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return {
      async append(stream, events) {
        const tx = db.transaction(["events", "streams", "meta"], "readwrite");
        const done = txDone(tx);
        const eventsStore = tx.objectStore("events");
        const [head, global] = await Promise.all([
          reqP(tx.objectStore("streams").get(stream)),
          reqP(tx.objectStore("meta").get("head")),
        ]);
        const version = head ? head.version : 0;
        const position = global ? global.position : 0;
        const recordedAt = Date.now();
        for (let k = 0; k < events.length; k++) {
          const e = events[k];
          eventsStore.put({
            position: position + k + 1, id: crypto.randomUUID(), stream, version: version + k + 1,
            type: e.type, data: e.data, meta: null, recordedAt, schema: 1,
          });
        }
        const last = { version: version + events.length, position: position + events.length };
        tx.objectStore("streams").put({ stream, version: last.version, lastPosition: last.position });
        tx.objectStore("meta").put({ position: last.position }, "head");
        await done;
        return last;
      },
      read(stream, fromVersion, limit) {
        const tx = db.transaction("events", "readonly");
        const range = IDBKeyRange.bound([stream, fromVersion], [stream, fromVersion + limit - 1]);
        return reqP(tx.objectStore("events").index("by_stream").getAll(range));
      },
      readAll(fromPosition, limit) {
        const tx = db.transaction("events", "readonly");
        return reqP(tx.objectStore("events").getAll(IDBKeyRange.lowerBound(Math.max(1, fromPosition)), limit));
      },
      readStream(stream) {
        const tx = db.transaction("events", "readonly");
        const range = IDBKeyRange.bound([stream, 1], [stream, Number.MAX_SAFE_INTEGER]);
        return reqP(tx.objectStore("events").index("by_stream").getAll(range));
      },
      close: () => db.close(),
    };
  },

  async dexie(name) {
    const Dexie = await loadDexie();
    const db = new Dexie(name);
    db.version(1).stores({ events: "position, &[stream+version], &id", streams: "stream", meta: "" });
    await db.open();
    return {
      append(stream, events) {
        return db.transaction("rw", db.events, db.streams, db.meta, async () => {
          const [head, global] = await Promise.all([db.streams.get(stream), db.meta.get("head")]);
          const version = head ? head.version : 0;
          const position = global ? global.position : 0;
          const recordedAt = Date.now();
          const records = events.map((e, k) => ({
            position: position + k + 1, id: crypto.randomUUID(), stream, version: version + k + 1,
            type: e.type, data: e.data, meta: null, recordedAt, schema: 1,
          }));
          const last = { version: version + events.length, position: position + events.length };
          await db.events.bulkAdd(records);
          await db.streams.put({ stream, version: last.version, lastPosition: last.position });
          await db.meta.put({ position: last.position }, "head");
          return last;
        });
      },
      read: (stream, fromVersion, limit) =>
        db.events.where("[stream+version]").between([stream, fromVersion], [stream, fromVersion + limit - 1], true, true).toArray(),
      readAll: (fromPosition, limit) => db.events.where(":id").aboveOrEqual(Math.max(1, fromPosition)).limit(limit).toArray(),
      readStream: (stream) =>
        db.events.where("[stream+version]").between([stream, 1], [stream, Number.MAX_SAFE_INTEGER], true, true).toArray(),
      close: () => db.close(),
    };
  },
};

async function withFreshDb(impl, label, body) {
  const name = freshName(impl, label);
  const store = await impls[impl](name);
  try {
    return await body(store);
  } finally {
    store.close();
    await deleteDb(name);
  }
}

/** Fills `stream` with `total` events in batches of `batch` (not timed). */
async function fill(store, stream, total, batch = 1000) {
  for (let done = 0; done < total; done += batch) {
    await store.append(stream, newEvents(done, Math.min(batch, total - done)));
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const now = () => performance.now();

// ---------------------------------------------------------------------------------
// Cases. Each returns one run's sample; the runner repeats runs and aggregates.

/** 1. Batched append: `total` events in calls of `batch`, each one transaction. */
async function batchedAppend(impl, { total, batch }) {
  return withFreshDb(impl, "batch", async (store) => {
    const batches = [];
    for (let done = 0; done < total; done += batch) batches.push(newEvents(done, Math.min(batch, total - done)));
    const t0 = now();
    for (const events of batches) await store.append(STREAM, events);
    const ms = now() - t0;
    return { ms, events: total, eventsPerSec: (total / ms) * 1000 };
  });
}

/** 2. Single-event appends, one transaction each: per-append latency. */
async function singleAppend(impl, { count }) {
  return withFreshDb(impl, "single", async (store) => {
    const latencies = [];
    for (let i = 0; i < count; i++) {
      const events = newEvents(i, 1);
      const t0 = now();
      await store.append(STREAM, events);
      latencies.push(now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
    return { p50: q(0.5), p99: q(0.99), count };
  });
}

// Cases 3 and 4 read one filled database per implementation; the runner opens all
// three first (`openFilled`), then interleaves the runs (rotating the order), so drift on
// the machine does not land on one implementation only, and disposes them (`dispose`).
const open = new Map();

/** Creates a fresh database of `total` events in one stream; returns its handle. */
async function openFilled(impl, { total }) {
  const name = freshName(impl, "filled");
  const store = await impls[impl](name);
  await fill(store, STREAM, total);
  open.set(name, { store, impl });
  return { handle: name };
}

async function dispose({ handle }) {
  const entry = open.get(handle);
  if (entry) {
    entry.store.close();
    open.delete(handle);
  }
  await deleteDb(handle);
  return { handle };
}

function filled(handle, impl) {
  const entry = open.get(handle);
  check(entry && entry.impl === impl, `no open ${impl} database ${handle}`);
  return entry.store;
}

/** 3. One run of paged reads of the stream and of the global log (readAll from the middle). */
async function pagedRead(impl, { handle, total, page }) {
  const store = filled(handle, impl);
  let read = 0;
  let t0 = now();
  for (let from = 1; from <= total; from += page) {
    const records = await store.read(STREAM, from, page);
    read += records.length;
  }
  const streamMs = now() - t0;
  check(read === total, `${impl} read ${read} of ${total} events`);
  const start = Math.floor(total / 2) + 1;
  let readAll = 0;
  t0 = now();
  const maxPages = Math.ceil(total / page) + 2; // bounded even if a reader misbehaves
  for (let from = start, pages = 0; pages < maxPages; pages++) {
    const records = await store.readAll(from, page);
    readAll += records.length;
    if (records.length < page) break;
    from = records[records.length - 1].position + 1;
  }
  const allMs = now() - t0;
  check(readAll === total - start + 1, `${impl} readAll got ${readAll} of ${total - start + 1} events`);
  return {
    streamEventsPerSec: (read / streamMs) * 1000,
    readAllEventsPerSec: (readAll / allMs) * 1000,
    streamMs, allMs,
  };
}

/**
 * 4. One replay run (whole stream in one read + a sum reducer) and 7. the memory right
 * after it: JS heap (Chromium's performance.memory, after a forced GC before the run when
 * --expose-gc is on) and tidelog's wasm memory.
 */
async function replay(impl, { handle, total }) {
  const store = filled(handle, impl);
  if (typeof globalThis.gc === "function") globalThis.gc();
  const heapBefore = performance.memory?.usedJSHeapSize ?? null;
  const t0 = now();
  let records = await store.readStream(STREAM);
  let sum = 0;
  for (let k = 0; k < records.length; k++) sum += records[k].data.qty;
  const ms = now() - t0;
  const heapAfter = performance.memory?.usedJSHeapSize ?? null;
  const count = records.length;
  records = null;
  check(count === total, `${impl} replayed ${count} of ${total} events`);
  check(sum > 0, `${impl} replay sum is ${sum}`);
  return {
    ms, eventsPerSec: (total / ms) * 1000, sum, heapBefore, heapAfter,
    wasmMemory: impl === "tidelog" && tidelogWasm ? tidelogWasm.memory.buffer.byteLength : null,
  };
}

/** 5 (setup). Creates a database of `total` events for the cold-start runs. */
async function prepareCold(impl, { name, total }) {
  await deleteDb(name);
  const store = await impls[impl](name);
  await fill(store, STREAM, total);
  store.close();
  return { name };
}

/**
 * 5. Cold start, in a freshly loaded page: load the library (tidelog: import the JS;
 * dexie: import), open the store (tidelog: `EventStore.open`, which loads the wasm, as
 * the README shows), first read.
 */
async function coldStart(impl, { name }) {
  const t0 = now();
  if (impl === "tidelog") await importTidelog();
  if (impl === "dexie") await loadDexie();
  const tLoaded = now();
  const opening = impls[impl](name);
  // tidelog: when the wasm the open loads was ready (init() shares the open's load).
  const wasmReady = impl === "tidelog" ? tidelogModule.default().then(now) : null;
  const store = await opening;
  const tOpen = now();
  const first = await store.read(STREAM, 1, 1);
  const t1 = now();
  check(first.length === 1, `${impl} cold read got ${first.length} events`);
  store.close();
  const out = { ms: t1 - t0, loadMs: tLoaded - t0, openMs: tOpen - tLoaded, readMs: t1 - tOpen };
  // The wasm came inside tidelog.js: ready once decoded, compiled and instantiated.
  if (wasmReady) out.wasmMs = (await wasmReady) - tLoaded;
  return out;
}

async function cleanup({ name }) {
  await deleteDb(name);
  return { name };
}

function environment() {
  return {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    preciseMemory: typeof performance.memory !== "undefined",
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    gc: typeof globalThis.gc === "function",
    payloadBytes: JSON.stringify(payload(12345)).length,
  };
}

const cases = { batchedAppend, singleAppend, openFilled, dispose, pagedRead, replay, prepareCold, coldStart, cleanup, environment };

/** Entry point for the runner: `bench.run(caseName, impl, options)`. */
async function run(name, impl, options = {}) {
  const fn = cases[name];
  if (!fn) throw new Error(`unknown case ${name}`);
  if (name === "cleanup" || name === "environment" || name === "dispose") return fn(options);
  if (!impls[impl]) throw new Error(`unknown implementation ${impl}`);
  return fn(impl, options);
}

globalThis.bench = { run, ready: true };
document.documentElement.dataset.ready = "1";
