// report, deliver, cloneValue, persistStorage and storageEstimate without wasm (the storage
// manager a stand-in `navigator.storage`; the real one runs in tests/js/sync.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { deliver, cloneValue, report, persistStorage, storageEstimate } from "./util.js";

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
