// The JS API of the built package in Chromium, Firefox and WebKit against real IndexedDB,
// served by the real workerd demo server: errors as JS sees them, bad input, two tabs
// racing, subscriptions across tabs, persistence across reload, quota exceeded, schema
// upgrade, deleting a store open in two tabs (sign-out), and a page without init() (open
// and deleteStore load the wasm tidelog.js carries; a wasm the page cannot compile).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, startProxy, engineSuites, openPage, tidelogPage as harnessPage, waitUntil } from "./harness.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const unique = (name) => `api-${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

engineSuites("api", (suite) => {
  const { test } = suite;
  suite.expectTests(16);
  let context;
  before(async () => {
    context = await suite.browser.newContext();
  });

  /** A page of the demo origin with `window.tidelog` loaded and initialised. */
  const tidelogPage = (inContext = context) => harnessPage(inContext, server.base);

  test("append, read, readAll, version, streams, metrics: the documented shapes", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const appended = await store.append("cart-42", [
        { type: "ItemAdded", data: { sku: "A1", qty: 1 } },
        { type: "ItemAdded", data: { sku: "B2", qty: 2 }, meta: { user: "ada" }, id: "my-id-1", schema: 2 },
      ], { expectedVersion: 0 });
      await store.append("other", [{ type: "X", data: null }], { expectedVersion: "no_stream" });
      return {
        storage: store.storage,
        appended,
        events: await store.read("cart-42"),
        backward: (await store.read("cart-42", { direction: "backward", limit: 1 })).map((e) => e.version),
        all: (await store.readAll({ fromPosition: 2 })).map((e) => [e.stream, e.position]),
        version: await store.version("cart-42"),
        none: await store.version("nothing-here"),
        streams: await store.streams(),
        metrics: store.metrics(),
      };
    }, unique("shapes"));
    assert.equal(out.storage, "indexeddb");
    assert.deepEqual(out.appended, { stream: "cart-42", firstVersion: 1, lastVersion: 2, firstPosition: 1, lastPosition: 2 });
    assert.equal(out.events.length, 2);
    const [a, b] = out.events;
    assert.deepEqual(Object.keys(a).sort(), ["data", "id", "meta", "position", "recordedAt", "schema", "stream", "tags", "type", "version"]);
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "generated ids are UUIDv7");
    assert.deepEqual([a.stream, a.version, a.position, a.type, a.data, a.meta, a.schema], ["cart-42", 1, 1, "ItemAdded", { sku: "A1", qty: 1 }, null, 1]);
    assert.deepEqual([b.id, b.meta, b.schema], ["my-id-1", { user: "ada" }, 2]);
    assert.ok(Math.abs(a.recordedAt - Date.now()) < 60_000, "recordedAt is epoch ms");
    assert.deepEqual(out.backward, [2]);
    assert.deepEqual(out.all, [["cart-42", 2], ["other", 3]]);
    assert.equal(out.version, 2);
    assert.equal(out.none, 0);
    assert.deepEqual(out.streams, [
      { stream: "cart-42", version: 2, lastPosition: 2, syncedVersion: 0 },
      { stream: "other", version: 1, lastPosition: 3, syncedVersion: 0 },
    ]);
    assert.equal(out.metrics.appends, 2);
    assert.equal(out.metrics.eventsWritten, 3);
    assert.ok(out.metrics.bytesWritten > 40, `bytesWritten ${out.metrics.bytesWritten}`);
    await page.close();
  });

  test("errors are JS Errors with stable names, codes and fields", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("s", [{ type: "A" }]);
      const caught = async (promise) => {
        try { await promise; return null; } catch (e) {
          const classes = e instanceof tidelog.TidelogError && e instanceof tidelog[e.name];
          return { isError: e instanceof Error && classes, name: e.name, code: e.code, message: e.message,
            stream: e.stream, expectedVersion: e.expectedVersion, actualVersion: e.actualVersion, field: e.field };
        }
      };
      const conflict = await caught(store.append("s", [{ type: "B" }], { expectedVersion: 5 }));
      const noStream = await caught(store.append("s", [{ type: "B" }], { expectedVersion: "no_stream" }));
      const invalid = await caught(store.append("", [{ type: "B" }]));
      store.close();
      const closed = await caught(store.read("s"));
      return { conflict, noStream, invalid, closed };
    }, unique("errors"));
    assert.deepEqual(out.conflict, {
      isError: true, name: "VersionConflictError", code: "version_conflict",
      message: "version conflict on stream s: expected 5, actual version is 1",
      stream: "s", expectedVersion: 5, actualVersion: 1, field: undefined,
    });
    assert.equal(out.noStream.expectedVersion, "no_stream");
    assert.equal(out.invalid.name, "InvalidInputError");
    assert.equal(out.invalid.code, "invalid_input");
    assert.equal(out.invalid.field, "stream");
    assert.equal(out.closed.name, "ClosedError");
    assert.equal(out.closed.code, "closed");
    await page.close();
  });

  test("bad input catalogue: every case is an InvalidInputError and writes nothing", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("ok", [{ type: "Seed", data: 1 }]);
      const cyclic = { a: 1 }; cyclic.self = cyclic;
      let deep = {}; for (let i = 0; i < 200; i++) deep = { d: deep };
      const good = { type: "Fine", data: { x: 1 } };
      const cases = {
        "stream: empty": () => store.append("", [good]),
        "stream: 257 bytes": () => store.append("x".repeat(257), [good]),
        "stream: 1 MB": () => store.append("x".repeat(1 << 20), [good]),
        "stream: control char": () => store.append("a\u0000b", [good]),
        "stream: newline": () => store.append("a\nb", [good]),
        "stream: lone surrogate": () => store.append("a\ud800b", [good]),
        "stream: number": () => store.append(42, [good]),
        "stream: null": () => store.append(null, [good]),
        "stream: object": () => store.append({}, [good]),
        "events: not an array": () => store.append("ok", good),
        "events: undefined": () => store.append("ok"),
        "events: empty array": () => store.append("ok", []),
        "events: string": () => store.append("ok", "events"),
        "event: null": () => store.append("ok", [good, null]),
        "event: number": () => store.append("ok", [good, 5]),
        "event: array": () => store.append("ok", [good, []]),
        "event: missing type": () => store.append("ok", [good, { data: 1 }]),
        "event: empty type": () => store.append("ok", [good, { type: "" }]),
        "event: numeric type": () => store.append("ok", [good, { type: 7 }]),
        "event: type too long": () => store.append("ok", [good, { type: "T".repeat(300) }]),
        "event: unknown key": () => store.append("ok", [good, { type: "T", version: 3 }]),
        "event: empty id": () => store.append("ok", [good, { type: "T", id: "" }]),
        "event: numeric id": () => store.append("ok", [good, { type: "T", id: 12 }]),
        "event: id with control char": () => store.append("ok", [good, { type: "T", id: "a\tb" }]),
        "event: duplicate id in batch": () => store.append("ok", [{ ...good, id: "d" }, { ...good, id: "d" }]),
        "event: schema 0": () => store.append("ok", [good, { type: "T", schema: 0 }]),
        "event: schema fractional": () => store.append("ok", [good, { type: "T", schema: 1.5 }]),
        "event: schema string": () => store.append("ok", [good, { type: "T", schema: "2" }]),
        "data: function": () => store.append("ok", [good, { type: "T", data: () => 1 }]),
        "data: nested function": () => store.append("ok", [good, { type: "T", data: { f() {} } }]),
        "data: symbol": () => store.append("ok", [good, { type: "T", data: Symbol("s") }]),
        "data: symbol key": () => store.append("ok", [good, { type: "T", data: { [Symbol("k")]: 1 } }]),
        "data: BigInt": () => store.append("ok", [good, { type: "T", data: { n: 10n } }]),
        "data: Date": () => store.append("ok", [good, { type: "T", data: { at: new Date() } }]),
        "data: Map": () => store.append("ok", [good, { type: "T", data: new Map() }]),
        "data: NaN": () => store.append("ok", [good, { type: "T", data: { n: NaN } }]),
        "data: Infinity": () => store.append("ok", [good, { type: "T", data: [Infinity] }]),
        "data: cycle": () => store.append("ok", [good, { type: "T", data: cyclic }]),
        "data: 200 levels deep": () => store.append("ok", [good, { type: "T", data: deep }]),
        "data: undefined in array": () => store.append("ok", [good, { type: "T", data: [undefined] }]),
        "data: class instance": () => store.append("ok", [good, { type: "T", data: new (class Point { x = 1 })() }]),
        "meta: function": () => store.append("ok", [good, { type: "T", meta: { f: () => 0 } }]),
        "meta: cycle": () => store.append("ok", [good, { type: "T", meta: cyclic }]),
        "expectedVersion: negative": () => store.append("ok", [good], { expectedVersion: -1 }),
        "expectedVersion: fractional": () => store.append("ok", [good], { expectedVersion: 1.5 }),
        "expectedVersion: NaN": () => store.append("ok", [good], { expectedVersion: NaN }),
        "expectedVersion: too big": () => store.append("ok", [good], { expectedVersion: 2 ** 60 }),
        "expectedVersion: unknown keyword": () => store.append("ok", [good], { expectedVersion: "latest" }),
        "expectedVersion: BigInt": () => store.append("ok", [good], { expectedVersion: 1n }),
        "expectedVersion: object": () => store.append("ok", [good], { expectedVersion: {} }),
        "append options: unknown name": () => store.append("ok", [good], { expectedVersoin: 1 }),
        "append options: not an object": () => store.append("ok", [good], 5),
        "read: fromVersion negative": () => store.read("ok", { fromVersion: -1 }),
        "read: limit fractional": () => store.read("ok", { limit: 0.5 }),
        "read: direction unknown": () => store.read("ok", { direction: "sideways" }),
        "read: unknown option": () => store.read("ok", { form: 1 }),
        "readAll: fromPosition string": () => store.readAll({ fromPosition: "1" }),
        "readAll: unknown option": () => store.readAll({ offset: 1 }),
        "version: stream undefined": () => store.version(undefined),
        "open: empty name": () => tidelog.EventStore.open(""),
        "open: unknown storage": () => tidelog.EventStore.open("x", { storage: "disk" }),
        "open: unknown option": () => tidelog.EventStore.open("x", { sync: true }),
        "subscribe: not a function": async () => store.subscribe("nope"),
        "subscribe: bad fromPosition": async () => store.subscribe(() => {}, { fromPosition: -3 }),
      };
      const results = {};
      for (const [label, run] of Object.entries(cases)) {
        try {
          await run();
          results[label] = "no error";
        } catch (e) {
          results[label] = e instanceof Error ? `${e.name}:${e.field}` : `not an Error: ${e}`;
        }
      }
      return { results, count: Object.keys(cases).length, log: (await store.readAll()).length, version: await store.version("ok") };
    }, unique("bad"));
    const wrong = Object.entries(out.results).filter(([, r]) => !r.startsWith("InvalidInputError:"));
    assert.deepEqual(wrong, [], "every bad input gives an InvalidInputError");
    assert.ok(out.count >= 60, `${out.count} bad inputs`);
    assert.equal(out.log, 1, "nothing but the seed event was written");
    assert.equal(out.version, 1);
    // Field names point at the culprit.
    assert.equal(out.results["data: nested function"], "InvalidInputError:events[1].data.f");
    assert.equal(out.results["data: cycle"], "InvalidInputError:events[1].data.self");
    assert.equal(out.results["event: missing type"], "InvalidInputError:events[1].type");
    assert.equal(out.results["append options: unknown name"], "InvalidInputError:options.expectedVersoin");
    console.log(`bad inputs tried: ${out.count}, all refused with InvalidInputError, nothing written`);
    await page.close();
  });

  test("idempotent appends by event id, also across a reload", async () => {
    const name = unique("idem");
    const page = await tidelogPage();
    const first = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const batch = [{ id: "e1", type: "A", data: 1 }, { id: "e2", type: "A", data: 2 }];
      const a = await store.append("s", batch, { expectedVersion: "no_stream" });
      const b = await store.append("s", batch, { expectedVersion: "no_stream" });
      return { a, b, metrics: store.metrics() };
    }, name);
    assert.deepEqual(first.a, first.b);
    assert.equal(first.metrics.idempotentAppends, 1);
    await page.reload();
    const again = await page.evaluate(async (name) => {
      const tidelog = await import("/pkg/tidelog.js");
      await tidelog.default();
      const store = await tidelog.EventStore.open(name);
      const r = await store.append("s", [{ id: "e1", type: "A", data: 1 }, { id: "e2", type: "A", data: 2 }]);
      return { r, version: await store.version("s"), count: (await store.readAll()).length };
    }, name);
    assert.deepEqual(again.r, first.a, "after reload the retry still returns the original result");
    assert.equal(again.version, 2);
    assert.equal(again.count, 2);
    await page.close();
  });

  test("two tabs racing on one expected version: exactly one wins each round", async () => {
    const name = unique("race");
    const [a, b] = [await tidelogPage(), await tidelogPage()];
    for (const page of [a, b]) {
      await page.evaluate(async (name) => { window.store = await tidelog.EventStore.open(name); }, name);
    }
    const rounds = 15;
    let wins = 0, conflicts = 0;
    for (let round = 0; round < rounds; round++) {
      // Both tabs start their append for the same expected version at the same moment.
      const go = (page, tab) => page.evaluate(async ({ round, tab }) => {
        try {
          await store.append("shared", [{ type: "Claimed", data: { round, tab } }], { expectedVersion: round });
          return "win";
        } catch (e) { return e.name; }
      }, { round, tab });
      const outcomes = await Promise.all([go(a, "a"), go(b, "b")]);
      wins += outcomes.filter((o) => o === "win").length;
      conflicts += outcomes.filter((o) => o === "VersionConflictError").length;
      assert.equal(outcomes.filter((o) => o === "win").length, 1, `round ${round}: ${outcomes}`);
    }
    const events = await a.evaluate(() => store.read("shared"));
    assert.deepEqual(events.map((e) => e.version), Array.from({ length: rounds }, (_, i) => i + 1), "versions contiguous");
    assert.equal(wins, rounds);
    assert.equal(conflicts, rounds);
    await a.close();
    await b.close();
  });

  test("subscriptions deliver in order, from a position, and across tabs", async () => {
    const name = unique("sub");
    const [a, b] = [await tidelogPage(), await tidelogPage()];
    await a.evaluate(async (name) => {
      window.store = await tidelog.EventStore.open(name);
      await store.append("s", [{ type: "Before", data: 0 }]);
      window.seen = [];
      window.live = [];
      window.stop = store.subscribe((e) => seen.push([e.position, e.type, e.data]), { fromPosition: 1 });
      store.subscribe((e) => live.push(e.position));
    }, name);
    await b.evaluate(async (name) => {
      window.store = await tidelog.EventStore.open(name);
      for (let i = 1; i <= 5; i++) await store.append("s", [{ type: "FromB", data: i }]);
      await store.append("t", [{ type: "Batch", data: 6 }, { type: "Batch", data: 7 }]);
    }, name);
    await a.waitForFunction(() => seen.length === 8, null, { timeout: 5000 });
    const got = await a.evaluate(() => ({ seen, live }));
    assert.deepEqual(got.seen.map((s) => s[0]), [1, 2, 3, 4, 5, 6, 7, 8], "in position order, none twice");
    assert.deepEqual(got.seen[0], [1, "Before", 0], "fromPosition replays the past first");
    assert.deepEqual(got.seen.slice(1).map((s) => s[2]), [1, 2, 3, 4, 5, 6, 7], "other tab's events arrive");
    assert.deepEqual(got.live, [2, 3, 4, 5, 6, 7, 8], "without fromPosition: from now on");
    // Unsubscribe stops delivery.
    await a.evaluate(() => stop());
    await b.evaluate(() => store.append("s", [{ type: "After", data: 9 }]));
    await a.waitForFunction(() => live.length === 8, null, { timeout: 5000 });
    assert.equal(await a.evaluate(() => seen.length), 8, "no delivery after unsubscribe");
    await a.close();
    await b.close();
  });

  test("a throwing subscriber is reported and does not stop the others", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const reported = [];
      window.addEventListener("error", (e) => { reported.push(String(e.error?.message ?? e.message)); e.preventDefault(); });
      const good = [];
      store.subscribe(() => { throw new Error("subscriber bug"); }, { fromPosition: 1 });
      store.subscribe((e) => good.push(e.position), { fromPosition: 1 });
      await store.append("s", [{ type: "A" }, { type: "B" }]);
      for (let i = 0; i < 50 && good.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      return { good, reported };
    }, unique("throw"));
    assert.deepEqual(out.good, [1, 2]);
    assert.deepEqual(out.reported, ["subscriber bug", "subscriber bug"]);
    // The page saw them as errors too (the harness fails a test that leaves page errors);
    // they are these two and nothing else.
    const errors = await page.takeErrors();
    assert.ok(errors.every((e) => e.includes("subscriber bug")), JSON.stringify(errors));
    await page.close();
  });

  test("events persist across a reload; a conflicting batch leaves nothing partial", async () => {
    const name = unique("persist");
    const page = await tidelogPage();
    await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name, { durability: "strict" });
      await store.append("s", Array.from({ length: 100 }, (_, i) => ({ type: "N", data: i })));
      try { await store.append("s", [{ type: "N", data: "late" }], { expectedVersion: 3 }); } catch {}
    }, name);
    await page.reload();
    const out = await page.evaluate(async (name) => {
      const tidelog = await import("/pkg/tidelog.js");
      await tidelog.default();
      const store = await tidelog.EventStore.open(name);
      const events = await store.read("s");
      return { n: events.length, last: events.at(-1).data, version: await store.version("s") };
    }, name);
    assert.deepEqual(out, { n: 100, last: 99, version: 100 });
    await page.close();
  });

  test("quota exceeded: QuotaExceededError, nothing partial, the store keeps working", {
    needs: ["chromium"], reason: "a per-origin quota is set through the DevTools protocol (Storage.overrideQuotaForOrigin)",
  }, async () => {
    // A fresh context: Chromium applies a quota override to an origin's storage only
    // before that storage is first used in the context.
    const quotaContext = await suite.browser.newContext();
    const page = await tidelogPage(quotaContext);
    const cdp = await quotaContext.chromium.newCDPSession(page.chromium);
    const origin = new URL(server.base).origin;
    const name = unique("quota");
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 1024 * 1024 });
    await page.evaluate(async (name) => {
      window.store = await tidelog.EventStore.open(name);
      await store.append("s", [{ type: "Small", data: 1 }]);
    }, name);
    const out = await page.evaluate(async () => {
      // Random text: IndexedDB compresses large values, so repeated text would fit.
      const noise = () => Array.from(crypto.getRandomValues(new Uint32Array(16_000)), (n) => n.toString(36)).join("");
      try {
        await store.append("s", Array.from({ length: 40 }, (_, i) => ({ type: "Big", data: { i, noise: noise() } })));
        return { error: null };
      } catch (e) {
        return { error: e.name, code: e.code, version: await store.version("s"), log: (await store.readAll()).length };
      }
    });
    await cdp.send("Storage.overrideQuotaForOrigin", { origin });
    assert.equal(out.error, "QuotaExceededError");
    assert.equal(out.code, "quota_exceeded");
    assert.equal(out.version, 1, "no partial batch");
    assert.equal(out.log, 1);
    const after = await page.evaluate(async () => (await store.append("s", [{ type: "Small", data: 2 }])).lastVersion);
    assert.equal(after, 2, "appends work again once space is back");
    await quotaContext.close();
  });

  test("another tab's upgrade closes this store cleanly (ClosedError, not a hang)", async () => {
    const name = unique("upgrade");
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const reasons = [];
      store.on("closed", (event) => reasons.push(event.reason));
      await store.append("s", [{ type: "A" }]);
      // A newer schema (another tab with a newer tidelog) opens the database.
      const newer = await new Promise((resolve, reject) => {
        const request = indexedDB.open(name, 1000);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error("blocked: the old connection did not step aside"));
      });
      const names = [...newer.objectStoreNames].sort();
      newer.close();
      const closed = { reasons, closed: store.closed };
      try { await store.version("s"); return { names, ...closed, after: "no error" }; } catch (e) { return { names, ...closed, after: e.name }; }
    }, name);
    for (const store of ["events", "meta", "streams"]) {
      assert.ok(out.names.includes(store), `the data is still there for the newer version (${out.names})`);
    }
    assert.equal(out.after, "ClosedError");
    assert.deepEqual(out.reasons, ["versionchange"], "the store told its listener why it closed");
    assert.equal(out.closed, true);
    await page.close();
  });

  /** Opens `name` in `page` as `window.store`, recording its `closed` events in `window.closedReasons`. */
  const openIn = (page, name) => page.evaluate(async (name) => {
    window.store = await tidelog.EventStore.open(name);
    window.closedReasons = [];
    store.on("closed", (event) => closedReasons.push(event.reason));
  }, name);
  /** What `indexedDB.databases()` lists under `name` (`[name, version]` pairs). */
  const listed = (page, name) => page.evaluate(async (name) =>
    (await indexedDB.databases()).filter((d) => d.name === name).map((d) => [d.name, d.version]), name);

  test("deleteStore with the store open in two tabs: refused while events are unsynced (both tabs go on); with force every handle closes (deleted, ClosedError), nothing is left, a new open starts empty", async () => {
    const name = unique("signout");
    const [a, b] = [await tidelogPage(), await tidelogPage()];
    for (const page of [a, b]) await openIn(page, name);
    await a.evaluate(() => store.append("cart-1", [{ type: "Added", data: 1 }, { type: "Added", data: 2 }]));
    // Another tab's append counts: the count is read from the database.
    await b.evaluate(() => store.append("cart-2", [{ type: "Added", data: 3 }]));
    const refused = await a.evaluate(async (name) => {
      try { await tidelog.EventStore.deleteStore(name); return "deleted"; } catch (e) {
        return { name: e.name, code: e.code, pendingCount: e.pendingCount, instance: e instanceof tidelog.UnsyncedEventsError && e instanceof tidelog.TidelogError, message: e.message };
      }
    }, name);
    assert.deepEqual({ ...refused, message: undefined }, { name: "UnsyncedEventsError", code: "unsynced_events", pendingCount: 3, instance: true, message: undefined });
    assert.match(refused.message, /holds 3 events the sync server does not have.*force: true/);
    // Nothing closed, nothing deleted: both tabs append and read on.
    for (const [page, data] of [[a, 4], [b, 5]]) {
      const after = await page.evaluate(async (data) => {
        await store.append("cart-1", [{ type: "Added", data }]);
        return { closed: store.closed, reasons: closedReasons, all: (await store.readAll()).map((e) => e.data) };
      }, data);
      assert.deepEqual(after.closed, false);
      assert.deepEqual(after.reasons, []);
      assert.deepEqual(after.all.slice(0, 3), [1, 2, 3]);
    }
    assert.deepEqual(await a.evaluate(() => store.readAll().then((all) => all.map((e) => e.data))), [1, 2, 3, 4, 5]);
    assert.equal((await listed(a, name)).length, 1, "the database is still there");

    // force: every handle in both tabs closes, once, with reason "deleted".
    await a.evaluate((name) => tidelog.EventStore.deleteStore(name, { force: true }), name);
    for (const page of [a, b]) {
      await page.waitForFunction(() => closedReasons.length > 0, null, { timeout: 5_000 });
      const closed = await page.evaluate(async () => {
        const outcome = (p) => p.then(() => "ok", (e) => e.name);
        return {
          closed: store.closed,
          reasons: closedReasons,
          append: await outcome(store.append("cart-1", [{ type: "Added", data: 6 }])),
          read: await outcome(store.read("cart-1")),
          readAll: await outcome(store.readAll()),
          streams: await outcome(store.streams()),
        };
      });
      assert.deepEqual(closed, { closed: true, reasons: ["deleted"], append: "ClosedError", read: "ClosedError", readAll: "ClosedError", streams: "ClosedError" });
    }
    // Nothing of the old store is left in IndexedDB, seen from either tab.
    assert.deepEqual(await listed(a, name), []);
    assert.deepEqual(await listed(b, name), []);
    // A new store of that name starts empty, in the other tab too.
    const fresh = await b.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const out = { all: await store.readAll(), streams: await store.streams(), version: await store.version("cart-1") };
      store.close();
      return out;
    }, name);
    assert.deepEqual(fresh, { all: [], streams: [], version: 0 });
    await a.evaluate(() => store.free());
    await a.close();
    await b.close();
  });

  test("a memory store opens in the memory wasm, fetched once on first use: the whole API, instanceof the package's classes", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const { EventStore, Projection, TidelogError, VersionConflictError, ClosedError } = tidelog;
      const fetched = () => performance.getEntriesByType("resource").map((e) => e.name.replace(/.*\//, ""))
        .filter((file) => file.startsWith("tidelog_memory"));
      const error = (p) => p.then(() => "ok", (e) => [e.name, e instanceof TidelogError, e.field ?? e.actualVersion ?? null]);
      const atStart = fetched();
      // A memory store's delete has nothing to do; bad options are refused before loading.
      const early = [
        await error(EventStore.deleteStore(name, { storage: "memory" })),
        await error(EventStore.open(name, { storage: "memory", durability: "fast" })),
        await error(EventStore.open(name, { storage: "memory", sync: { url: "http://127.0.0.1:9/" } })),
        await error(EventStore.open(name, { storage: "memory", colour: "red" })),
      ];
      const beforeOpen = fetched();
      const store = await EventStore.open(name, { storage: "memory", retain: { events: 100 } });
      const second = await EventStore.open(name, { storage: "memory" });
      const seen = [];
      const stop = store.subscribe((e) => seen.push([e.position, e.type]));
      const closedReasons = [];
      store.on("closed", (e) => closedReasons.push(e.reason));
      const appended = await store.append("cart", [
        { type: "Added", data: { qty: 2 }, tags: ["sku:a"] },
        { type: "Added", data: { qty: 3 }, meta: { by: "ada" } },
      ], { expectedVersion: "no_stream" });
      const reducer = (n, e) => n + e.data.qty;
      const projection = store.projection("total", { reducer, initial: 0 });
      for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const result = {
        atStart, early, beforeOpen, appended,
        instances: [store instanceof EventStore, second instanceof EventStore, projection instanceof Projection, {} instanceof EventStore],
        storage: [store.storage, store.name, store.sync, store.closed, await store.persisted],
        read: (await store.read("cart")).map((e) => [e.version, e.position, e.type, e.data.qty, e.meta]),
        readAll: (await store.readAll({ fromPosition: 2 })).map((e) => e.position),
        query: (await store.query([{ tags: ["sku:a"] }])).map((e) => e.position),
        version: await store.version("cart"),
        streams: (await store.streams()).map((s) => [s.stream, s.version]),
        replay: await store.replay("cart", { reducer, initial: 0 }),
        replayAll: (await store.replayAllReport({ reducer, initial: 0 })).appliedCount,
        projection: await projection.state(),
        compact: await store.compact(),
        conflict: await error(store.append("cart", [{ type: "X" }], { expectedVersion: 0 })),
        conflictClass: await store.append("cart", [{ type: "X" }], { expectedVersion: 0 }).catch((e) => e instanceof VersionConflictError),
        invalid: await error(store.read(42)),
        otherHandle: (await second.readAll()).length,
        metrics: store.metrics().appends,
        seen,
      };
      stop();
      store.close();
      result.closed = [store.closed, closedReasons, await error(store.read("cart")),
        await store.read("cart").catch((e) => e instanceof ClosedError)];
      second.close();
      result.fetched = fetched();
      return result;
    }, unique("memory-wasm"));
    assert.deepEqual(out.atStart, [], "a page that opened no memory store has not fetched the memory wasm");
    assert.deepEqual(out.early, [
      "ok", ["InvalidInputError", true, "options.durability"], ["InvalidInputError", true, "options.sync"],
      ["InvalidInputError", true, "options.colour"],
    ]);
    assert.deepEqual(out.beforeOpen, [], "refused options and a delete load nothing");
    assert.deepEqual(out.appended, { stream: "cart", firstVersion: 1, lastVersion: 2, firstPosition: 1, lastPosition: 2 });
    assert.deepEqual(out.instances, [true, true, true, false]);
    assert.deepEqual(out.storage, ["memory", out.storage[1], undefined, false, null]);
    assert.deepEqual(out.read, [[1, 1, "Added", 2, null], [2, 2, "Added", 3, { by: "ada" }]]);
    assert.deepEqual(out.readAll, [2]);
    assert.deepEqual(out.query, [1]);
    assert.equal(out.version, 2);
    assert.deepEqual(out.streams, [["cart", 2]]);
    assert.equal(out.replay, 5);
    assert.equal(out.replayAll, 2);
    assert.equal(out.projection, 5);
    assert.deepEqual(out.compact, { dropped: 0, from: 1 });
    assert.deepEqual(out.conflict, ["VersionConflictError", true, 2]);
    assert.equal(out.conflictClass, true, "the package's VersionConflictError");
    assert.deepEqual(out.invalid, ["InvalidInputError", true, "stream"]);
    assert.equal(out.otherHandle, 0, "each memory store has its own events");
    assert.equal(out.metrics, 1);
    assert.deepEqual(out.seen, [[1, "Added"], [2, "Added"]]);
    assert.deepEqual(out.closed, [true, ["close"], ["ClosedError", true, null], true]);
    assert.deepEqual(out.fetched.sort(), ["tidelog_memory.js", "tidelog_memory_bg.wasm"], "the memory glue and wasm, fetched once");
    await page.close();
  });

  test("deleteStore: no such store resolves and creates nothing; memory stores are not shared by name (nothing to delete); close() tells closed once; bad input is refused", async () => {
    const name = unique("none");
    const page = await tidelogPage();
    for (const options of [undefined, { force: true }, { storage: "indexeddb" }]) {
      await page.evaluate(({ name, options }) => tidelog.EventStore.deleteStore(name, options), { name, options });
      assert.deepEqual(await listed(page, name), [], `deleteStore(${JSON.stringify(options)}) created nothing`);
    }
    const out = await page.evaluate(async (name) => {
      const { EventStore } = tidelog;
      const error = (p) => p.then(() => "ok", (e) => [e.name, e.field ?? e.pendingCount ?? null]);
      // Memory stores: each handle has its own events, not shared by name: a delete by
      // name has nothing to delete and leaves open handles alone.
      const m1 = await EventStore.open(name, { storage: "memory" });
      const m2 = await EventStore.open(name, { storage: "memory" });
      const reasons = [];
      m1.on("closed", (e) => reasons.push(["m1", e.reason]));
      const stop = m2.on("closed", (e) => reasons.push(["m2", e.reason]));
      await m1.append("s", [{ type: "A" }, { type: "B" }]);
      const memory = [
        await error(EventStore.deleteStore(name, { storage: "memory" })),
        await error(EventStore.deleteStore(name, { storage: "memory", force: true })),
        m1.closed, (await m1.readAll()).length, (await m2.readAll()).length,
      ];
      // close(): "close", once; a listener that stopped hears nothing; a second close is quiet.
      m1.close();
      m1.close();
      stop();
      m2.close();
      const idb = await EventStore.open(name);
      idb.on("closed", (e) => reasons.push(["idb", e.reason]));
      idb.close();
      idb.close();
      const late = [];
      idb.on("closed", (e) => late.push(e.reason));
      return {
        memory, reasons, late, closed: [m1.closed, m2.closed, idb.closed],
        bad: [
          await error(EventStore.deleteStore("")),
          await error(EventStore.deleteStore(42)),
          await error(EventStore.deleteStore(name, { force: "yes" })),
          await error(EventStore.deleteStore(name, { storage: "disk" })),
          await error(EventStore.deleteStore(name, { forse: true })),
          await error(EventStore.deleteStore(name, { directory: "/tmp" })),
          await error(Promise.resolve().then(() => idb.on("close", () => {}))),
          await error(Promise.resolve().then(() => idb.on("closed", "not a function"))),
        ],
      };
    }, name);
    assert.deepEqual(out.memory, ["ok", "ok", false, 2, 0]);
    assert.deepEqual(out.reasons, [["m1", "close"], ["idb", "close"]]);
    assert.deepEqual(out.late, []);
    assert.deepEqual(out.closed, [true, true, true]);
    assert.deepEqual(out.bad, [
      ["InvalidInputError", "name"], ["InvalidInputError", "name"], ["InvalidInputError", "options.force"],
      ["InvalidInputError", "options.storage"], ["InvalidInputError", "options.forse"], ["InvalidInputError", "options.directory"],
      ["InvalidInputError", "event"], ["InvalidInputError", "callback"],
    ]);
    // The IndexedDB store opened above (and closed) is still there: only a delete removes it.
    assert.equal((await listed(page, name)).length, 1);
    await page.evaluate((name) => tidelog.EventStore.deleteStore(name), name);
    assert.deepEqual(await listed(page, name), []);
    await page.close();
  });

  test("deleteStore blocked by a connection that is not tidelog's: a StorageError (Blocked) after a bounded wait, the delete happens once it closes", async () => {
    const name = unique("blocked");
    const [a, b] = [await tidelogPage(), await tidelogPage()];
    await openIn(a, name);
    await a.evaluate(() => store.append("s", [{ type: "A" }]));
    // Tab b holds a raw connection that ignores versionchange.
    await b.evaluate((name) => new Promise((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => { window.raw = request.result; resolve(); };
      request.onerror = () => reject(request.error);
    }), name);
    const out = await a.evaluate(async (name) => {
      const started = Date.now();
      try {
        await tidelog.EventStore.deleteStore(name, { force: true });
        return { outcome: "resolved", ms: Date.now() - started };
      } catch (e) {
        return { outcome: e.name, cause: e.cause?.name, message: e.message, ms: Date.now() - started, reasons: closedReasons, closed: store.closed };
      }
    }, name);
    assert.equal(out.outcome, "StorageError", JSON.stringify(out));
    assert.equal(out.cause, "Blocked");
    assert.match(out.message, /not tidelog's/);
    assert.ok(out.ms >= 4_500 && out.ms < 15_000, `waited ${out.ms} ms`);
    assert.deepEqual([out.reasons, out.closed], [["deleted"], true], "tidelog's own handle stepped aside at once");
    // The foreign connection closes: the queued delete goes through.
    await b.evaluate(() => raw.close());
    await waitUntil(async () => (await listed(a, name)).length === 0, { what: "the database deleted once unblocked" });
    const fresh = await a.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      const all = await store.readAll();
      store.close();
      return all;
    }, name);
    assert.deepEqual(fresh, []);
    await a.close();
    await b.close();
  });

  /**
   * A page of the demo origin with the package imported as `window.tidelog` and NOT
   * initialised.
   */
  const uninitialisedPage = async (inContext = context, base = server.base) => {
    const page = await openPage(inContext, `${base}/pkg/package.json`);
    await page.evaluate(async () => {
      window.tidelog = await import("/pkg/tidelog.js");
    });
    return page;
  };

  test("open and deleteStore without init(): they load the wasm the module carries (once, for opens at once too; no request for it); refused options create nothing", async () => {
    const [name, fresh] = [unique("noinit"), unique("noinit-fresh")];
    // A refused open, before the wasm was ever loaded: nothing is created.
    const page = await uninitialisedPage();
    const refused = await page.evaluate(async (fresh) => {
      try {
        await tidelog.EventStore.open(fresh, { maxEventBytes: -1 });
        return "opened";
      } catch (e) {
        return { name: e.name, code: e.code, field: e.field, instance: e instanceof tidelog.InvalidInputError };
      }
    }, fresh);
    assert.deepEqual(refused, { name: "InvalidInputError", code: "invalid_input", field: "options.maxEventBytes", instance: true });
    assert.deepEqual(await listed(page, fresh), [], "a refused open creates no database");
    await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("s", [{ type: "T", data: 1 }, { type: "T", data: 2 }]);
      store.close();
    }, name);
    await page.close();

    // Two opens at once in a fresh page: one compile of the wasm, two working stores, and
    // no request for a .wasm (it came inside tidelog.js); the synchronous exports work
    // once an open resolved, and init() afterwards compiles nothing more.
    const twice = await uninitialisedPage();
    const both = await twice.evaluate(async (name) => {
      let compiles = 0;
      const compile = WebAssembly.compile;
      WebAssembly.compile = (...args) => {
        compiles += 1;
        return compile.apply(WebAssembly, args);
      };
      try {
        const stores = await Promise.all([tidelog.EventStore.open(name), tidelog.EventStore.open(name)]);
        await stores[0].append("s", [{ type: "T", data: 3 }]);
        const seen = await stores[1].read("s");
        for (const store of stores) store.close();
        await tidelog.default();
        return {
          seen: seen.map((e) => e.data), version: typeof tidelog.version(), compiles,
          wasmRequests: performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(".wasm")).length,
        };
      } finally {
        WebAssembly.compile = compile;
      }
    }, name);
    assert.deepEqual(both, { seen: [1, 2, 3], version: "string", compiles: 1, wasmRequests: 0 });
    await twice.close();

    // deleteStore as a fresh page's first call (a sign-out page) loads the wasm too.
    const signOut = await uninitialisedPage();
    await signOut.evaluate((name) => tidelog.EventStore.deleteStore(name, { force: true }), name);
    assert.deepEqual(await listed(signOut, name), [], "deleted");
    await signOut.close();
  });

  test("open without init() when the wasm cannot be compiled: a StorageError with the host's cause, no database; the next open compiles again", async () => {
    // A page whose Content-Security-Policy does not allow wasm ('wasm-unsafe-eval'): the
    // host refuses the compile, every time. The page's own module script opens (Firefox
    // and WebKit refuse the harness's eval there too) and writes the outcome to the DOM.
    const name = unique("noinit-csp");
    const net = await startProxy(server.base);
    const ctx = await suite.browser.newContext();
    try {
      net.route("/csp.html", (route) => route.fulfill({
        status: 200, contentType: "text/html", headers: { "content-security-policy": "script-src 'self'" },
        body: '<!doctype html><meta charset="utf-8"><output id="result"></output><script type="module" src="/csp.js"></script>',
      }));
      net.route("/csp.js", (route) => route.fulfill({
        status: 200, contentType: "text/javascript",
        body: `import * as tidelog from "/pkg/tidelog.js";
const out = document.getElementById("result");
try {
  await tidelog.EventStore.open(${JSON.stringify(name)});
  out.textContent = '"opened"';
} catch (e) {
  out.textContent = JSON.stringify({
    name: e.name, code: e.code, instance: e instanceof tidelog.StorageError, message: e.message,
    cause: Object.keys(e.cause ?? {}).sort(),
    created: (await indexedDB.databases()).some((d) => d.name === ${JSON.stringify(name)}),
  });
}
out.dataset.done = "1";`,
      }));
      const page = await openPage(ctx, `${net.base}/csp.html`);
      await page.waitForSelector("#result[data-done]");
      const first = JSON.parse(await page.textOf("#result"));
      assert.deepEqual({ ...first, message: undefined }, { name: "StorageError", code: "storage", instance: true, message: undefined, cause: ["message", "name"], created: false });
      // The host says why: "... violates the following Content Security policy directive
      // ... in the following Content Security Policy directive" (Chromium), "call to
      // WebAssembly.compile() blocked by CSP" (Firefox), "Refused to create a WebAssembly
      // object because ... Content Security Policy directive" (WebKit).
      assert.match(first.message, /^the wasm could not be loaded: .*(Content Security Policy|blocked by CSP)/);
      await page.close();
    } finally {
      await ctx.close();
      await net.stop();
    }

    // A compile that fails once (the host out of memory): the next open compiles again.
    const page = await uninitialisedPage();
    const failedOpen = () => page.evaluate(async (name) => {
      try {
        await tidelog.EventStore.open(name);
        return "opened";
      } catch (e) {
        return {
          name: e.name, code: e.code, instance: e instanceof tidelog.StorageError, message: e.message,
          cause: Object.keys(e.cause ?? {}).sort(),
          created: (await indexedDB.databases()).some((d) => d.name === name),
        };
      }
    }, name);
    const once = await page.evaluate(() => {
      const compile = WebAssembly.compile;
      WebAssembly.compile = () => {
        WebAssembly.compile = compile;
        return Promise.reject(new RangeError("WebAssembly.compile(): Out of memory"));
      };
    });
    assert.equal(once, undefined);
    const failed = await failedOpen();
    assert.deepEqual({ ...failed, message: undefined }, { name: "StorageError", code: "storage", instance: true, message: undefined, cause: ["message", "name"], created: false });
    assert.match(failed.message, /Out of memory$/);
    const events = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("s", [{ type: "T", data: "after" }]);
      const read = (await store.read("s")).map((e) => e.data);
      store.close();
      return read;
    }, name);
    assert.deepEqual(events, ["after"]);
    await page.close();
  });
});
