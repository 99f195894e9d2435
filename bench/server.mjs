// Benchmark of the sync servers, side by side in one run on one machine, with plain fetch:
//   1. pushes: POST batches of 100 events (requests/s and events/s), C concurrent writers
//      each on its own stream of one space (a space's pushes are serialised anyway);
//   2. feed reads: GET /events?after=<random>&limit=100 of the space just written (reads/s);
//   3. 304 polls of the feed with If-None-Match (polls/s).
// Every server runs at once; each measurement takes turns between them in 5 rounds and
// reports the median round, so a machine busy with other work slows them alike.
// Servers: the targets of tests/js/harness.mjs (SERVER_TARGETS, or --servers a,b): tidelog/
// worker in local workerd on the SQL API (the default since issue 18) and on the Durable
// Object key-value API, and under `wrangler dev` (the package's wrangler.toml.example,
// through wrangler's local proxy). Each starts fresh, with its own temporary data
// directory. Ratios are to workerd-kv (the storage before issue 18) when it ran, else to
// the first server.
// `make bench` records it in BENCHMARKS.md; `make bench-smoke` runs it briefly (every number still comes out).
// Usage (after `make pkg`):
//   node bench/server.mjs [--seconds 5] [--concurrency 4] [--servers workerd,workerd-kv]
//   node bench/server.mjs --url http://127.0.0.1:8787/v1/bench [--token T]   (one running server)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { root, serverTargets, startServer } from "../tests/js/harness.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
    url: { type: "string" },
    token: { type: "string" },
    servers: { type: "string" },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const BATCH = 100;
const READ_LIMIT = 100;
const OPEN = { TIDELOG_SYNC_TOKEN: "", TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: "" };

let nextId = 0;
function batch() {
  return JSON.stringify({
    events: Array.from({ length: BATCH }, () => {
      const id = `bench-${process.pid}-${nextId++}`;
      return { id, type: "ItemAdded", data: { sku: id, qty: 1, note: "a small payload" }, recordedAt: Date.now(), schema: 1 };
    }),
  });
}

/** Runs `once()` in `concurrency` loops for `ms`; resolves to operations per second. */
async function rate(once, ms) {
  const started = Date.now();
  const until = started + ms;
  const counts = await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let n = 0;
      while (Date.now() < until) {
        await once(worker, n);
        n++;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((Date.now() - started) / 1000);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The three operations against one space mounted at `base` (…/v1/<space>). */
function operations(base, auth) {
  const versions = new Map();
  let head = 0;
  return {
    async push(writer) {
      const version = versions.get(writer) ?? 0;
      const response = await fetch(`${base}/streams/writer-${writer}`, {
        method: "POST",
        headers: { "content-type": "application/json", "if-match": `"${version}"`, ...auth },
        body: batch(),
      });
      if (response.status !== 201) throw new Error(`push answered ${response.status}: ${await response.text()}`);
      versions.set(writer, (await response.json()).version);
    },
    async head() {
      head = Number((await (await fetch(`${base}/events?limit=1`, { headers: auth })).json()).head);
      return head;
    },
    async read() {
      const after = Math.floor(Math.random() * Math.max(1, head - READ_LIMIT));
      const response = await fetch(`${base}/events?after=${after}&limit=${READ_LIMIT}`, { headers: auth });
      const body = await response.json();
      if (response.status !== 200 || body.events.length !== Math.min(READ_LIMIT, head - after)) {
        throw new Error(`feed read answered ${response.status} with ${body.events?.length} events`);
      }
    },
    async poll() {
      const response = await fetch(`${base}/events?after=${head}`, { headers: { "if-none-match": `"${head}"`, ...auth } });
      if (response.status !== 304) throw new Error(`poll answered ${response.status}`);
      await response.arrayBuffer();
    },
  };
}

/**
 * Measures every target's pushes, then feed reads, then polls, in ROUNDS rounds that
 * take turns between the targets (a busy machine slows them alike), medians per target.
 */
async function measureAll(targets) {
  const ROUNDS = 5;
  const window = (seconds * 1000) / ROUNDS;
  const ops = targets.map((t) => operations(t.base, t.auth));
  for (const op of ops) for (let i = 0; i < 3; i++) await op.push("warmup"); // wasm compile, object start
  /** @type {Record<string, number[]>[]} */
  const samples = targets.map(() => ({ pushes: [], reads: [], polls: [] }));
  for (const [metric, call] of [["pushes", "push"], ["reads", "read"], ["polls", "poll"]]) {
    if (metric === "reads") for (const op of ops) await op.head();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, op] of ops.entries()) samples[i][metric].push(await rate((w) => op[call](w), window));
    }
  }
  return targets.map((t, i) => ({
    name: t.name,
    pushes: median(samples[i].pushes),
    events: median(samples[i].pushes) * BATCH,
    reads: median(samples[i].reads),
    polls: median(samples[i].polls),
  }));
}

function commitLabel() {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "js", "pkg-template", "scripts"], { cwd: root }).toString().trim();
    return `commit ${commit}${dirty ? ", with uncommitted changes" : ""}`;
  } catch {
    return "commit unknown";
  }
}

let rows;
if (args.url) {
  rows = await measureAll([{ name: args.url, base: args.url, auth: args.token ? { authorization: `Bearer ${args.token}` } : {} }]);
} else {
  const running = [];
  try {
    const targets = args.servers ? args.servers.split(",").map((t) => t.trim()) : serverTargets();
    for (const target of targets) {
      const dir = mkdtempSync(path.join(tmpdir(), "tidelog-bench-"));
      running.push({ dir, server: await startServer({ ...OPEN, TIDELOG_DATA_DIR: dir }, target), name: target });
    }
    rows = await measureAll(running.map((r) => ({ name: r.name, base: `${r.server.base}/v1/bench-${Date.now()}`, auth: {} })));
  } finally {
    for (const r of running) {
      await r.server.stop();
      rmSync(r.dir, { recursive: true, force: true });
    }
  }
}

const base = rows.find((r) => r.name === "workerd-kv") ?? rows[0];
const ratio = (v, b) => (b ? `${(v / b).toFixed(2)}x` : "");
const fmt = (n) => String(Math.round(n)).padStart(7);
console.log(
  `${commitLabel()}; POST batches of ${BATCH} events; feed reads of ${READ_LIMIT} events at random offsets; 304 polls; ` +
    `concurrency ${concurrency}, ${seconds} s per measurement and server (median of 5 rounds, servers taking turns); ratios to ${base.name}`,
);
console.log(`${"server".padEnd(14)} ${"pushes/s".padStart(8)} ${"events/s".padStart(8)} ${"reads/s".padStart(8)} ${"polls/s".padStart(8)}   ratios (push, read, poll)`);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(14)} ${fmt(r.pushes)}  ${fmt(r.events)}  ${fmt(r.reads)}  ${fmt(r.polls)}    ` +
      `${ratio(r.pushes, base.pushes)} ${ratio(r.reads, base.reads)} ${ratio(r.polls, base.polls)}`,
  );
}
console.log(JSON.stringify(rows.map((r) => ({ ...r, pushes: Math.round(r.pushes), events: Math.round(r.events), reads: Math.round(r.reads), polls: Math.round(r.polls) }))));
const missing = rows.filter((r) => ![r.pushes, r.reads, r.polls].every((n) => n > 0));
if (missing.length) throw new Error(`no number for ${missing.map((r) => r.name).join(", ")}`);
