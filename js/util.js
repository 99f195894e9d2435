// @ts-check
// Small utilities the Rust side imports (declared in src/web/glue.rs).

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
