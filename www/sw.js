// The demo's service worker: Background Sync for the outbox. When a page could not reach
// the sync server, tidelog registers the Background Sync tag "tidelog:<database>"; the
// browser fires `sync` here once the network is back, even if every page is closed, and
// this worker opens the same store and pushes its outbox.
import init, { EventStore } from "/pkg/tidelog.js";
// The sync side up front: a service worker cannot import() it when the store opens.
import "/pkg/tidelog.sync.js";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("sync", (event) => {
  if (!event.tag.startsWith("tidelog:")) return;
  const database = event.tag.slice("tidelog:".length);
  // The demo names its databases tidelog-demo-<space>-<device>.
  const space = /^tidelog-demo-([a-z0-9]+)-/i.exec(database)?.[1];
  if (!space) return;
  event.waitUntil((async () => {
    await init();
    const store = await EventStore.open(database, { sync: { url: `${self.location.origin}/v1/${space}` } });
    try {
      const status = await store.sync.now();
      // Still pending: reject, so the browser tries this sync again later.
      if (status.pendingCount > 0) throw new Error(`tidelog: ${status.pendingCount} events still pending`);
    } finally {
      store.close();
    }
  })());
});
