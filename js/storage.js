// @ts-check
// The host's storage manager (`navigator.storage`), for `EventStore.open(name, { persist:
// true })` and the storage figures of `sync.status()`. Declared in src/web/glue.rs.

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
