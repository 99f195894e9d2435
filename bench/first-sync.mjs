// First sync of a big space (issue 17): a fresh device pulls N events from the local
// workerd sync server into a fresh IndexedDB, against the floor of raw IndexedDB batched
// appends of the same events in the same headless Chromium run (the ratio is the
// figure). Then what a poll costs the server: the whole feed's 304 against a filtered
// feed's (partial sync), idle and after other streams gained events. Not part of `make test`.
//   node bench/first-sync.mjs [events=100000] [runs=3]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { root, startServer, launchChromium, openPage, freePort } from "../tests/js/harness.mjs";

const events = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const STREAMS = 10;

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const port = await freePort();
const http = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  try {
    const file = url.pathname.startsWith("/pkg/") ? path.join(root, url.pathname) : null;
    if (!file || !path.resolve(file).startsWith(path.join(root, "pkg"))) {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>first sync</title>");
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(url.pathname)] ?? "text/plain", "cache-control": "no-store" });
    res.end(await readFile(file));
  } catch {
    res.writeHead(404).end();
  }
}).listen(port, "127.0.0.1");

const server = await startServer({ TIDELOG_DATA_DIR: path.join(root, ".tidelog", `first-sync-${Date.now()}`) });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Pushes `count` events to `space` over STREAMS streams, 100 per push. */
async function seed(space, count, prefix = "big") {
  await Promise.all(Array.from({ length: STREAMS }, async (_, s) => {
    const per = Math.ceil(count / STREAMS);
    for (let version = 0; version < per; version += 100) {
      const batch = Array.from({ length: Math.min(100, per - version) }, (_, i) => ({
        id: `${space}-${prefix}-${s}-${version + i}`, type: "Added", recordedAt: 1718000000000,
        data: { i: version + i, pad: "x".repeat(100) },
      }));
      const response = await fetch(`${server.base}/v1/${space}/streams/${prefix}-${s}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(version ? { "if-match": `"${version}"` } : { "if-none-match": "*" }) },
        body: JSON.stringify({ events: batch }),
      });
      if (response.status !== 201) throw new Error(`seed: ${response.status} ${await response.text()}`);
    }
  }));
}

const space = `first-${Date.now()}`;
const t0 = performance.now();
await seed(space, events);
console.log(`seeded ${events} events (${STREAMS} streams) in ${Math.round(performance.now() - t0)} ms`);

const browser = await launchChromium();
const results = { raw: [], tidelog: [], pages: [] };
for (let run = 0; run < runs; run++) {
  const context = await browser.newContext();
  const page = await openPage(context, `http://127.0.0.1:${port}/`);
  // The floor: the same events written to a fresh IndexedDB in transactions of 1000.
  const raw = await page.evaluate(async ({ events, run }) => {
    const db = await new Promise((resolve, reject) => {
      const open = indexedDB.open(`raw-${run}`, 1);
      open.onupgradeneeded = () => {
        const store = open.result.createObjectStore("events", { keyPath: "position" });
        store.createIndex("stream", ["stream", "version"], { unique: true });
        store.createIndex("id", "id", { unique: true });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const started = performance.now();
    for (let done = 0; done < events; done += 1000) {
      const tx = db.transaction("events", "readwrite");
      const store = tx.objectStore("events");
      for (let i = done; i < Math.min(events, done + 1000); i++) {
        store.put({ position: i + 1, stream: `big-${i % 10}`, version: Math.floor(i / 10) + 1, id: `e-${i}`, type: "Added",
          data: { i, pad: "x".repeat(100) }, meta: null, recordedAt: 1718000000000, schema: 1 });
      }
      await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
    }
    const ms = performance.now() - started;
    db.close();
    return ms;
  }, { events, run });
  results.raw.push(events / (raw / 1000));
  // tidelog: a fresh store joins the space; time until every event is local.
  const t = await page.evaluate(async ({ url, events, run }) => {
    const tidelog = await import("/pkg/tidelog.js");
    await tidelog.default();
    let pages = 0;
    let resolveDone;
    const done = new Promise((resolve) => (resolveDone = resolve));
    const started = performance.now();
    const store = await tidelog.EventStore.open(`fresh-${run}`, { sync: { url, pollMs: 600000 } });
    store.sync.on("progress", (p) => {
      pages++;
      if (p.position >= events) resolveDone();
    });
    await done;
    const ms = performance.now() - started;
    const held = (await store.streams()).reduce((n, s) => n + s.version, 0);
    store.close();
    return { ms, pages, held };
  }, { url: `${server.base}/v1/${space}`, events, run });
  if (t.held !== events) throw new Error(`first sync held ${t.held} of ${events} events`);
  results.tidelog.push(events / (t.ms / 1000));
  results.pages.push(t.pages);
  await context.close();
  console.log(`run ${run + 1}: raw IndexedDB ${Math.round(events / (raw / 1000))} events/s; tidelog first sync ${Math.round(events / (t.ms / 1000))} events/s in ${t.pages} pages`);
}
await browser.close();

// Polls: the server's answer time, from Node over loopback (median of many).
async function pollMs(query, tag, count = 300) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${server.base}/v1/${space}/events?${query}`, { headers: { "if-none-match": `"${tag}"` } });
    await response.arrayBuffer();
    times.push(performance.now() - started);
    if (response.status !== 304) throw new Error(`poll ${query}: ${response.status}`);
  }
  return median(times);
}
const whole = await pollMs(`after=${events}`, events);
const idle = await pollMs(`after=${events}&prefix=cart-`, events);
await seed(space, 1000, "other");
const behind1k = await pollMs(`after=${events}&prefix=cart-`, events);
await seed(space, 9000, "more");
const behind10k = await pollMs(`after=${events}&prefix=cart-`, events, 100);

const raw = median(results.raw), tl = median(results.tidelog);
console.log(`\n| first sync of ${events} events (${STREAMS} streams) from local workerd into a fresh IndexedDB, Chromium | events/s (median of ${runs}) |`);
console.log(`|---|---:|`);
console.log(`| raw IndexedDB, transactions of 1000 puts (the floor) | ${Math.round(raw)} |`);
console.log(`| tidelog first sync (${median(results.pages)} pages) | ${Math.round(tl)} |`);
console.log(`| ratio | ${(tl / raw).toFixed(2)}x |`);
console.log(`\n| 304 poll, workerd SQL, ${events}-event space | median ms |`);
console.log(`|---|---:|`);
console.log(`| whole feed | ${whole.toFixed(2)} |`);
console.log(`| filtered (prefix=cart-), nothing written since the cursor | ${idle.toFixed(2)} |`);
console.log(`| filtered, 1,000 events of other streams since the cursor | ${behind1k.toFixed(2)} |`);
console.log(`| filtered, 10,000 events of other streams since the cursor (the search bound) | ${behind10k.toFixed(2)} |`);
await server.stop();
http.close();
