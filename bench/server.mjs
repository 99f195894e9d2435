// Benchmark of the sync servers, side by side in one run on one machine, with plain fetch:
//   1. pushes: POST batches of 100 events (requests/s and events/s), C concurrent writers
//      each on its own stream of one space (a space's pushes are serialised anyway);
//   2. feed reads: GET /events?after=<random>&limit=100 of the space just written (reads/s);
//   3. 304 polls of the feed with If-None-Match (polls/s).
// Servers: tidelog/worker in local workerd on the Durable Object key-value API (the
// baseline: ratios are to it) and on the SQL API (the default since issue 18). Each
// server starts fresh (its own temporary data directory) and is measured in turn.
// `make bench` records it in BENCHMARKS.md; `make bench-smoke` runs it briefly (every number still comes out).
// Usage (after `make pkg`):
//   node bench/server.mjs [--seconds 5] [--concurrency 4] [--only "workerd SQL"]
//   node bench/server.mjs --url http://127.0.0.1:8787/v1/bench [--token T]   (one running server)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { root, startServer } from "../tests/js/harness.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
    url: { type: "string" },
    token: { type: "string" },
    only: { type: "string" },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const BATCH = 100;
const READ_LIMIT = 100;
const OPEN = { TIDELOG_SYNC_TOKEN: "", TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: "" };

/** The servers compared; the first is the baseline. `start(dataDir)` -> { base, stop() }. */
export const SERVERS = [
  { name: "workerd KV", start: (dir) => startServer({ ...OPEN, TIDELOG_DATA_DIR: dir, TIDELOG_STORAGE: "kv" }) },
  { name: "workerd SQL", start: (dir) => startServer({ ...OPEN, TIDELOG_DATA_DIR: dir, TIDELOG_STORAGE: "" }) },
];

let nextId = 0;
function batch() {
  return JSON.stringify({
    events: Array.from({ length: BATCH }, () => {
      const id = `bench-${process.pid}-${nextId++}`;
      return { id, type: "ItemAdded", data: { sku: id, qty: 1, note: "a small payload" }, recordedAt: Date.now(), schema: 1 };
    }),
  });
}

/** Runs `once()` in `concurrency` loops for `seconds`; resolves to operations per second. */
async function rate(once) {
  const started = Date.now();
  const until = started + seconds * 1000;
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

/** The three measurements against one space mounted at `base` (…/v1/<space>). */
async function measure(base, auth) {
  const versions = new Map();
  const push = async (writer) => {
    const version = versions.get(writer) ?? 0;
    const response = await fetch(`${base}/streams/writer-${writer}`, {
      method: "POST",
      headers: { "content-type": "application/json", "if-match": `"${version}"`, ...auth },
      body: batch(),
    });
    if (response.status !== 201) throw new Error(`push answered ${response.status}: ${await response.text()}`);
    versions.set(writer, (await response.json()).version);
  };
  // Warm up (wasm compile, Durable Object start), then measure.
  for (let i = 0; i < 3; i++) await push("warmup");
  const pushes = await rate((w) => push(w));

  const head = Number((await (await fetch(`${base}/events?limit=1`, { headers: auth })).json()).head);
  const reads = await rate(async () => {
    const after = Math.floor(Math.random() * Math.max(1, head - READ_LIMIT));
    const response = await fetch(`${base}/events?after=${after}&limit=${READ_LIMIT}`, { headers: auth });
    const body = await response.json();
    if (response.status !== 200 || body.events.length !== Math.min(READ_LIMIT, head - after)) {
      throw new Error(`feed read answered ${response.status} with ${body.events?.length} events`);
    }
  });
  const polls = await rate(async () => {
    const response = await fetch(`${base}/events?after=${head}`, { headers: { "if-none-match": `"${head}"`, ...auth } });
    if (response.status !== 304) throw new Error(`poll answered ${response.status}`);
    await response.arrayBuffer();
  });
  return { pushes, events: pushes * BATCH, reads, polls, stored: head };
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

const rows = [];
if (args.url) {
  rows.push({ name: args.url, ...(await measure(args.url, args.token ? { authorization: `Bearer ${args.token}` } : {})) });
} else {
  for (const server of SERVERS.filter((s) => !args.only || s.name === args.only)) {
    const dir = mkdtempSync(path.join(tmpdir(), "tidelog-bench-"));
    const running = await server.start(dir);
    try {
      rows.push({ name: server.name, ...(await measure(`${running.base}/v1/bench-${Date.now()}`, {})) });
    } finally {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const base = rows[0];
const ratio = (v, b) => (b ? `${(v / b).toFixed(2)}x` : "");
const fmt = (n) => String(Math.round(n)).padStart(7);
console.log(
  `${commitLabel()}; POST batches of ${BATCH} events; feed reads of ${READ_LIMIT} events at random offsets; 304 polls; ` +
    `concurrency ${concurrency}, ${seconds} s per measurement; ratios to ${base.name}`,
);
console.log(`${"server".padEnd(14)} ${"pushes/s".padStart(8)} ${"events/s".padStart(8)} ${"reads/s".padStart(8)} ${"polls/s".padStart(8)}   ratios (push, read, poll)`);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(14)} ${fmt(r.pushes)}  ${fmt(r.events)}  ${fmt(r.reads)}  ${fmt(r.polls)}    ` +
      `${ratio(r.pushes, base.pushes)} ${ratio(r.reads, base.reads)} ${ratio(r.polls, base.polls)}`,
  );
}
console.log(JSON.stringify(rows.map((r) => ({ ...r, pushes: Math.round(r.pushes), events: Math.round(r.events), reads: Math.round(r.reads), polls: Math.round(r.polls) }))));
