// @ts-check
// Small utilities the Rust side imports (declared in src/web/glue.rs).

import { makeError } from "./errors.js";

/**
 * Reports an error nobody awaits (a failed background task): `reportError` where the host
 * has it (it reaches `window.onerror` and the console like an uncaught error), else
 * `console.error` with `context`. Never throws.
 * @param {unknown} error
 * @param {string} context
 * @returns {void}
 */
export function report(error, context) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else console.error(`tidelog: ${context}`, error);
}

/**
 * Calls `callback(value)`. What the callback throws is reported (`reportError` where the
 * host has it, else `console.error`), never swallowed, and never propagates: one
 * failing subscriber does not stop delivery to the others.
 * @template T
 * @param {(value: T) => unknown} callback
 * @param {T} value
 * @returns {void}
 */
export function deliver(callback, value) {
  try {
    callback(value);
  } catch (error) {
    report(error, "a subscriber threw");
  }
}

/**
 * `structuredClone(value)` where the host has it (all current browsers, Node 17+,
 * workerd), else `value` itself. Throws what structuredClone throws (a DataCloneError).
 * @template T
 * @param {T} value
 * @returns {T}
 */
export function cloneValue(value) {
  return typeof globalThis.structuredClone === "function" ? globalThis.structuredClone(value) : value;
}

// Promises of a store that must not outlive it (`sync.now()`, `sync.acknowledged(id)`):
// closing the store rejects them, whatever they were waiting for.

/**
 * `promise`'s outcome, unless `rejectAll(closing, error)` comes first: the returned
 * promise's `reject` waits in `closing` until `promise` settles.
 * @template T
 * @param {Promise<T>} promise
 * @param {Set<(error: unknown) => void>} closing
 * @returns {Promise<T>}
 */
export function untilClosed(promise, closing) {
  return new Promise((resolve, reject) => {
    closing.add(reject);
    promise.then(resolve, reject).finally(() => closing.delete(reject));
  });
}

/**
 * Rejects every promise waiting in `closing` with `error`; empties it.
 * @param {Set<(error: unknown) => void>} closing
 * @param {unknown} error
 * @returns {void}
 */
export function rejectAll(closing, error) {
  for (const reject of closing) reject(error);
  closing.clear();
}

// The browser package's sync side and memory store are wasm files of their own, each with
// its glue module (scripts/build-pkg): the client's wasm loads the sync side when the
// first store opens with `sync`, and the memory store when the first store opens with
// memory storage, so a page that never does never downloads, parses or compiles them.

/**
 * A module loaded once for the page by `load` (set by the package's entry), and the
 * typed error a failed load rejects with (the next call tries again).
 * @template T
 * @param {string} what the module, for the error message (and that no loader is set)
 * @param {(message: string, cause: unknown) => Error} fail the error of a failed load
 */
function lazyModule(what, fail) {
  /** @type {null | (() => Promise<T>)} */
  let loader = null;
  /** @type {null | Promise<T>} */
  let loading = null;
  return {
    /** @param {null | (() => Promise<T>)} load */
    set(load) {
      loader = load;
      loading = null;
    },
    /** @returns {Promise<T>} */
    load() {
      if (!loading) {
        const load = loader;
        loading = (load ? Promise.resolve().then(load) : Promise.reject(new Error(`this build of tidelog has no ${what}`)))
          .catch((/** @type {unknown} */ cause) => {
            loading = null;
            const why = cause instanceof Error ? cause.message : String(cause);
            throw fail(`the ${what} could not be loaded: ${why}`, cause);
          });
      }
      return loading;
    },
  };
}

/**
 * The sync wasm's `startSync(name, options, store)` (src/bindings/sync/link.rs).
 * @typedef {(name: string, options: unknown, store: object) => Promise<object>} StartSync
 */

/**
 * The sync wasm's `checkSync(options)` (src/bindings/sync/link.rs): throws an
 * `InvalidInputError` for a `sync` option that can never work.
 * @typedef {(options: unknown) => void} CheckSync
 */

/**
 * The sync side once loaded: its `startSync` and `checkSync`, and the class of
 * `store.sync` (`Sync`).
 * @typedef {{ startSync: StartSync, checkSync: CheckSync, Sync: Function }} SyncModule
 */

/** @type {ReturnType<typeof lazyModule<SyncModule>>} */
const syncModule = lazyModule("sync module (tidelog_sync.js and tidelog_sync_bg.wasm)", (message, cause) => {
  const error = /** @type {import("./errors.js").SyncError & { code: string, status: null }} */ (makeError("SyncError", message));
  error.code = "network";
  error.status = null;
  error.cause = cause;
  return error;
});
/** @type {undefined | Function} */
let syncClass;
/** @type {null | object} */
let syncGlue = null;

/**
 * Hands over the sync glue imported up front (`import "tidelog/sync"`, for service
 * workers, where `import()` is not allowed); the loader then uses it instead of importing.
 * @param {object} glue the sync glue module (pkg/tidelog_sync.js)
 * @returns {void}
 */
export function provideSyncGlue(glue) {
  syncGlue = glue;
}

/**
 * The sync glue module as the browser entry loads it (pkg/tidelog_sync.js).
 * @typedef {{ default: (options: { module_or_path: URL }) => Promise<unknown>, startSync: StartSync, checkSync: CheckSync, Sync: Function }} SyncGlue
 */

/**
 * The browser entry's sync loader: the glue handed over up front, or else `importGlue()`
 * (the entry's `import("./tidelog_sync.js")`), then its wasm from `wasm`. In a service
 * worker, where `import()` is refused, the failure says what to do instead.
 * @param {() => Promise<SyncGlue>} importGlue
 * @param {URL} wasm where tidelog_sync_bg.wasm is
 * @returns {Promise<SyncModule>}
 */
export async function loadSyncGlue(importGlue, wasm) {
  const glue = await loadGlue(async () => /** @type {SyncGlue | null} */ (syncGlue) ?? await importGlue().catch((/** @type {unknown} */ e) => {
    const scope = /** @type {{ ServiceWorkerGlobalScope?: Function }} */ (globalThis).ServiceWorkerGlobalScope;
    if (!scope || !(globalThis instanceof scope)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`a service worker cannot import() it: import "tidelog/sync" there first (${why})`, { cause: e });
  }), wasm);
  return { startSync: glue.startSync, checkSync: glue.checkSync, Sync: glue.Sync };
}

/**
 * A lazily loaded glue of the browser package (the sync side's, the memory store's):
 * `importGlue()` (the entry's `import()` of it), then its wasm instantiated from `wasm`.
 * @template {{ default: (options: { module_or_path: URL }) => Promise<unknown> }} G
 * @param {() => Promise<G>} importGlue
 * @param {URL} wasm
 * @returns {Promise<G>}
 */
export async function loadGlue(importGlue, wasm) {
  const glue = await importGlue();
  await glue.default({ module_or_path: wasm });
  return glue;
}

/**
 * Sets how the sync side loads (the package's browser entry does: scripts/build-pkg).
 * @param {() => Promise<SyncModule>} load
 * @returns {void}
 */
export function setSyncLoader(load) {
  syncModule.set(load);
}

/**
 * The sync side, loaded once for the page: `open` with `sync` awaits it before its
 * database opens (its `checkSync` checks the option first). A failed load (offline before
 * the file was ever fetched, a server that does not serve it) rejects with a `SyncError`,
 * code `"network"`, and the next store opened with `sync` tries again.
 * @returns {Promise<SyncModule>}
 */
export async function loadSyncModule() {
  const loaded = await syncModule.load();
  syncClass = loaded.Sync;
  return loaded;
}

/**
 * `Sync` as the browser entry exports it: the class of `store.sync` lives in the sync
 * glue, imported with the sync wasm, so until then this stands in for it, and
 * `instanceof` holds for the loaded class's objects (`shareInstanceof`). Not
 * constructible, like the class it stands for (`store.sync` makes them).
 */
export class SyncStandIn {
  constructor() {
    throw new TypeError("Sync objects are made by a store opened with `sync` (store.sync)");
  }
}
Object.defineProperty(SyncStandIn, "name", { value: "Sync" });

/**
 * The memory wasm's `EventStore.open(name, options)`: a store of that wasm instance
 * (src/bindings/event_store.rs, `open`).
 * @typedef {(name: string, options: unknown) => Promise<object>} OpenMemoryStore
 */

/** @type {ReturnType<typeof lazyModule<OpenMemoryStore>>} */
const memoryModule = lazyModule("memory store module (tidelog_memory_bg.wasm)", storageError);

/**
 * A `StorageError` (code `"storage"`) for a wasm that could not be loaded, its `cause` the
 * host's error as `{ name, message }`.
 * @param {string} message
 * @param {unknown} cause
 */
function storageError(message, cause) {
  const error = /** @type {import("./errors.js").StorageError & { code: string, cause: { name: string, message: string } }} */ (
    makeError("StorageError", message));
  error.code = "storage";
  error.cause = {
    name: cause instanceof Error ? cause.name : "Error",
    message: cause instanceof Error ? cause.message : String(cause),
  };
  return error;
}

/**
 * Sets how the memory wasm loads (the browser package's entry does: {@link useMemoryGlue}).
 * @param {() => Promise<OpenMemoryStore>} load
 * @returns {void}
 */
export function setMemoryLoader(load) {
  memoryModule.set(load);
}

/**
 * The memory glue as the browser entry loads it (pkg/tidelog_memory.js).
 * @typedef {{ default: (options: { module_or_path: URL }) => Promise<unknown>, EventStore: Function & { open: OpenMemoryStore }, Projection: Function }} MemoryGlue
 */

/**
 * The browser entry's memory stores: the glue `importGlue()` with its wasm from `wasm`,
 * loaded by the first open of a memory store ({@link loadMemoryModule}); from then on
 * that glue's stores and projections are instances of the entry's `EventStore` and
 * `Projection` too ({@link shareInstanceof}).
 * @param {() => Promise<MemoryGlue>} importGlue
 * @param {() => URL} wasm where tidelog_memory_bg.wasm is, asked at the load: the entry
 *   is also evaluated where `import.meta.url` is no base URL (workerd's memory glue
 *   imports it for its JS modules)
 * @param {Function} EventStore the entry's class
 * @param {Function} Projection the entry's class
 * @returns {void}
 */
export function useMemoryGlue(importGlue, wasm, EventStore, Projection) {
  /** @type {MemoryGlue | undefined} */
  let loaded;
  setMemoryLoader(async () => {
    const glue = await loadGlue(importGlue, wasm());
    loaded = glue;
    return (name, options) => glue.EventStore.open(name, options);
  });
  shareInstanceof(EventStore, () => loaded?.EventStore);
  shareInstanceof(Projection, () => loaded?.Projection);
}

/**
 * The bytes of a string that holds one byte per character (char codes 0 to 255), the
 * form the browser entry carries its wasm in (scripts/embed-wasm.mjs writes it). Where
 * the host has `Uint8Array.fromBase64`, through `btoa` (two native passes: 0.25 ms for
 * the client's 138 KB in Chromium, against 1.7 ms for the loop), else a loop.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function latin1Bytes(text) {
  const fromBase64 = /** @type {{ fromBase64?: (base64: string) => Uint8Array }} */ (/** @type {unknown} */ (Uint8Array)).fromBase64;
  if (typeof fromBase64 === "function") return fromBase64(btoa(text));
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The browser entry's `init`: the glue's, which loads the wasm the entry carries
 * (`wasm()`, one byte per character: {@link latin1Bytes}) when called without a
 * `module_or_path`, and what it is given otherwise (a URL, a `Response`, bytes, a
 * `WebAssembly.Module`). The page makes no request for the wasm: it came with the JS.
 * The decoding and compiling happen on the first call only (the glue returns at once
 * once the wasm is instantiated); a compile that fails (a Content-Security-Policy
 * without `'wasm-unsafe-eval'`) rejects that call, and the next call compiles again.
 * @param {(options?: unknown) => Promise<unknown>} glueInit the glue's `init`
 * @param {() => string} wasm the wasm the entry carries
 * @returns {(options?: unknown) => Promise<unknown>}
 */
export function embeddedInit(glueInit, wasm) {
  /** @type {null | Promise<WebAssembly.Module>} */
  let compiled = null;
  return async function init(options) {
    const carried = options === undefined || (typeof options === "object" && options !== null &&
      Object.getPrototypeOf(options) === Object.prototype && /** @type {{ module_or_path?: unknown }} */ (options).module_or_path === undefined);
    if (!carried) return glueInit(options);
    if (!compiled) {
      compiled = WebAssembly.compile(/** @type {Uint8Array<ArrayBuffer>} */ (latin1Bytes(wasm())));
      compiled.catch(() => {
        compiled = null;
      });
    }
    return glueInit({ module_or_path: compiled });
  };
}

/**
 * Makes the browser entry's static `EventStore.open` and `EventStore.deleteStore` load
 * the wasm themselves (`init`, the entry's default export, {@link embeddedInit}: once per
 * page, concurrent calls share it), so a page needs no `init()` of its own. A wasm that cannot be loaded rejects the call
 * with a `StorageError` (code `"storage"`, `cause` the host's `{ name, message }`); the
 * next call tries again.
 * @param {{ open: (...args: unknown[]) => Promise<unknown>, deleteStore: (...args: unknown[]) => Promise<unknown> }} EventStore the glue's class
 * @param {() => Promise<unknown>} init the entry's `init`
 * @returns {void}
 */
export function loadOnFirstCall(EventStore, init) {
  /** @type {ReturnType<typeof lazyModule<unknown>>} */
  const wasm = lazyModule("wasm", storageError);
  wasm.set(init);
  const { open, deleteStore } = EventStore;
  // (Object literal methods: the functions keep their names.)
  Object.assign(EventStore, {
    async open(/** @type {unknown[]} */ ...args) {
      await wasm.load();
      return open(...args);
    },
    async deleteStore(/** @type {unknown[]} */ ...args) {
      await wasm.load();
      return deleteStore(...args);
    },
  });
}

/**
 * The memory wasm's `EventStore.open`, loaded once for the page: the browser package's
 * client wasm has no memory store and opens one there. A failed load (offline before the
 * file was ever fetched, a server that does not serve it) rejects with a `StorageError`
 * whose `cause` is the host's error (`{ name, message }`), and the next open of a memory
 * store tries again.
 * @returns {Promise<OpenMemoryStore>}
 */
export function loadMemoryModule() {
  return memoryModule.load();
}

/**
 * Makes `value instanceof cls` true also for instances of the class `other()` returns
 * (`undefined`: none yet): the browser package's `EventStore` and `Projection` for the
 * stores and projections of the memory wasm, which has classes of its own.
 * @param {Function} cls
 * @param {() => Function | undefined} other
 * @returns {void}
 */
export function shareInstanceof(cls, other) {
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (/** @type {unknown} */ value) => {
      if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
      const also = other();
      return also !== undefined && Function.prototype[Symbol.hasInstance].call(also, value);
    },
    configurable: true,
  });
}

shareInstanceof(SyncStandIn, () => syncClass);

// The host's storage manager (`navigator.storage`), for `EventStore.open(name, { persist:
// true })` and the storage figures of `sync.status()`. (In util.js rather than a module of
// its own: with one more module in the graph, a wasm-bindgen-test in Chromium that opens
// the database through rexie hung until the renderer timed out.)

/**
 * The host's `navigator.storage`, if it has one.
 * @returns {StorageManager | undefined}
 */
function manager() {
  const nav = /** @type {{ storage?: StorageManager } | undefined} */ (globalThis.navigator);
  return nav?.storage;
}

/**
 * Asks the browser to keep this origin's storage under pressure
 * (`navigator.storage.persist()`).
 * @returns {Promise<boolean | null>} its answer; `null` where the host has no storage
 *   manager, or asking failed
 */
export async function persistStorage() {
  const storage = manager();
  if (typeof storage?.persist !== "function") return null;
  try {
    return await storage.persist();
  } catch {
    return null;
  }
}

/**
 * `navigator.storage.estimate()` and `persisted()`: `{ usage, quota, persisted }` in
 * bytes (`persisted` null where the host cannot tell), or `null` where the host has no
 * storage manager or it failed.
 * @returns {Promise<{ usage: number, quota: number, persisted: boolean | null } | null>}
 */
export async function storageEstimate() {
  const storage = manager();
  if (typeof storage?.estimate !== "function") return null;
  try {
    const { usage = 0, quota = 0 } = await storage.estimate();
    const persisted = typeof storage.persisted === "function" ? await storage.persisted() : null;
    return { usage, quota, persisted };
  } catch {
    return null;
  }
}

// Deleting a store's database (`EventStore.deleteStore`, src/web/indexeddb/mod.rs). In JS:
// a few IndexedDB requests cost far fewer bytes here than as Rust futures.

/**
 * The host's `indexedDB` (the Rust side calls these only where it has one).
 * @returns {IDBFactory}
 */
function factory() {
  return globalThis.indexedDB;
}

/**
 * A request's result as a promise.
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
function settled(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Whether the IndexedDB database `name` exists, found without creating it (`open` would):
 * `indexedDB.databases()`, where an entry at version 0 is no database (WebKit lists one
 * after a creation was aborted); where the host has no `databases()` or it fails, an
 * `open` whose creation is aborted in `upgradeneeded`.
 * @param {string} name
 * @returns {Promise<boolean>}
 */
export async function databaseExists(name) {
  const idb = factory();
  if (typeof idb.databases === "function") {
    try {
      return (await idb.databases()).some((d) => d.name === name && (d.version ?? 0) > 0);
    } catch {
      // Below: the aborted open.
    }
  }
  return new Promise((resolve, reject) => {
    const request = idb.open(name);
    let created = false;
    request.onupgradeneeded = () => {
      created = true;
      request.transaction?.abort();
    };
    request.onsuccess = () => {
      request.result.close();
      resolve(true);
    };
    request.onerror = (event) => {
      event.preventDefault();
      if (created) resolve(false);
      else reject(request.error);
    };
  });
}

/**
 * The events of database `name` the sync server does not have, read in one transaction:
 * every stream's events past its `syncedVersion` (a field of its `streams` record; none:
 * 0, a store that never synced), and the local events of the quarantined `conflicts`
 * (`local`) and `dead_letters` (`events`), which sync took out of the log. The layout is
 * src/web/indexeddb/mod.rs's; the database is opened at its own version (never upgraded:
 * other tabs' connections are left alone), and a store missing from an old schema counts
 * nothing.
 * @param {string} name
 * @returns {Promise<number>}
 */
export async function unsyncedCount(name) {
  const db = await settled(factory().open(name));
  db.onversionchange = () => db.close();
  try {
    const names = ["streams", "conflicts", "dead_letters"].filter((n) => db.objectStoreNames.contains(n));
    if (names.length === 0) return 0;
    const tx = db.transaction(names, "readonly");
    /** @param {string} store @returns {Promise<any[]>} */
    const all = (store) => (names.includes(store) ? settled(tx.objectStore(store).getAll()) : Promise.resolve([]));
    const [heads, conflicts, letters] = await Promise.all([all("streams"), all("conflicts"), all("dead_letters")]);
    let count = 0;
    for (const head of heads) count += Math.max(0, (head.version ?? 0) - (head.syncedVersion ?? 0));
    for (const conflict of conflicts) count += conflict.local?.length ?? 0;
    for (const letter of letters) count += letter.events?.length ?? 0;
    return count;
  } finally {
    db.close();
  }
}

/**
 * Deletes the IndexedDB database `name` (none: nothing to do) and resolves once it is
 * gone. Every tidelog connection closes itself on the `versionchange` this causes; a
 * connection that does not (not tidelog's) blocks the delete. Still not deleted
 * `blockedMs` after the request: rejects with an Error named "Blocked" (counted from the
 * request, not from the `blocked` event: Firefox does not fire that one when the
 * connection is in another tab). The browser keeps the delete queued, and it happens once
 * that connection closes.
 * @param {string} name
 * @param {number} blockedMs
 * @returns {Promise<void>}
 */
export function deleteDatabase(name, blockedMs) {
  return new Promise((resolve, reject) => {
    const request = factory().deleteDatabase(name);
    const timer = setTimeout(() => {
      const error = new Error(
        `the database ${JSON.stringify(name)} is still not deleted after ${blockedMs} ms: a connection that is not tidelog's ` +
        `keeps it open (it does not close on versionchange); the browser deletes it once that connection closes`,
      );
      error.name = "Blocked";
      reject(error);
    }, blockedMs);
    request.onsuccess = () => {
      clearTimeout(timer);
      resolve();
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(request.error);
    };
  });
}

/**
 * `EventStore.deleteStore` over IndexedDB. Unless `force`: a database that does not exist
 * resolves to 0 (nothing created), and one holding events the server does not have
 * (`unsyncedCount`) resolves to their number, deleting nothing. Otherwise the database is
 * deleted (`deleteDatabase`) and this resolves to 0.
 * @param {string} name
 * @param {boolean} force
 * @param {number} blockedMs
 * @returns {Promise<number>}
 */
export async function deleteStore(name, force, blockedMs) {
  if (!force) {
    if (!(await databaseExists(name))) return 0;
    const count = await unsyncedCount(name);
    if (count > 0) return count;
  }
  await deleteDatabase(name, blockedMs);
  return 0;
}
