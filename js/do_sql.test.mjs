// The Durable Object SQL storage (js/do_sql.js) without wasm, on real SQLite: a Durable
// Object in the workerd binary (npm workerd) imports the module and runs each scenario
// against its own `ctx.storage` (enableSql, on disk in a temporary directory); the
// assertions run here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const workerd = path.join(here, "../node_modules/.bin/workerd");

// Runs in the Durable Object: `scenario(storage, sql)` per path, answering JSON.
const DRIVER = `
import * as sql from "./do_sql.js";
const event = (position, stream, version, id) => JSON.stringify({ id, stream, version, position, type: "T", data: { id }, recordedAt: 1, schema: 1 });
const bytes = (text) => new TextEncoder().encode(text);
const pad = (n) => String(n).padStart(16, "0");
const SCENARIOS = {
  async append(storage) {
    await sql.sqlOpen(storage);
    const ids = Array.from({ length: 150 }, (_, i) => "id-" + i);
    const out = {};
    out.first = sql.sqlAppendIf(storage, "s", 0, 0, ids, ids.map((id, i) => event(i + 1, "s", i + 1, id)));
    out.head = sql.sqlFeedHead(storage);
    out.version = sql.sqlStreamVersion(storage, "s");
    out.stale = sql.sqlAppendIf(storage, "s", 0, 150, ["new"], [event(151, "s", 1, "new")]);
    out.staleHead = sql.sqlAppendIf(storage, "t", 0, 7, ["new"], [event(8, "t", 1, "new")]);
    out.taken = sql.sqlAppendIf(storage, "t", 0, 150, ["new", "id-149"], [event(151, "t", 1, "new"), event(152, "t", 2, "id-149")]);
    out.afterRefusals = [sql.sqlFeedHead(storage), sql.sqlStreamVersion(storage, "t"), sql.sqlEventsById(storage, ["new"])[0] ?? null];
    try {
      sql.sqlAppendIf(storage, "t", 0, 150, ["a", "b"], [event(151, "t", 1, "a"), null]);
      out.failed = "no error";
    } catch (error) {
      out.failed = String(error.message).includes("NOT NULL") ? "NOT NULL" : String(error.message);
    }
    out.afterFailure = [sql.sqlFeedHead(storage), sql.sqlStreamVersion(storage, "t"), sql.sqlEventsById(storage, ["a"])[0] ?? null];
    out.second = sql.sqlAppendIf(storage, "t", 0, 150, ["t1"], [event(151, "t", 1, "t1")]);
    out.headAfter = sql.sqlFeedHead(storage);
    const asked = [...ids.slice().reverse(), "unknown", "t1"];
    out.byId = sql.sqlEventsById(storage, asked).map((e) => (e === undefined ? null : JSON.parse(e).position));
    out.stream = sql.sqlStreamEvents(storage, "s", 98, 5).map((e) => JSON.parse(e).version);
    out.feed = sql.sqlFeedEvents(storage, 148, 10).map((e) => JSON.parse(e).id);
    out.odd = sql.sqlAppendIf(storage, "a'b; DROP TABLE events", 0, 151, ["x'y"], [event(152, "a'b; DROP TABLE events", 1, "x'y")]);
    out.oddRead = sql.sqlStreamEvents(storage, "a'b; DROP TABLE events", 0, 10).map((e) => JSON.parse(e).id);
    return out;
  },
  async upgrade(storage) {
    const entries = {};
    const streams = ["a", "b/c", "🛒"];
    let n = 0;
    const put = async () => { await storage.put(entries); for (const k of Object.keys(entries)) delete entries[k]; };
    for (let i = 1; i <= 1100; i++) {
      const stream = streams[i % 3];
      const version = Math.floor((i - 1) / 3) + 1;
      entries["e:" + pad(i)] = bytes(event(i, stream, version, "kv-" + i));
      if (++n % 100 === 0) await put();
    }
    entries.h = bytes("1100");
    await put();
    const copied = await sql.sqlOpen(storage);
    const again = await sql.sqlOpen(storage);
    return {
      copied, again,
      head: sql.sqlFeedHead(storage),
      versions: streams.map((s) => sql.sqlStreamVersion(storage, s)),
      last: JSON.parse(sql.sqlFeedEvents(storage, 1099, 5)[0]).id,
      byId: JSON.parse(sql.sqlEventsById(storage, ["kv-777"])[0]).position,
      kvKept: (await storage.get("e:" + pad(1))) instanceof Uint8Array,
    };
  },
  async empty(storage) {
    const copied = await sql.sqlOpen(storage);
    return { copied, head: sql.sqlFeedHead(storage), version: sql.sqlStreamVersion(storage, "x"), feed: sql.sqlFeedEvents(storage, 0, 10) };
  },
};
export class Space {
  constructor(ctx) { this.ctx = ctx; }
  async fetch(request) {
    const name = new URL(request.url).pathname.slice(1);
    try {
      return Response.json(await SCENARIOS[name](this.ctx.storage));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  }
}
export default {
  fetch(request, env) {
    const name = new URL(request.url).pathname.slice(1);
    return env.SPACES.get(env.SPACES.idFromName(name)).fetch(request);
  },
};
`;

let dir;
let child;
let base;
let output = "";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tidelog-do-sql-"));
  copyFileSync(path.join(here, "do_sql.js"), path.join(dir, "do_sql.js"));
  mkdirSync(path.join(dir, "data"));
  writeFileSync(path.join(dir, "driver.js"), DRIVER);
  writeFileSync(
    path.join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .main), (name = "data", disk = (path = "${path.join(dir, "data")}", writable = true)) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const main :Workerd.Worker = (
  modules = [ (name = "driver.js", esModule = embed "driver.js"), (name = "do_sql.js", esModule = embed "do_sql.js") ],
  compatibilityDate = "2025-09-01",
  bindings = [ (name = "SPACES", durableObjectNamespace = "Space") ],
  durableObjectNamespaces = [ (className = "Space", uniqueKey = "do-sql-test", enableSql = true) ],
  durableObjectStorage = (localDisk = "data"),
);
`,
  );
  const port = await freePort();
  child = spawn(workerd, ["serve", path.join(dir, "config.capnp"), "--socket-addr", `http=127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      await fetch(`${base}/empty-probe`);
      break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`workerd did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function run(name) {
  const response = await fetch(`${base}/${name}`);
  const body = await response.json();
  assert.equal(response.status, 200, body.error);
  return body;
}

test("an empty space: the table is made, head and versions 0, nothing copied", async () => {
  assert.deepEqual(await run("empty"), { copied: 0, head: 0, version: 0, feed: [] });
});

test("sqlAppendIf: one transaction, compare-and-insert; refusals and failures write nothing", async () => {
  const out = await run("append");
  assert.equal(out.first, true);
  assert.deepEqual([out.head, out.version], [150, 150]);
  assert.equal(out.stale, false, "a stale stream version");
  assert.equal(out.staleHead, false, "a stale feed head");
  assert.equal(out.taken, false, "an id already stored (past the 100-parameter chunk)");
  assert.deepEqual(out.afterRefusals, [150, 0, null]);
  assert.equal(out.failed, "NOT NULL", "a failing insert throws");
  assert.deepEqual(out.afterFailure, [150, 0, null], "... and the transaction rolled back, the cached head too");
  assert.equal(out.second, true);
  assert.equal(out.headAfter, 151);
  assert.deepEqual(out.byId, [...Array.from({ length: 150 }, (_, i) => 150 - i), null, 151], "ids in the order asked");
  assert.deepEqual(out.stream, [99, 100, 101, 102, 103]);
  assert.deepEqual(out.feed, ["id-148", "id-149", "t1"]);
  assert.equal(out.odd, true);
  assert.deepEqual(out.oddRead, ["x'y"], "stream ids and ids are bound, never spliced into SQL");
});

test("sqlOpen copies a key-value space once (pages of 512), leaving the entries", async () => {
  assert.deepEqual(await run("upgrade"), {
    copied: 1100,
    again: 0,
    head: 1100,
    versions: [366, 367, 367],
    last: "kv-1100",
    byId: 777,
    kvKept: true,
  });
});
