// Benchmark of the sync servers with plain fetch, one after the other on this machine:
//   1. POST batches of 100 events (requests/s and events/s), C concurrent writers each on
//      its own stream of one space (pushes to one space are serialised by its Durable
//      Object, or by the space's row lock in PostgreSQL);
//   2. feed reads: GET {space}/events?after=N&limit=100 answered 200 with 100 events (reads/s);
//   3. 304 polls of the feed with If-None-Match (polls/s), C concurrent pollers.
// Not part of `make test`. Usage (after `make pkg`):
//   node bench/server.mjs [--seconds 5] [--concurrency 4] [--servers workerd,node-file,node-pg]
//   node bench/server.mjs --url http://127.0.0.1:8787/v1/bench     (a server already running)
// --servers names targets of tests/js/harness.mjs (SERVER_TARGETS; default: all of them),
// each started on a free port with a temporary data directory. With --rounds N (2) the
// servers run N times, in reversed order every other round (a machine's load drifts), and
// each figure is the best of its rounds. The first line names the commit measured (with
// "+dirty" when the tree has changes) and the machine's load average.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { root, serverTargets, startServer } from "../tests/js/harness.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
    url: { type: "string" },
    token: { type: "string" },
    servers: { type: "string" },
    rounds: { type: "string", default: "2" },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const BATCH = 100;

let base;
const auth = args.token ? { authorization: `Bearer ${args.token}` } : {};

let nextId = 0;
function batch() {
  return JSON.stringify({
    events: Array.from({ length: BATCH }, () => {
      const id = `bench-${process.pid}-${nextId++}`;
      return { id, type: "ItemAdded", data: { sku: id, qty: 1, note: "a small payload" }, recordedAt: Date.now(), schema: 1 };
    }),
  });
}

async function pushes(worker, until) {
  let version = 0;
  let requests = 0;
  while (Date.now() < until) {
    const response = await fetch(`${base}/streams/writer-${worker}`, {
      method: "POST",
      headers: { "content-type": "application/json", "if-match": `"${version}"`, ...auth },
      body: batch(),
    });
    if (response.status !== 201) throw new Error(`push answered ${response.status}: ${await response.text()}`);
    version = (await response.json()).version;
    requests++;
  }
  return requests;
}

async function polls(until, head) {
  let count = 0;
  while (Date.now() < until) {
    const response = await fetch(`${base}/events?after=${head}`, { headers: { "if-none-match": `"${head}"`, ...auth } });
    if (response.status !== 304) throw new Error(`poll answered ${response.status}`);
    await response.arrayBuffer();
    count++;
  }
  return count;
}

/** Feed reads until `until`: pages of 100 events from random offsets (each a 200). */
async function feedReads(until, head) {
  let count = 0;
  while (Date.now() < until) {
    const after = Math.floor(Math.random() * Math.max(1, head - 100));
    const response = await fetch(`${base}/events?after=${after}&limit=100`, { headers: auth });
    if (response.status !== 200) throw new Error(`feed read answered ${response.status}`);
    const { events } = await response.json();
    if (events.length !== Math.min(100, head - after)) throw new Error(`feed read gave ${events.length} events`);
    count++;
  }
  return count;
}

/** Runs `work` on `concurrency` workers for `seconds`; the rate of what they return, per second. */
async function rate(work) {
  const started = Date.now();
  const done = await Promise.all(Array.from({ length: concurrency }, (_, w) => work(w, started + seconds * 1000)));
  return done.reduce((a, b) => a + b, 0) / ((Date.now() - started) / 1000);
}

/** The three measures against the space at `base`. */
async function measure(name) {
  // Warm up (wasm compile, Durable Object start, connection pools).
  await pushes("warmup", Date.now() + 300);
  const pushRate = await rate((w, until) => pushes(w, until));
  const feed = await fetch(`${base}/events?limit=1`, { headers: auth });
  const head = Number(JSON.parse(await feed.text()).head);
  const readRate = await rate((_, until) => feedReads(until, head));
  const pollRate = await rate((_, until) => polls(until, head));
  const result = {
    server: name,
    concurrency,
    seconds,
    pushRequestsPerSecond: Math.round(pushRate),
    eventsPerSecond: Math.round(pushRate * BATCH),
    feedReadsPerSecond: Math.round(readRate),
    notModifiedPollsPerSecond: Math.round(pollRate),
    eventsStored: head,
  };
  console.log(
    `${name.padEnd(10)} POST batches of ${BATCH}: ${result.pushRequestsPerSecond} requests/s, ${result.eventsPerSecond} events/s; ` +
      `feed reads (200, 100 events): ${result.feedReadsPerSecond}/s; 304 polls: ${result.notModifiedPollsPerSecond}/s ` +
      `(concurrency ${concurrency}, ${seconds} s each, ${head} events stored)`,
  );
  return result;
}

const commit = (() => {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root }).toString().trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return "unknown";
  }
})();
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`commit ${commit}; node ${process.version}; load average ${load()}`);
let results = [];
if (args.url) {
  base = args.url;
  results.push(await measure("url"));
} else {
  const names = args.servers ? args.servers.split(",").map((s) => s.trim()) : serverTargets();
  const order = [];
  for (let round = 0; round < Number(args.rounds); round++) order.push(...(round % 2 ? [...names].reverse() : names));
  for (const name of order) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "tidelog-bench-"));
    const server = await startServer({ TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: "", TIDELOG_CORS_ORIGINS: "" }, name);
    try {
      base = `${server.base}/v1/bench-${Date.now()}`;
      results.push(await measure(name));
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  // The best of each server's rounds, figure by figure.
  const best = new Map();
  for (const r of results) {
    const kept = best.get(r.server);
    if (!kept) best.set(r.server, { ...r });
    else for (const key of ["pushRequestsPerSecond", "eventsPerSecond", "feedReadsPerSecond", "notModifiedPollsPerSecond"]) kept[key] = Math.max(kept[key], r[key]);
  }
  results = [...best.values()];
  console.log(`best of ${args.rounds} rounds; load average at the end ${load()}`);
}
const baseline = results.find((r) => r.server === "workerd");
if (baseline) {
  for (const r of results) {
    console.log(
      `${r.server.padEnd(10)} vs workerd: pushes x${(r.pushRequestsPerSecond / baseline.pushRequestsPerSecond).toFixed(2)}, ` +
        `feed reads x${(r.feedReadsPerSecond / baseline.feedReadsPerSecond).toFixed(2)}, ` +
        `304 polls x${(r.notModifiedPollsPerSecond / baseline.notModifiedPollsPerSecond).toFixed(2)}`,
    );
  }
}
console.log(JSON.stringify({ commit, results }));
