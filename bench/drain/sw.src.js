// The Workbox peer of the drain benchmark, bundled by esbuild into a service worker
// (bench/drain.mjs does it at run time): Workbox background-sync's Queue, the way
// apps use it, one stored request per event, replayed one by one.
import { Queue } from "workbox-background-sync/Queue.mjs";

const queue = new Queue("tidelog-drain-bench", { maxRetentionTime: 60 });

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("message", (event) => {
  const { kind, base, count, run } = event.data;
  const port = event.ports[0];
  event.waitUntil((async () => {
    try {
      if (kind === "fill") {
        for (let i = 0; i < count; i++) {
          const body = JSON.stringify({ events: [{ id: `wb-${run}-${i}`, type: "Queued", data: { i, pad: "x".repeat(150) }, meta: null, recordedAt: Date.now(), schema: 1 }] });
          await queue.pushRequest({
            request: new Request(`${base}/streams/wb-${run}-${i}`, {
              method: "POST",
              headers: { "content-type": "application/json", "if-none-match": "*" },
              body,
            }),
          });
        }
        port.postMessage({ ok: true });
      } else if (kind === "replay") {
        const t0 = performance.now();
        await queue.replayRequests();
        port.postMessage({ ok: true, ms: performance.now() - t0, left: (await queue.size()) });
      }
    } catch (error) {
      port.postMessage({ ok: false, error: String(error) });
    }
  })());
});
