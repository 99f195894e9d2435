// persistStorage and storageEstimate without wasm: hosts with a storage manager (a
// stand-in `navigator.storage`), without one, and with one that fails. The real one is
// exercised in the browsers by tests/js/sync.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { persistStorage, storageEstimate } from "./storage.js";

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
