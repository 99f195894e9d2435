// Sync drain benchmark: N pending events pushed to the local workerd sync server by
// tidelog's outbox (batches) vs Workbox background-sync replaying the same events one
// request each, in the same headless Chromium run. Not part of `make test`.
//   node bench/drain.mjs [events=10000] [runs=3]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { root, startServer, launchChromium, openPage, freePort } from "../tests/js/harness.mjs";

const events = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 3);

// The service worker: Workbox bundled for the browser.
const bundled = await build({
  entryPoints: [path.join(root, "bench/drain/sw.src.js")],
  bundle: true, write: false, format: "iife", minify: true,
  define: { "process.env.NODE_ENV": '"production"' },
});
const sw = bundled.outputFiles[0].text;

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const port = await freePort();
const http = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  try {
    let body, file;
    if (url.pathname === "/sw.js") body = sw;
    else if (url.pathname.startsWith("/pkg/")) file = path.join(root, url.pathname);
    else file = path.join(root, "bench/drain/index.html");
    if (file && !path.resolve(file).startsWith(root)) throw new Error("bad path");
    body ??= await readFile(file);
    res.writeHead(200, { "content-type": types[path.extname(url.pathname)] ?? "text/html", "cache-control": "no-store" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
}).listen(port, "127.0.0.1");

const server = await startServer({ TIDELOG_DATA_DIR: path.join(root, ".tidelog", `drain-${Date.now()}`) });
const browser = await launchChromium();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { tidelog: [], workbox: [], requests: [] };

for (let run = 0; run < runs; run++) {
  const context = await browser.newContext();
  const page = await openPage(context, `http://127.0.0.1:${port}/`);
  const base = `${server.base}/v1/drain-${Date.now()}-${run}`;
  // tidelog: append everything while paused, then resume and time until nothing is pending.
  const t = await page.evaluate(async ({ base, events, run }) => {
    const tidelog = await import("/pkg/tidelog.js");
    await tidelog.default();
    const store = await tidelog.EventStore.open(`drain-${run}`, { sync: { url: base, paused: true, pollMs: 600000 } });
    for (let done = 0; done < events; done += 1000) {
      await store.append(`s-${(done / 1000) % 10}`, Array.from({ length: Math.min(1000, events - done) }, (_, i) => ({ type: "Queued", data: { i, pad: "x".repeat(150) } })));
    }
    let requests = 0;
    store.sync.on("synced", (r) => (requests += r.requests));
    const t0 = performance.now();
    store.sync.resume();
    for (;;) {
      const status = await store.sync.now();
      if (status.pendingCount === 0) break;
    }
    return { ms: performance.now() - t0, requests };
  }, { base, events, run });
  results.tidelog.push(events / (t.ms / 1000));
  results.requests.push(t.requests);
  // Workbox: register the worker, queue the same number of events, time the replay.
  const w = await page.evaluate(async ({ base, events, run }) => {
    const registration = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    const worker = registration.active;
    const ask = (message) => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => resolve(e.data);
      worker.postMessage(message, [channel.port2]);
    });
    const filled = await ask({ kind: "fill", base, count: events, run });
    if (!filled.ok) return filled;
    return ask({ kind: "replay" });
  }, { base, events, run });
  if (!w.ok || w.left !== 0) throw new Error(`workbox replay failed: ${JSON.stringify(w)}`);
  results.workbox.push(events / (w.ms / 1000));
  await context.close();
  console.log(`run ${run + 1}: tidelog ${Math.round(events / (t.ms / 1000))} events/s in ${t.requests} requests; workbox ${Math.round(events / (w.ms / 1000))} events/s in ${events} requests`);
}

const tl = median(results.tidelog), wb = median(results.workbox);
console.log(`\n| drain of ${events} pending events to local workerd | tidelog | Workbox background-sync 7.4.1 | ratio |`);
console.log(`|---|---:|---:|---:|`);
console.log(`| events/s (median of ${runs}) | ${Math.round(tl)} | ${Math.round(wb)} | ${(tl / wb).toFixed(1)}x |`);
console.log(`| HTTP requests | ${median(results.requests)} | ${events} | |`);
await browser.close();
await server.stop();
http.close();
