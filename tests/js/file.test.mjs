// The file store (`storage: "file"`) of the built package's Node entry (pkg/tidelog.node.js,
// the Node/Deno/Bun wasm build in pkg/node/): the same API as the other stores, events that
// survive a reopen and a kill -9 during appends, a torn tail cut and reported, a damaged
// log refused, the lock against a second process, bad options, and deleting a store
// (`EventStore.deleteStore`). Real files in a temporary directory, real child processes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root } from "./harness.mjs";

const entry = path.join(root, "pkg/tidelog.node.js");
const tidelog = await import(entry);
const { EventStore, StorageError, InvalidInputError } = tidelog;
const tmp = mkdtempSync(path.join(tmpdir(), "tidelog-file-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const open = (name, options = {}) => EventStore.open(name, { storage: "file", directory: tmp, ...options });
const logOf = (name) => path.join(tmp, name, "log");

/** Runs an ES module source in a child Node; resolves with { code, signal, out, err }. */
function child(source, { onLine, args = [] } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--input-type=module", "-e", source, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "", pending = "";
    proc.stdout.on("data", (d) => {
      out += d;
      pending += d;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) onLine?.(line, proc);
    });
    proc.stderr.on("data", (d) => (err += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => resolve({ code, signal, out, err }));
  });
}

test("the file store behaves as the others: append, conflict, retry, read, subscribe, replay, reopen", async () => {
  const store = await open("api");
  assert.equal(store.storage, "file");
  assert.equal(store.recovery, null);
  const data = { items: ["a"], nested: { n: 1.5, when: null } };
  const first = await store.append("cart-1", [
    { id: "e-1", type: "ItemAdded", data, meta: { user: "ann" } },
    { id: "e-2", type: "ItemAdded", data: { items: [] }, schema: 2 },
  ], { expectedVersion: "no_stream" });
  assert.deepEqual(first, { stream: "cart-1", firstVersion: 1, lastVersion: 2, firstPosition: 1, lastPosition: 2 });
  data.items.push("mutated");
  await assert.rejects(store.append("cart-1", [{ type: "X" }], { expectedVersion: 1 }), (e) =>
    e instanceof tidelog.VersionConflictError && e.actualVersion === 2);
  const retry = await store.append("cart-1", [{ id: "e-1", type: "ItemAdded", data }, { id: "e-2", type: "ItemAdded", data: {} }], { expectedVersion: 0 });
  assert.deepEqual(retry, first, "an idempotent retry returns the original result");
  const seen = [];
  const stop = store.subscribe((e) => seen.push(e.position), { fromPosition: 1 });
  await store.append("cart-2", [{ type: "Opened" }]);
  await new Promise((r) => setTimeout(r, 20));
  stop();
  assert.deepEqual(seen, [1, 2, 3]);
  const [read] = await store.read("cart-1");
  assert.deepEqual(read.data, { items: ["a"], nested: { n: 1.5, when: null } }, "the stored payload is a copy");
  read.data.items.push("changed by a reader");
  assert.deepEqual((await store.read("cart-1"))[0].data.items, ["a"]);
  const count = (n, e) => n + (e.type === "ItemAdded" ? 1 : 0);
  assert.equal(await store.replayAll({ reducer: count, initial: 0 }), 2);
  const before = await store.readAll();
  const metrics = store.metrics();
  assert.equal(metrics.eventsWritten, 3);
  assert.equal(metrics.idempotentAppends, 1);
  store.close();
  await assert.rejects(store.read("cart-1"), { name: "ClosedError" });

  const again = await open("api");
  assert.deepEqual(await again.readAll(), before, "every field of every event after a reopen");
  assert.deepEqual(await again.streams(), [
    { stream: "cart-1", version: 2, lastPosition: 2, syncedVersion: 0 },
    { stream: "cart-2", version: 1, lastPosition: 3, syncedVersion: 0 },
  ]);
  assert.deepEqual(await again.append("cart-1", [{ id: "e-1", type: "ItemAdded", data }, { id: "e-2", type: "ItemAdded", data: {} }]), first,
    "an idempotent retry after a reopen returns the original result");
  const projection = again.projection("count", { reducer: count, initial: 0 });
  assert.equal(await projection.state(), 2);
  projection.close();
  again.close();
  assert.ok(!existsSync(path.join(tmp, "api", "lock")), "close releases the lock");
});

test("bad options and payloads are InvalidInputErrors and write nothing", async () => {
  const invalid = (field) => (e) => e instanceof InvalidInputError && e.field === field;
  await assert.rejects(EventStore.open("x", { storage: "file" }), invalid("options.directory"));
  await assert.rejects(EventStore.open("x", { storage: "file", directory: "" }), invalid("options.directory"));
  await assert.rejects(EventStore.open("x", { storage: "memory", directory: tmp }), invalid("options.directory"));
  for (const name of ["a/b", "..", ".", "cart 1", "ü"]) {
    await assert.rejects(open(name), invalid("name"), name);
  }
  await assert.rejects(open("synced", { sync: { url: "http://127.0.0.1:1/v1/s" } }), invalid("options.sync"));
  await assert.rejects(open("x", { durability: "fsync" }), invalid("options.durability"));
  const store = await open("payloads");
  await assert.rejects(store.append("s", [{ type: "A", data: { n: 10n } }]), (e) => e instanceof InvalidInputError && e.field.startsWith("events[0].data"));
  await assert.rejects(store.append("s", [{ type: "A", data: {} }, { type: "B", meta: { f() {} } }]), InvalidInputError);
  assert.equal(await store.version("s"), 0, "nothing of a refused batch is written");
  store.close();
  assert.equal(statSync(logOf("payloads")).size, 8, "the log holds its header only");
});

test("retain: bad values are refused at open; compact shrinks the log file, a reopen holds the same floor and versions", async () => {
  const invalid = (field) => (e) => e instanceof InvalidInputError && e.field === field;
  for (const [retain, field] of [[{ events: 0 }, "options.retain.events"], [{ events: -1 }, "options.retain.events"],
    [{ events: 1.5 }, "options.retain.events"], [{ ms: "1" }, "options.retain.ms"], [{ evnts: 3 }, "options.retain.evnts"],
    [{}, "options.retain"], [10, "options.retain"]]) {
    await assert.rejects(open("retain-bad", { retain }), invalid(field), JSON.stringify(retain));
  }
  let store = await open("retained", { retain: { events: 5 } });
  for (let i = 1; i <= 40; i++) await store.append(`s-${i % 2}`, [{ type: "T", data: { v: i, pad: "x".repeat(200) } }]);
  const before = statSync(logOf("retained")).size;
  assert.deepEqual(await store.compact(), { dropped: 35, from: 36 });
  const after = statSync(logOf("retained")).size;
  assert.ok(after * 4 < before, `the log shrank: ${before} -> ${after}`);
  assert.deepEqual((await store.readAll()).map((e) => e.data.v), [36, 37, 38, 39, 40]);
  await assert.rejects(store.readAll({ fromPosition: 1 }), (e) => e instanceof tidelog.NotRetainedError && e.code === "not_retained" && e.from === 36);
  await assert.rejects(store.read("s-0", { fromVersion: 1 }), (e) => e instanceof tidelog.NotRetainedError && e.stream === "s-0" && e.retainedVersion === 18);
  store.close();
  store = await open("retained", { retain: { events: 5 } });
  assert.deepEqual(await store.compact(), { dropped: 0, from: 36 });
  assert.deepEqual([await store.version("s-0"), await store.version("s-1")], [20, 20]);
  assert.deepEqual((await store.read("s-0")).map((e) => e.version), [18, 19, 20]);
  assert.equal((await store.append("s-0", [{ type: "T", data: { v: 41 } }], { expectedVersion: 20 })).lastPosition, 41);
  store.close();
  assert.ok(!existsSync(path.join(tmp, "retained", "log.compact")));
});

test("a torn tail is cut on open and reported; the appends before it are whole", async () => {
  const store = await open("torn", { durability: "relaxed" });
  await store.append("s", [{ type: "A", data: 1 }]);
  await store.append("s", [{ type: "B", data: 2 }, { type: "C", data: 3 }]);
  const whole = statSync(logOf("torn")).size;
  await store.append("s", [{ type: "D", data: 4 }, { type: "E", data: 5 }, { type: "F", data: 6 }]);
  store.close();
  const full = statSync(logOf("torn")).size;
  truncateSync(logOf("torn"), full - 7);
  const reopened = await open("torn");
  assert.deepEqual(reopened.recovery, { offset: whole, bytes: full - 7 - whole, events: 3 });
  assert.deepEqual((await reopened.read("s")).map((e) => e.type), ["A", "B", "C"], "never a part of the torn append");
  assert.equal(statSync(logOf("torn")).size, whole, "the tail is cut on disk");
  await reopened.append("s", [{ type: "G" }], { expectedVersion: 3 });
  reopened.close();
  const clean = await open("torn");
  assert.equal(clean.recovery, null);
  assert.deepEqual((await clean.read("s")).map((e) => e.type), ["A", "B", "C", "G"]);
  clean.close();
});

test("a damaged log is a StorageError (Corrupted) and opens nothing", async () => {
  const store = await open("damaged");
  await store.append("s", [{ type: "A", data: { text: "first" } }]);
  await store.append("s", [{ type: "B", data: { text: "second" } }]);
  store.close();
  const good = readFileSync(logOf("damaged"));
  const bad = Buffer.from(good);
  bad[good.indexOf("first")] ^= 0x20;
  writeFileSync(logOf("damaged"), bad);
  await assert.rejects(open("damaged"), (e) =>
    e instanceof StorageError && e.cause.name === "Corrupted" && /offset 8 .*fails its checksum/.test(e.message));
  assert.deepEqual(readFileSync(logOf("damaged")), bad, "nothing was cut");
  writeFileSync(logOf("damaged"), good);
  const fixed = await open("damaged");
  assert.equal((await fixed.readAll()).length, 2, "the failed opens left no lock behind");
  fixed.close();
});

const CHILD_OPEN = `
const { EventStore } = await import(${JSON.stringify(entry)});
const [name, directory, durability] = process.argv.slice(-3);
`;

test("a second opener, in this process or another, gets a StorageError (Locked)", async () => {
  const store = await open("locked");
  await assert.rejects(open("locked"), (e) => e instanceof StorageError && e.cause.name === "Locked" && /already open/.test(e.message));
  const other = await child(`${CHILD_OPEN}
try { await EventStore.open(name, { storage: "file", directory }); console.log("opened"); }
catch (e) { console.log(e.name, e.cause?.name, e.message); }`, { args: ["locked", tmp, "strict"] });
  assert.match(other.out, new RegExp(`^StorageError Locked .*held by process ${process.pid}`), other.out + other.err);
  store.close();
  const later = await child(`${CHILD_OPEN}
const s = await EventStore.open(name, { storage: "file", directory }); console.log("opened", s.storage);`, { args: ["locked", tmp, "strict"] });
  assert.equal(later.out.trim(), "opened file", later.err);
  // That process exited without close(): its lock is stale and taken over.
  const stale = await open("locked");
  stale.close();
});

test("deleteStore removes the store's directory; refused while it holds events or another process has it open; this process's handle is closed", async () => {
  const del = (name, options = {}) => EventStore.deleteStore(name, { storage: "file", directory: tmp, ...options });
  // No such store: nothing to do, nothing created.
  await del("never-opened");
  assert.equal(existsSync(path.join(tmp, "never-opened")), false);

  const store = await open("signout");
  const reasons = [];
  store.on("closed", (event) => reasons.push(event.reason));
  await store.append("s", [{ type: "A" }, { type: "B" }]);
  // A file store does not sync: every event would be lost. Refused, nothing closed.
  await assert.rejects(del("signout"), (e) =>
    e instanceof tidelog.UnsyncedEventsError && e.code === "unsynced_events" && e.pendingCount === 2);
  assert.equal(store.closed, false);
  await store.append("s", [{ type: "C" }]);
  // force: this process's handle closes (deleted), the directory goes.
  await del("signout", { force: true });
  assert.deepEqual(reasons, ["deleted"]);
  assert.equal(store.closed, true);
  await assert.rejects(store.append("s", [{ type: "D" }]), (e) => e instanceof tidelog.ClosedError);
  await assert.rejects(store.readAll(), (e) => e instanceof tidelog.ClosedError);
  assert.equal(existsSync(path.join(tmp, "signout")), false, "the directory is gone");
  // A new store of the name starts empty; an empty one needs no force.
  const fresh = await open("signout");
  assert.deepEqual(await fresh.readAll(), []);
  fresh.close();
  await del("signout");
  assert.equal(existsSync(path.join(tmp, "signout")), false);

  // Another process has the store open: StorageError (Locked), even with force; nothing deleted.
  let outcome;
  const held = await child(`${CHILD_OPEN}
const s = await EventStore.open(name, { storage: "file", directory });
await s.append("s", [{ type: "A" }]);
console.log("opened");
setInterval(() => {}, 1000);`, {
    args: ["held", tmp, "strict"],
    onLine: (line, proc) => {
      if (line !== "opened") return;
      del("held", { force: true }).then(() => "deleted", (e) => [e.name, e.cause?.name, e.message])
        .then((o) => { outcome = o; proc.kill("SIGKILL"); });
    },
  });
  assert.equal(held.signal, "SIGKILL", held.err);
  assert.equal(outcome[0], "StorageError", JSON.stringify(outcome));
  assert.equal(outcome[1], "Locked");
  assert.match(outcome[2], /held by process \d+/);
  assert.ok(existsSync(logOf("held")), "nothing deleted");
  // That process is gone (its lock is stale): the delete goes through.
  await del("held", { force: true });
  assert.equal(existsSync(path.join(tmp, "held")), false);
  // Bad options.
  await assert.rejects(del("x", { directory: "" }), (e) => e instanceof InvalidInputError && e.field === "options.directory");
  await assert.rejects(EventStore.deleteStore("a/b", { storage: "file", directory: tmp }), (e) => e instanceof InvalidInputError && e.field === "name");
});

for (const durability of ["strict", "relaxed"]) {
  test(`kill -9 during appends (${durability}): every acknowledged append is there after reopen`, async () => {
    const name = `killed-${durability}`;
    // The child appends batches of 1 to 5 events as fast as it can and prints each
    // acknowledged result; the parent kills it with SIGKILL after 300 acknowledgements.
    const acked = [];
    const source = `${CHILD_OPEN}
const store = await EventStore.open(name, { storage: "file", directory, durability });
for (let i = 0; ; i++) {
  const n = 1 + (i % 5);
  const events = Array.from({ length: n }, (_, k) => ({ id: "b" + i + "-" + k, type: "T", data: { i, k, pad: "x".repeat((i * 37) % 300) } }));
  const r = await store.append("s-" + (i % 3), events);
  process.stdout.write(JSON.stringify([i, r.stream, r.firstVersion, r.lastVersion, r.lastPosition]) + "\\n");
}`;
    const result = await child(source, {
      args: [name, tmp, durability],
      onLine: (line, proc) => {
        acked.push(JSON.parse(line));
        if (acked.length === 300) proc.kill("SIGKILL");
      },
    });
    assert.equal(result.signal, "SIGKILL", result.err);
    assert.ok(acked.length >= 300, `${acked.length} acknowledged`);
    const store = await open(name);
    const log = await store.readAll();
    const byId = new Map(log.map((e) => [e.id, e]));
    for (const [i, stream, firstVersion, lastVersion, lastPosition] of acked) {
      for (let v = firstVersion, k = 0; v <= lastVersion; v++, k++) {
        const e = byId.get(`b${i}-${k}`);
        assert.ok(e, `acknowledged event b${i}-${k} is there`);
        assert.deepEqual([e.stream, e.version, e.data.i, e.data.k], [stream, v, i, k]);
      }
      assert.ok(log.length >= lastPosition);
    }
    // Whole batches only, positions contiguous.
    log.forEach((e, index) => assert.equal(e.position, index + 1));
    const batches = new Map();
    for (const e of log) batches.set(e.id.split("-")[0], (batches.get(e.id.split("-")[0]) ?? 0) + 1);
    for (const [batch, n] of batches) assert.equal(n, 1 + (Number(batch.slice(1)) % 5), `batch ${batch} is whole`);
    store.close();
  });
}
