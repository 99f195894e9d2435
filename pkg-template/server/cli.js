#!/usr/bin/env node
// tidelog-server: the self-hosted sync server from the command line (`npx tidelog-server`).
//   PORT (8787), HOST (127.0.0.1)       where to listen
//   DATABASE_URL=postgres://...          PostgreSQL (npm pg installed beside tidelog)
//   TIDELOG_DATA_DIR (./tidelog-data)    otherwise: the log file there (one process per directory)
//   TIDELOG_SYNC_TOKEN                   when set, every request needs Authorization: Bearer <token>
//   TIDELOG_CORS_ORIGINS                 comma-separated allowed origins (unset: any)
// Runs under node, deno (deno run -A) and bun alike. Ctrl-C (SIGINT) or SIGTERM stops it.
import { createHandler, openStore, serve } from "./index.js";

const env = globalThis.process?.env ?? {};
const store = await openStore({ databaseUrl: env.DATABASE_URL, dataDir: env.TIDELOG_DATA_DIR || "tidelog-data" });
const handler = createHandler({ store, env });
const server = await serve(handler, { port: Number(env.PORT || 8787), hostname: env.HOST || "127.0.0.1" });
const where = env.DATABASE_URL ? "PostgreSQL" : `the log file in ${store.dir}`;
console.log(`tidelog-server: http://${env.HOST || "127.0.0.1"}:${server.port}/v1/{space}/ on ${where}`);
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    await store.close();
    process.exit(0);
  });
}
