// The Durable Object storage backend of the sync server (src/bindings/server.rs calls
// these; the key layout and every decision live in src/server/kv/mod.rs). `storage` is a
// Durable Object's `ctx.storage`. Values are Uint8Arrays (see kv.rs: never JS strings).

const MAX_KEYS = 128; // Durable Object storage: at most 128 keys per get/put call

// Resolves to an Array with one value (Uint8Array) or undefined per key, in order.
export async function kvGet(storage, keys) {
  const found = await storage.get(keys);
  return keys.map((key) => found.get(key));
}

// Resolves to a flat Array [key, value, key, value, ...] of up to `limit` entries with
// the prefix, from `start` on, by ascending key.
export async function kvList(storage, prefix, start, limit) {
  const found = await storage.list({ prefix, start, limit });
  const out = [];
  for (const [key, value] of found) out.push(key, value);
  return out;
}

function sameBytes(a, b) {
  if (a === undefined || b === undefined) return a === b;
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// In ONE storage transaction: when every expectKeys[i] holds expectValues[i] (undefined =
// absent), writes putKeys[i] = putValues[i] for all i and resolves to true; otherwise
// writes nothing and resolves to false.
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
      const entries = {};
      for (let j = i; j < Math.min(i + MAX_KEYS, putKeys.length); j++) entries[putKeys[j]] = putValues[j];
      writes.push(txn.put(entries));
    }
    await Promise.all(writes);
    return true;
  });
}
