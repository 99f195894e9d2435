// Shapes, not only names: the objects the built package (pkg/, `make pkg`) hands out have
// exactly the keys pkg/tidelog.d.ts declares for them. The declared keys are read from
// the .d.ts with the TypeScript compiler API, so a renamed, added or dropped field on
// either side fails here. Node (memory store): append results, event records, streams,
// metrics, replay reports, projection metrics, execute results, errors, the closed event.
// Chromium against the demo server (workerd): sync status and reports, outbox entries,
// conflicts, dead letters, sync errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { root, startServer, launchChromium, tidelogPage } from "./harness.mjs";

const dtsPath = path.join(root, "pkg/tidelog.d.ts");

/**
 * The declared properties of every interface and class of the .d.ts, with those of
 * what they extend (within the file): name -> { required, optional, literals }.
 * `literals` maps a property to its string literal type (e.g. an error's `name`).
 */
function declaredShapes(text) {
  const source = ts.createSourceFile("tidelog.d.ts", text, ts.ScriptTarget.Latest, true);
  const own = new Map();
  for (const node of source.statements) {
    if (!ts.isInterfaceDeclaration(node) && !ts.isClassDeclaration(node)) continue;
    const shape = { required: new Set(), optional: new Set(), literals: new Map(), bases: [] };
    for (const clause of node.heritageClauses ?? []) {
      for (const type of clause.types) shape.bases.push(type.expression.getText(source));
    }
    for (const member of node.members) {
      if (!ts.isPropertySignature(member) && !ts.isPropertyDeclaration(member)) continue;
      const name = member.name.getText(source);
      (member.questionToken ? shape.optional : shape.required).add(name);
      if (member.type && ts.isLiteralTypeNode(member.type) && ts.isStringLiteral(member.type.literal)) {
        shape.literals.set(name, member.type.literal.text);
      }
    }
    own.set(node.name.text, shape);
  }
  const resolve = (name) => {
    const shape = own.get(name);
    assert.ok(shape, `${name} is declared in tidelog.d.ts`);
    const out = { required: new Set(shape.required), optional: new Set(shape.optional), literals: new Map(shape.literals) };
    for (const base of shape.bases) {
      if (!own.has(base)) continue; // Error and other lib types
      const inherited = resolve(base);
      for (const key of inherited.required) if (!out.optional.has(key)) out.required.add(key);
      for (const key of inherited.optional) if (!out.required.has(key)) out.optional.add(key);
      for (const [key, value] of inherited.literals) if (!out.literals.has(key)) out.literals.set(key, value);
    }
    return out;
  };
  return resolve;
}

let shapeOf;

/** `value` has every required key of `name`, and no key `name` does not declare. */
function assertShape(value, name, what = name) {
  const { required, optional } = shapeOf(name);
  assert.ok(value !== null && typeof value === "object", `${what} is an object, got ${value}`);
  const keys = Object.keys(value).sort();
  const missing = [...required].filter((k) => !keys.includes(k));
  const extra = keys.filter((k) => !required.has(k) && !optional.has(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${what}: keys ${keys.join(", ")} against ${name}`);
}

/**
 * An error object against its declared class: `name` as declared (it lives on the
 * prototype), and its own enumerable fields exactly the other declared ones.
 */
function assertError(error, name) {
  const { required, literals } = shapeOf(name);
  assert.equal(error.name, literals.get("name"), `${name}.name`);
  const fields = [...required].filter((k) => k !== "name").sort();
  assert.deepEqual(Object.keys(error).sort(), fields, `${name}: own fields`);
}

/** What a rejected promise rejected with. */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

before(async () => {
  shapeOf = declaredShapes(await readFile(dtsPath, "utf8"));
});

test("Node, memory store: results, records, reports, metrics and errors have the declared keys", async () => {
  const tidelog = await import(path.join(root, "pkg/tidelog.node.js"));
  const { EventStore } = tidelog;
  const store = await EventStore.open("shapes", { storage: "memory" });
  const appended = await store.append("cart-1", [
    { type: "ItemAdded", data: { sku: "A1", qty: 2 }, meta: { user: "ann" } },
    { type: "ItemAdded", data: { sku: "B2", qty: 1 } },
  ]);
  assertShape(appended, "AppendResult");
  const [first, second] = await store.read("cart-1");
  assertShape(first, "StoredEvent", "a read event (with meta)");
  assertShape(second, "StoredEvent", "a read event (without meta)");
  assert.equal(second.meta, null);
  assertShape((await store.readAll({ upcast: true }))[0], "StoredEvent", "a readAll event");
  const delivered = await new Promise((resolve) => {
    const stop = store.subscribe((event) => { stop(); resolve(event); }, { fromPosition: 1 });
  });
  assertShape(delivered, "StoredEvent", "a subscribed event");
  const streams = await store.streams();
  assert.equal(streams.length, 1);
  assertShape(streams[0], "StreamInfo");
  assertShape(store.metrics(), "Metrics");

  let seen;
  const reducer = (n, e) => ((seen = e), n + e.data.qty);
  assert.equal(await store.replay("cart-1", { reducer, initial: 0 }), 3);
  assertShape(seen, "StoredEvent", "a reducer's event");
  assert.equal(await store.replayAll({ reducer, initial: 0, toPosition: 1 }), 2);
  const report = await store.replayReport("cart-1", { reducer, initial: 0 });
  assertShape(report, "ReplayReport");
  assert.equal(report.appliedCount, 2);
  assert.equal(report.lastVersion, 2);
  const wholeReport = await store.replayAllReport({ reducer: () => { throw new Error("no"); }, initial: 0, onError: "skip" });
  assertShape(wholeReport, "ReplayReport", "a whole-log report with skipped events");
  assert.equal(wholeReport.skippedCount, 2);
  assert.equal(wholeReport.lastVersion, null);

  store.registerUpcaster("ItemAdded", 1, (data) => ({ ...data, upcast: true }));
  const projection = store.projection("totals", { reducer, initial: 0, revision: 2 });
  assert.equal(await projection.state(), 3);
  assertShape(projection.metrics(), "ProjectionMetrics");
  assert.equal(projection.metrics().revision, 2);
  projection.close();

  const executed = await store.execute("cart-1", { sku: "C3" }, {
    reducer, initial: 0, decide: (command) => [{ type: "ItemAdded", data: { sku: command.sku, qty: 1 } }],
  });
  assertShape(executed, "ExecuteResult");
  assertShape(executed.appended, "AppendResult", "ExecuteResult.appended");

  // Errors: instances of the exported classes, with exactly the declared fields.
  const conflict = await rejection(store.append("cart-1", [{ type: "X" }], { expectedVersion: 0 }));
  assert.ok(conflict instanceof tidelog.VersionConflictError && conflict instanceof tidelog.TidelogError && conflict instanceof Error);
  assertError(conflict, "VersionConflictError");
  const invalid = await rejection(store.read("cart-1", { toVersion: 1 }));
  assert.ok(invalid instanceof tidelog.InvalidInputError);
  assertError(invalid, "InvalidInputError");
  const replayError = await rejection(store.replay("cart-1", { reducer: () => { throw new Error("boom"); }, initial: 0 }));
  assert.ok(replayError instanceof tidelog.ReplayError);
  assertError(replayError, "ReplayError");
  const refused = await rejection(store.append("cart-2", [{ type: "X" }], { condition: { failIfEventsMatch: "all" } }));
  assert.ok(refused instanceof tidelog.AppendConditionError && refused instanceof tidelog.TidelogError);
  assertError(refused, "AppendConditionError");
  assertShape((await store.query("all", { limit: 1 }))[0], "StoredEvent", "a query event");

  // Deleting a store (here the file store, the Node entry's persistent one): the refusal
  // and the closed event.
  const dir = await mkdtemp(path.join(tmpdir(), "tidelog-shapes-file-"));
  const file = await EventStore.open("shapes", { storage: "file", directory: dir });
  const closedEvent = new Promise((resolve) => file.on("closed", resolve));
  await file.append("s", [{ type: "X" }]);
  const unsynced = await rejection(EventStore.deleteStore("shapes", { storage: "file", directory: dir }));
  assert.ok(unsynced instanceof tidelog.UnsyncedEventsError && unsynced instanceof tidelog.TidelogError);
  assertError(unsynced, "UnsyncedEventsError");
  await EventStore.deleteStore("shapes", { storage: "file", directory: dir, force: true });
  assertShape(await closedEvent, "ClosedEvent", "the closed event");
  await rm(dir, { recursive: true, force: true });
  store.close();
  const closed = await rejection(store.read("cart-1"));
  assert.ok(closed instanceof tidelog.ClosedError);
  assertError(closed, "ClosedError");
});

test("Chromium, IndexedDB and the sync server: status, reports, outbox, conflicts, dead letters, sync errors", async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), "tidelog-shapes-"));
  const server = await startServer({ TIDELOG_DATA_DIR: dataDir });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const context = await browser.newContext();
  // The first push to the space "refused" is refused for good (a dead letter); pushes to
  // "unreachable" never reach the server (a network error).
  let refuse = true;
  await context.chromium.route("**/v1/**", (route) => {
    const { pathname } = new URL(route.request().url());
    if (pathname.startsWith("/v1/unreachable/")) return route.abort("connectionrefused");
    if (pathname.startsWith("/v1/refused/") && route.request().method() === "POST" && refuse) {
      refuse = false;
      return route.fulfill({ status: 422, contentType: "application/json", body: '{"error":"invalid_event","message":"no thanks"}' });
    }
    return route.continue();
  });
  const page = await tidelogPage(context, server.base);
  const seen = await page.evaluate(async (base) => {
    const { EventStore } = window.tidelog;
    const id = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const open = (name, space, options = {}) =>
      EventStore.open(`shapes-${name}-${id}`, { sync: { url: `${base}/v1/${space}`, pollMs: 60_000, timeoutMs: 3_000, ...options } });
    const out = {};
    const space = `shapes${id.replace(/[^a-z0-9]/g, "")}`;

    // A synced round, its report and status.
    const a = await open("a", space);
    const synced = new Promise((resolve) => a.sync.on("synced", resolve));
    await a.append("doc", [{ type: "T", data: { v: 1 } }]);
    out.statusAfterNow = await a.sync.now();
    out.syncReport = await synced;
    out.status = a.sync.status();

    // The outbox of a paused store.
    const paused = await open("paused", space, { paused: true });
    await paused.append("doc-2", [{ type: "T", data: { v: 1 } }]);
    out.outbox = await paused.sync.outbox();
    out.pausedStatus = paused.sync.status();

    // A quarantined conflict.
    const b = await open("b", space, { onConflict: "quarantine", paused: true });
    await b.append("doc", [{ type: "T", data: { v: 2 }, meta: { by: "b" } }]);
    b.sync.resume();
    await b.sync.now();
    out.conflicts = await b.sync.conflicts();
    out.conflictStatus = b.sync.status();

    // A dead letter (422).
    const c = await open("c", "refused");
    await c.append("s", [{ type: "T", data: { v: 1 } }]);
    await c.sync.now();
    out.deadLetters = await c.sync.deadLetters();

    // A network error: the status's lastError and the emitted SyncError.
    const d = await open("d", "unreachable");
    const error = new Promise((resolve) => d.sync.on("error", resolve));
    await d.append("s", [{ type: "T", data: { v: 1 } }]);
    await d.sync.now();
    const e = await error;
    out.syncError = { name: e.name, keys: Object.keys(e), isTidelogError: e instanceof window.tidelog.TidelogError, isSyncError: e instanceof window.tidelog.SyncError };
    out.failedStatus = d.sync.status();
    for (const store of [a, paused, b, c, d]) store.close();
    return out;
  }, server.base);

  for (const key of ["statusAfterNow", "status", "pausedStatus", "conflictStatus", "failedStatus"]) assertShape(seen[key], "SyncStatus", key);
  assertShape(seen.syncReport, "SyncReport", "the detail of a synced event");
  assert.equal(seen.syncReport.pushed, 1);

  assert.equal(seen.outbox.length, 1);
  assertShape(seen.outbox[0], "OutboxEntry");
  assert.equal(seen.outbox[0].pendingCount, 1);

  assert.equal(seen.conflicts.length, 1, "one quarantined conflict");
  const [conflict] = seen.conflicts;
  assertShape(conflict, "Conflict");
  assertShape(conflict.local[0], "PushedEventFields", "Conflict.local[0]");
  assertShape(conflict.remote[0], "StoredEvent", "Conflict.remote[0]");
  assert.equal(seen.conflictStatus.conflictCount, 1);

  assert.equal(seen.deadLetters.length, 1, "one dead letter");
  const [dead] = seen.deadLetters;
  assertShape(dead, "DeadLetter");
  assertShape(dead.events[0], "PushedEventFields", "DeadLetter.events[0]");
  assertShape(dead.failure, "SyncFailure", "DeadLetter.failure");

  assert.ok(seen.failedStatus.lastError, "a network failure is the status's lastError");
  assertShape(seen.failedStatus.lastError, "SyncFailure", "SyncStatus.lastError");
  assert.ok(seen.syncError.isTidelogError && seen.syncError.isSyncError, "the emitted error is a SyncError");
  const { required, literals } = shapeOf("SyncError");
  assert.equal(seen.syncError.name, literals.get("name"));
  assert.deepEqual(seen.syncError.keys.sort(), [...required].filter((k) => k !== "name").sort());
});
