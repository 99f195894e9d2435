// tidelog/server: the tidelog sync server (docs/protocol.md) for Node, Deno and Bun, on
// PostgreSQL or on a log file. A standard fetch handler, `(Request) => Promise<Response>`:
//
//   import { createHandler, fileStore, pgStore, serve } from "tidelog/server";
//   const handler = createHandler({ store: fileStore("./tidelog-data"), env: process.env });
//   Deno.serve(handler);                       // Deno
//   Bun.serve({ fetch: handler });             // Bun
//   http.createServer(nodeListener(handler));  // Node (or serve(handler), any of the three)
//
// The protocol is answered by the same Rust core as tidelog/worker (the wasm in
// ../worker/, `handleSpaceRequest`), behind the same front door (js/front.js: CORS,
// bearer token or `authorize` hook, space ids, JSON logs). Settings come from `env`
// (TIDELOG_SYNC_TOKEN, TIDELOG_CORS_ORIGINS, as the worker reads them). Built by
// scripts/build-pkg (esbuild bundles this file with js/front.js and js/server/).
import { readFileSync } from "node:fs";
import { initSync, handleSpaceRequest } from "../worker/tidelog.js";
import { makeHandler } from "../../js/server/handler.js";
import { pgStore } from "../../js/server/pg_store.js";
import { fileStore } from "../../js/server/file_store.js";
import { nodeListener } from "../../js/server/node_http.js";

export { pgStore, fileStore, nodeListener };

let wasmReady = false;
function ensureWasm() {
  if (!wasmReady) {
    initSync({ module: readFileSync(new URL("../worker/tidelog_bg.wasm", import.meta.url)) });
    wasmReady = true;
  }
}

/** The sync server as a fetch handler over `options.store` (see index.d.ts). */
export function createHandler(options) {
  if (!options || typeof options.store?.space !== "function") {
    throw new TypeError("createHandler: options.store must be a space backend (pgStore(pool) or fileStore(dir))");
  }
  ensureWasm();
  return makeHandler({ ...options, core: handleSpaceRequest });
}

/**
 * The backend the environment names: PostgreSQL when `databaseUrl` is set (npm `pg` must
 * be installed; the tables are created when missing), else the log file in `dataDir`.
 */
export async function openStore({ databaseUrl, dataDir = "tidelog-data" } = {}) {
  if (databaseUrl) {
    let pg;
    try {
      pg = (await import("pg")).default;
    } catch {
      throw new Error("DATABASE_URL is set, but the npm package pg is not installed: npm install pg");
    }
    const store = pgStore(new pg.Pool({ connectionString: databaseUrl }), { ownsPool: true });
    await store.migrate();
    return store;
  }
  return fileStore(dataDir);
}

/**
 * Serves `handler` on `port` of `hostname` with the runtime's own server (Deno.serve,
 * Bun.serve, else node:http). Resolves to `{ port, close() }` once listening.
 */
export async function serve(handler, { port = 8787, hostname = "127.0.0.1" } = {}) {
  const { Deno, Bun } = globalThis;
  if (Deno?.serve) {
    const server = Deno.serve({ port, hostname, onListen() {} }, handler);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  if (Bun?.serve) {
    const server = Bun.serve({ port, hostname, fetch: handler });
    return { port: server.port, close: async () => server.stop(true) };
  }
  const http = await import("node:http");
  // Header fields up to 64 KiB, as workerd takes them (Node's default is 16 KiB).
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, nodeListener(handler));
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, resolve);
  });
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections?.(); }),
  };
}
