// `make demo SERVER=node`: the demo from Node, with the self-hosted sync server
// (tidelog/server, pkg/server/) at /v1/ instead of workerd's. The same router as the
// workerd demo (scripts/demo/router.js) over the same directories: www/ at /, pkg/ at
// /pkg/. Storage: PostgreSQL when DATABASE_URL is set, else the log file in
// $TIDELOG_DATA_DIR (default .tidelog/sync-file). TIDELOG_SYNC_TOKEN and
// TIDELOG_CORS_ORIGINS as for workerd. SIGINT/SIGTERM stop it.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import router from "./router.js";
import { createHandler, openStore, serve } from "../../pkg/server/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A read-only directory with the `fetch` of workerd's disk service (what router.js uses). */
function disk(dir) {
  return {
    async fetch(url) {
      const file = path.resolve(dir, "." + decodeURIComponent(new URL(url).pathname));
      if (file !== dir && !file.startsWith(dir + path.sep)) return new Response(null, { status: 404 });
      try {
        return new Response(await readFile(file));
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  };
}

const env = process.env;
const store = await openStore({
  databaseUrl: env.DATABASE_URL,
  dataDir: env.TIDELOG_DATA_DIR || path.join(root, ".tidelog", "sync-file"),
});
const sync = createHandler({ store, env });
const bindings = { WWW: disk(path.join(root, "www")), PKG: disk(path.join(root, "pkg")), SYNC: { fetch: sync } };
const host = env.HOST || "127.0.0.1";
const server = await serve((request) => router.fetch(request, bindings), { port: Number(env.PORT || 8787), hostname: host });
console.log(`tidelog demo: http://${host}:${server.port}/  (Node, tidelog/server on ${env.DATABASE_URL ? "PostgreSQL" : "the log file"}; Ctrl-C stops it)`);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await server.close();
    await store.close();
    process.exit(0);
  });
}
