// Benchmark of the sync server (tidelog/worker) in local workerd, with plain fetch:
//   1. POST batches of 100 events (requests/s and events/s), C concurrent writers each on
//      its own stream (pushes to one space are serialised by its Durable Object anyway);
//   2. 304 polls of the feed with If-None-Match (polls/s), C concurrent pollers.
// Not part of `make test`. Usage (after `make pkg`):
//   node bench/server.mjs [--seconds 5] [--concurrency 4] [--url http://127.0.0.1:8787/v1/bench]
// Without --url it starts workerd on a free port with a temporary data directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../tests/js/harness.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
    url: { type: "string" },
    token: { type: "string" },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const BATCH = 100;

let server;
let dataDir;
let base = args.url;
if (!base) {
  dataDir = mkdtempSync(path.join(tmpdir(), "tidelog-bench-"));
  server = await startServer({ TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: "", TIDELOG_CORS_ORIGINS: "" });
  base = `${server.base}/v1/bench-${Date.now()}`;
}
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

try {
  // Warm up (wasm compile, Durable Object start).
  await pushes("warmup", Date.now() + 300);

  let started = Date.now();
  const done = await Promise.all(Array.from({ length: concurrency }, (_, w) => pushes(w, started + seconds * 1000)));
  let elapsed = (Date.now() - started) / 1000;
  const requests = done.reduce((a, b) => a + b, 0);

  const feed = await fetch(`${base}/events?limit=1`, { headers: auth });
  const head = Number(JSON.parse(await feed.text()).head);
  started = Date.now();
  const polled = await Promise.all(Array.from({ length: concurrency }, () => polls(started + seconds * 1000, head)));
  const pollElapsed = (Date.now() - started) / 1000;
  const pollCount = polled.reduce((a, b) => a + b, 0);

  const result = {
    concurrency,
    seconds,
    pushRequestsPerSecond: Math.round(requests / elapsed),
    eventsPerSecond: Math.round((requests * BATCH) / elapsed),
    notModifiedPollsPerSecond: Math.round(pollCount / pollElapsed),
    eventsStored: head,
  };
  console.log(
    `POST batches of ${BATCH}: ${result.pushRequestsPerSecond} requests/s, ${result.eventsPerSecond} events/s; ` +
      `304 polls: ${result.notModifiedPollsPerSecond}/s (concurrency ${concurrency}, ${seconds} s each, ${head} events stored)`,
  );
  console.log(JSON.stringify(result));
} finally {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
