// The replay engine of the built package in Chromium, Firefox and WebKit against real IndexedDB:
// replay/replayAll (and their reports) with time travel, ReplayError, skip mode, upcasters, projections with
// snapshots across reloads, revision bumps, subscriptions, decide/evolve, and the
// schema 1 -> 2 upgrade of an existing database.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, engineSuites, tidelogPage as harnessPage } from "./harness.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const unique = (name) => `replay-${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

engineSuites("replay", (suite) => {
  const { test } = suite;
  suite.expectTests(8);
  let context;
  before(async () => {
    context = await suite.browser.newContext();
  });
  const tidelogPage = () => harnessPage(context, server.base);

  test("sums over 1,000 events, in pages, with time travel by version and position", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      for (let chunk = 0; chunk < 10; chunk++) {
        const batch = [];
        for (let i = 1; i <= 100; i++) batch.push({ type: "Added", data: { n: chunk * 100 + i } });
        await store.append("counter", batch);
        await store.append("other", [{ type: "Added", data: { n: 1_000_000 } }]);
      }
      const sum = { reducer: (s, e) => s + e.data.n, initial: 0 };
      return {
        total: await store.replay("counter", sum),
        paged: await store.replayReport("counter", { ...sum, pageSize: 7 }),
        toVersion: await store.replay("counter", { ...sum, toVersion: 10 }),
        fromVersion: await store.replay("counter", { ...sum, fromVersion: 991 }),
        // "counter" events 1..100 sit at positions 1..100, then "other" at 101.
        toPositionStream: await store.replay("counter", { ...sum, toPosition: 102, pageSize: 50 }),
        wholeLog: await store.replayAll({ reducer: (s) => s + 1, initial: 0 }),
        wholeToPosition: await store.replayAll({ ...sum, toPosition: 101 }),
        wholeReport: await store.replayAllReport({ ...sum, fromPosition: 1001, pageSize: 4 }),
        bad: await store.replayAll({ ...sum, toVersion: 3 }).catch((e) => [e.name, e.field]),
        badStreamBound: await store.replay("counter", { ...sum, fromPosition: 3 }).catch((e) => [e.name, e.field]),
        noStream: await store.replay(null, sum).catch((e) => [e.name, e.field]),
        badReducer: await store.replay("counter", { reducer: 5, initial: 0 }).catch((e) => [e.name, e.field]),
        noReducer: await store.replayAll({ initial: 0 }).catch((e) => [e.name, e.field]),
        badOption: await store.replay("counter", { ...sum, to: 3 }).catch((e) => [e.name, e.field]),
        reportOption: await store.replay("counter", { ...sum, report: true }).catch((e) => [e.name, e.field]),
      };
    }, unique("sums"));
    assert.equal(out.total, 500_500);
    assert.deepEqual(out.paged, {
      state: 500_500, appliedCount: 1000, skippedCount: 0, skippedIds: [], lastPosition: 1009, lastVersion: 1000,
      pageCount: 143, // ceil(1000 / 7) pages, no extra read
    });
    assert.equal(out.toVersion, 55);
    assert.equal(out.fromVersion, 991 + 992 + 993 + 994 + 995 + 996 + 997 + 998 + 999 + 1000);
    assert.equal(out.toPositionStream, 5050 + 101, "events 1..100 then event 101 at position 102");
    assert.equal(out.wholeLog, 1010);
    assert.equal(out.wholeToPosition, 5050 + 1_000_000);
    assert.deepEqual(out.wholeReport, {
      // positions 1001..1009 hold "counter" 992..1000, 1010 the last "other" event
      state: 992 + 993 + 994 + 995 + 996 + 997 + 998 + 999 + 1000 + 1_000_000, appliedCount: 10,
      skippedCount: 0, skippedIds: [], lastPosition: 1010, lastVersion: null, pageCount: 3,
    });
    assert.deepEqual(out.bad, ["InvalidInputError", "options.toVersion"]);
    assert.deepEqual(out.badStreamBound, ["InvalidInputError", "options.fromPosition"]);
    assert.deepEqual(out.noStream, ["InvalidInputError", "stream"]);
    assert.deepEqual(out.badReducer, ["InvalidInputError", "options.reducer"]);
    assert.deepEqual(out.noReducer, ["InvalidInputError", "options.reducer"]);
    assert.deepEqual(out.badOption, ["InvalidInputError", "options.to"]);
    assert.deepEqual(out.reportOption, ["InvalidInputError", "options.report"], "the report option is gone");
    await page.close();
  });

  test("a throwing reducer rejects with a ReplayError; skip mode skips and reports", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("s", [
        { type: "Ok", data: 1 }, { type: "Boom", data: 2, id: "bad-1" }, { type: "Ok", data: 3 }, { type: "Boom", data: 4, id: "bad-2" },
      ]);
      const thrown = new RangeError("no booms");
      const reducer = (s, e) => { if (e.type === "Boom") throw thrown; return s + e.data; };
      let error;
      try { await store.replay("s", { reducer, initial: 0 }); } catch (e) { error = e; }
      const async = await store.replay("s", { reducer: async (s) => s, initial: 0 }).catch((e) => [e.name, e.cause.name]);
      const skipped = await store.replayReport("s", { reducer, initial: 0, onError: "skip" });
      const warnings = [];
      const warn = console.warn;
      console.warn = (...args) => warnings.push(args);
      const warned = await store.replay("s", { reducer, initial: 0, onError: "skip" });
      const warnedAll = await store.replayAll({ reducer, initial: 0, onError: "skip" });
      console.warn = warn;
      return {
        isError: error instanceof Error, name: error.name, code: error.code, message: error.message,
        fields: [error.position, error.eventId, error.stream, error.version, error.type],
        sameCause: error.cause === thrown, async, skipped, warned, warnedAll,
        warnings: warnings.map(([message, ids]) => [message, ids]),
      };
    }, unique("errors"));
    assert.equal(out.isError, true);
    assert.equal(out.name, "ReplayError");
    assert.equal(out.code, "replay_failed");
    assert.deepEqual(out.fields, [2, "bad-1", "s", 2, "Boom"]);
    assert.equal(out.sameCause, true, "cause is the thrown value itself");
    assert.match(out.message, /RangeError: no booms/);
    assert.deepEqual(out.async, ["ReplayError", "TypeError"], "a Promise-returning reducer is refused");
    assert.equal(out.skipped.state, 4);
    assert.equal(out.skipped.appliedCount, 2);
    assert.equal(out.skipped.skippedCount, 2);
    assert.deepEqual(out.skipped.skippedIds, ["bad-1", "bad-2"]);
    assert.equal(out.warned, 4);
    assert.equal(out.warnedAll, 4);
    assert.equal(out.warnings.length, 2, "skipping without a report is never silent");
    assert.match(out.warnings[0][0], /replay skipped failing events \(replayReport lists them\)/);
    assert.match(out.warnings[1][0], /replayAll skipped failing events \(replayAllReport lists them\)/);
    assert.deepEqual(out.warnings.map((w) => w[1]), [["bad-1", "bad-2"], ["bad-1", "bad-2"]]);
    await page.close();
  });

  test("upcaster chain 1 -> 2 -> 3 for replay and reads; stored events stay as written", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("p", [
        { type: "Priced", data: { cents: 150 }, schema: 1 },
        { type: "Priced", data: { amount: 2.5 }, schema: 2 },
        { type: "Priced", data: { amount: { value: 4, currency: "EUR" } }, schema: 3 },
      ]);
      store.registerUpcaster("Priced", 2, (data) => ({ amount: { value: data.amount, currency: "EUR" } }));
      store.registerUpcaster("Priced", 1, (data, event) => ({ amount: data.cents / 100, from: event.schema }));
      const refused = (f) => { try { f(); } catch (e) { return [e.name, e.field]; } };
      const dup = refused(() => store.registerUpcaster("Priced", 1, (d) => d));
      const badSchema = refused(() => store.registerUpcaster("Priced", 0, (d) => d));
      const badFn = refused(() => store.registerUpcaster("Priced", 5, "nope"));
      const seen = await store.replay("p", { reducer: (s, e) => [...s, [e.schema, e.data.amount.value]], initial: [] });
      const raw = await store.replay("p", { reducer: (s, e) => [...s, e.schema], initial: [], upcast: false });
      const read = (await store.read("p", { upcast: true })).map((e) => [e.schema, e.data.amount.value]);
      const all = (await store.readAll({ upcast: true })).map((e) => e.schema);
      const stored = (await store.read("p")).map((e) => [e.schema, e.data]);
      return { dup, badSchema, badFn, seen, raw, read, all, stored };
    }, unique("upcast"));
    assert.deepEqual(out.dup, ["InvalidInputError", "fromSchema"]);
    assert.deepEqual(out.badSchema, ["InvalidInputError", "fromSchema"]);
    assert.deepEqual(out.badFn, ["InvalidInputError", "upcaster"]);
    assert.deepEqual(out.seen, [[3, 1.5], [3, 2.5], [3, 4]]);
    assert.deepEqual(out.raw, [1, 2, 3]);
    assert.deepEqual(out.read, [[3, 1.5], [3, 2.5], [3, 4]]);
    assert.deepEqual(out.all, [3, 3, 3]);
    assert.deepEqual(out.stored, [[1, { cents: 150 }], [2, { amount: 2.5 }], [3, { amount: { value: 4, currency: "EUR" } }]]);
    await page.close();
  });

  const projectionSetup = `
    window.countAndSum = (revision, snapshotEvery) => ({
      revision, snapshotEvery, initial: { count: 0, sum: 0 },
      reducer: (s, e) => ({ count: s.count + 1, sum: s.sum + e.data }),
    });
  `;

  test("a projection reads its snapshot plus only the tail after a reload; a revision bump rebuilds", async () => {
    const name = unique("projection");
    let page = await tidelogPage();
    const first = await page.evaluate(async ([name, setup]) => {
      eval(setup);
      const store = await tidelog.EventStore.open(name);
      const batch = Array.from({ length: 1000 }, (_, i) => ({ type: "N", data: i + 1 }));
      await store.append("s", batch);
      const p = store.projection("totals", countAndSum(1, 300));
      const state = await p.state();
      const oldOption = (() => { try { store.projection("old", { ...countAndSum(1, 0), version: 1 }); } catch (e) { return [e.name, e.field]; } })();
      return { state, metrics: p.metrics(), oldOption };
    }, [name, projectionSetup]);
    assert.deepEqual(first.state, { count: 1000, sum: 500_500 });
    assert.deepEqual(first.metrics, {
      replayedEvents: 1000, position: 1000, snapshotPosition: null, invalidatedSnapshot: false, rebuilds: 0, revision: 1,
      snapshotsWritten: 1, // one page of 1000 events: one snapshot at its end
    });
    assert.deepEqual(first.oldOption, ["InvalidInputError", "options.version"], "0.1's option name is refused");
    await page.reload();
    await page.evaluate(async () => { const t = await import("/pkg/tidelog.js"); await t.default(); window.tidelog = t; });
    const second = await page.evaluate(async ([name, setup]) => {
      eval(setup);
      const store = await tidelog.EventStore.open(name);
      await store.append("s", Array.from({ length: 25 }, () => ({ type: "N", data: 1 })));
      const p = store.projection("totals", countAndSum(1, 300));
      const state = await p.state();
      const metrics = p.metrics();
      const bumped = store.projection("totals", countAndSum(2, 300));
      const rebuiltState = await bumped.state();
      const bumpedMetrics = bumped.metrics();
      const rebuilt = await p.rebuild();
      const unclonable = store.projection("bad", {
        initial: {}, snapshotEvery: 1, reducer: (s, e) => ({ fn: () => e }),
      });
      const clone = await unclonable.state().catch((e) => [e.name, e.field, /structured-cloneable/.test(e.message)]);
      return { state, metrics, rebuiltState, bumpedMetrics, rebuilt, rebuildMetrics: p.metrics(), clone };
    }, [name, projectionSetup]);
    assert.deepEqual(second.state, { count: 1025, sum: 500_525 });
    assert.equal(second.metrics.snapshotPosition, 1000, "resumed from the snapshot");
    assert.equal(second.metrics.replayedEvents, 25, "replayed only the tail");
    assert.deepEqual(second.rebuiltState, { count: 1025, sum: 500_525 });
    assert.equal(second.bumpedMetrics.invalidatedSnapshot, true);
    assert.equal(second.bumpedMetrics.revision, 2);
    assert.equal(second.bumpedMetrics.replayedEvents, 1025, "a revision bump replays everything");
    assert.deepEqual(second.rebuilt, { count: 1025, sum: 500_525 });
    assert.equal(second.rebuildMetrics.rebuilds, 1);
    assert.deepEqual(second.clone, ["InvalidInputError", "state", true]);
    await page.close();
  });

  test("projection subscription: new state after each change, live from other tabs too; streams filter", async () => {
    const name = unique("live");
    const page = await tidelogPage();
    const other = await tidelogPage();
    await page.evaluate(async ([name, setup]) => {
      eval(setup);
      const store = await tidelog.EventStore.open(name);
      await store.append("a", [{ type: "N", data: 10 }]);
      window.store = store;
      window.p = store.projection("live", countAndSum(1, 0));
      window.onlyB = store.projection("only-b", { ...countAndSum(1, 0), streams: ["b"] });
      window.states = [];
      window.bStates = [];
      window.stop = p.subscribe((s) => states.push(s));
      onlyB.subscribe((s) => bStates.push(s));
      await p.state();
    }, [name, projectionSetup]);
    await page.evaluate(async () => { await store.append("a", [{ type: "N", data: 1 }]); });
    await other.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("b", [{ type: "N", data: 5 }, { type: "N", data: 6 }]);
    }, name);
    await page.waitForFunction(() => states.length > 0 && states.at(-1).count === 4, null, { timeout: 5000 });
    const out = await page.evaluate(async () => {
      stop();
      await store.append("a", [{ type: "N", data: 100 }]);
      await new Promise((r) => setTimeout(r, 200));
      return { states, last: await p.state(), b: await onlyB.state(), bLast: bStates.at(-1) };
    });
    assert.deepEqual(out.states.at(-1), { count: 4, sum: 22 });
    assert.ok(out.states.every((s, i) => i === 0 || s.count > out.states[i - 1].count), "in order");
    assert.equal(out.states.filter((s) => s.sum > 22).length, 0, "nothing after unsubscribe");
    assert.deepEqual(out.last, { count: 5, sum: 122 });
    assert.deepEqual(out.b, { count: 2, sum: 11 });
    assert.deepEqual(out.bLast, { count: 2, sum: 11 });
    await page.close();
    await other.close();
  });

  test("decide/evolve: a conflict is retried on the new state; bounded attempts", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const store = await tidelog.EventStore.open(name);
      await store.append("acct", [{ type: "Deposited", data: 10 }]);
      const evolve = (balance, e) => balance + e.data;
      let calls = 0;
      const withdraw = async (amount, balance) => {
        calls++;
        if (calls === 1) await store.append("acct", [{ type: "Deposited", data: 1 }]); // another writer
        if (balance < amount) throw new Error("insufficient funds");
        return [{ type: "Withdrawn", data: -amount }];
      };
      const done = await store.execute("acct", 5, { initial: 0, reducer: evolve, decide: withdraw });
      const callsForDone = calls;
      let always = 0;
      const contended = await store.execute("acct", 1, {
        initial: 0, reducer: evolve, maxAttempts: 2,
        decide: async (amount) => { always++; await store.append("acct", [{ type: "Deposited", data: 0 }]); return [{ type: "Withdrawn", data: -amount }]; },
      }).catch((e) => [e.name, always]);
      const refused = await store.execute("acct", 1000, { initial: 0, reducer: evolve, decide: withdraw }).catch((e) => e.message);
      const nothing = await store.execute("acct", 0, { initial: 0, reducer: evolve, decide: () => [] });
      return { done, calls: callsForDone, contended, refused, nothing, balance: await store.replay("acct", { reducer: evolve, initial: 0 }) };
    }, unique("decide"));
    assert.equal(out.done.attempts, 2);
    assert.equal(out.done.state, 11, "the retry decided on the other writer's deposit");
    assert.equal(out.done.version, 2);
    assert.equal(out.done.appended.lastVersion, 3);
    assert.equal(out.calls, 2);
    assert.deepEqual(out.contended, ["VersionConflictError", 2]);
    assert.equal(out.refused, "insufficient funds");
    assert.equal(out.nothing.appended, null);
    assert.equal(out.balance, 6);
    await page.close();
  });

  test("the memory backend keeps projection snapshots in memory", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async ([name, setup]) => {
      eval(setup);
      const store = await tidelog.EventStore.open(name, { storage: "memory" });
      await store.append("s", Array.from({ length: 10 }, () => ({ type: "N", data: 2 })));
      const p1 = store.projection("m", countAndSum(1, 5));
      const s1 = await p1.state();
      await store.append("s", [{ type: "N", data: 2 }]);
      const p2 = store.projection("m", countAndSum(1, 5));
      return { s1, s2: await p2.state(), metrics: p2.metrics() };
    }, [unique("memory"), projectionSetup]);
    assert.deepEqual(out.s1, { count: 10, sum: 20 });
    assert.deepEqual(out.s2, { count: 11, sum: 22 });
    assert.equal(out.metrics.snapshotPosition, 10);
    assert.equal(out.metrics.replayedEvents, 1);
    await page.close();
  });

  test("a schema-1 database (raw IndexedDB) upgrades to 2 with nothing lost", async () => {
    const page = await tidelogPage();
    const out = await page.evaluate(async (name) => {
      const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
      const open = indexedDB.open(name, 1);
      open.onupgradeneeded = () => {
        const db = open.result;
        const events = db.createObjectStore("events", { keyPath: "position" });
        events.createIndex("by_stream", ["stream", "version"], { unique: true });
        events.createIndex("by_id", "id", { unique: true });
        db.createObjectStore("streams", { keyPath: "stream" });
        db.createObjectStore("meta");
      };
      const db = await req(open);
      const tx = db.transaction(["events", "streams", "meta"], "readwrite");
      const at = 1700000000000;
      tx.objectStore("events").add({ position: 1, id: "e1", stream: "s", version: 1, type: "A", data: { x: 1 }, meta: null, recordedAt: at, schema: 1 });
      tx.objectStore("events").add({ position: 2, id: "e2", stream: "s", version: 2, type: "B", data: [2], meta: { u: 1 }, recordedAt: at, schema: 1 });
      tx.objectStore("streams").put({ stream: "s", version: 2, lastPosition: 2 });
      tx.objectStore("meta").put({ position: 2 }, "head");
      await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
      db.close();

      const store = await tidelog.EventStore.open(name);
      const events = await store.read("s");
      const appended = await store.append("s", [{ type: "C" }], { expectedVersion: 2 });
      const p = store.projection("n", { initial: 0, reducer: (n) => n + 1, snapshotEvery: 1 });
      const count = await p.state();
      store.close();
      const raw = await req(indexedDB.open(name));
      const names = [...raw.objectStoreNames].sort();
      const version = raw.version;
      const snap = await req(raw.transaction("snapshots").objectStore("snapshots").get("n"));
      raw.close();
      return { events, appended, count, names, version, snap };
    }, unique("upgrade"));
    assert.deepEqual(out.events.map((e) => [e.id, e.version, e.position, e.type, e.data, e.meta]), [
      ["e1", 1, 1, "A", { x: 1 }, null], ["e2", 2, 2, "B", [2], { u: 1 }],
    ]);
    assert.deepEqual([out.appended.firstVersion, out.appended.firstPosition], [3, 3]);
    assert.equal(out.count, 3);
    assert.ok(out.version >= 2, `schema version ${out.version}`);
    assert.ok(["events", "meta", "snapshots", "streams"].every((n) => out.names.includes(n)), out.names.join());
    assert.deepEqual([out.snap.name, out.snap.state, out.snap.position, out.snap.version], ["n", 3, 3, 1]);
    await page.close();
  });
});
