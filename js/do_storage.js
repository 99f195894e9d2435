// @ts-check
// The Durable Object storage backend of the sync server (src/web/do_storage.rs calls
// these; the key layout and every decision live in src/server/kv/). `storage` is a
// Durable Object's `ctx.storage`. Values are Uint8Arrays (see kv/: never JS strings).

/**
 * The part of a Durable Object storage transaction used here.
 * @typedef {object} KvTransaction
 * @property {(keys: string[]) => Promise<Map<string, unknown>>} get the values found (absent keys are left out)
 * @property {(entries: Record<string, unknown>) => Promise<void>} put
 */

/**
 * The part of a Durable Object's `ctx.storage` used here.
 * @typedef {object} KvStorage
 * @property {(keys: string[]) => Promise<Map<string, unknown>>} get
 * @property {(options: { prefix: string, start: string, limit: number }) => Promise<Map<string, unknown>>} list by ascending key
 * @property {<T>(body: (txn: KvTransaction) => Promise<T>) => Promise<T>} transaction
 */

const MAX_KEYS = 128; // Durable Object storage: at most 128 keys per get/put call

/**
 * Resolves to an Array with one value (a Uint8Array) or undefined per key, in order.
 * @param {KvStorage} storage
 * @param {string[]} keys at most 128
 * @returns {Promise<unknown[]>}
 */
export async function kvGet(storage, keys) {
  const found = await storage.get(keys);
  return keys.map((key) => found.get(key));
}

/**
 * Resolves to a flat Array [key, value, key, value, ...] of up to `limit` entries with
 * the prefix, from `start` on (inclusive), by ascending key.
 * @param {KvStorage} storage
 * @param {string} prefix
 * @param {string} start
 * @param {number} limit
 * @returns {Promise<unknown[]>}
 */
export async function kvList(storage, prefix, start, limit) {
  const found = await storage.list({ prefix, start, limit });
  /** @type {unknown[]} */
  const out = [];
  for (const [key, value] of found) out.push(key, value);
  return out;
}

/**
 * Whether two stored values are the same bytes (undefined = absent).
 * @param {unknown} a
 * @param {unknown} b
 */
function sameBytes(a, b) {
  if (a === undefined || b === undefined) return a === b;
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * In ONE storage transaction: when every expectKeys[i] holds expectValues[i] (undefined =
 * absent), writes putKeys[i] = putValues[i] for all i and resolves to true; otherwise
 * writes nothing and resolves to false.
 * @param {KvStorage} storage
 * @param {string[]} expectKeys
 * @param {(Uint8Array | undefined)[]} expectValues
 * @param {string[]} putKeys
 * @param {Uint8Array[]} putValues
 * @returns {Promise<boolean>}
 */
export async function kvPutIf(storage, expectKeys, expectValues, putKeys, putValues) {
  return storage.transaction(async (txn) => {
    for (let i = 0; i < expectKeys.length; i += MAX_KEYS) {
      const keys = expectKeys.slice(i, i + MAX_KEYS);
      const found = await txn.get(keys);
      for (let j = 0; j < keys.length; j++) {
        if (!sameBytes(found.get(keys[j]), expectValues[i + j])) return false;
      }
    }
    const writes = [];
    for (let i = 0; i < putKeys.length; i += MAX_KEYS) {
      /** @type {Record<string, Uint8Array>} */
      const entries = {};
      for (let j = i; j < Math.min(i + MAX_KEYS, putKeys.length); j++) entries[putKeys[j]] = putValues[j];
      writes.push(txn.put(entries));
    }
    await Promise.all(writes);
    return true;
  });
}
