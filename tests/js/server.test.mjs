// The sync server (tidelog/worker) in the real workerd binary: the protocol suite
// (tests/js/protocol.mjs) against SQLite-backed Durable Objects on the SQL API (the
// default, as on Cloudflare) and on the key-value API (TIDELOG_STORAGE=kv), and the
// upgrade of a space the key-value API wrote to the SQL tables.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { startServer } from "./harness.mjs";
import { protocolSuite, client, event, tempDir } from "./protocol.mjs";

protocolSuite("workerd, SQL storage", (env) => startServer({ ...env, TIDELOG_STORAGE: "" }));
protocolSuite("workerd, key-value storage", (env) => startServer({ ...env, TIDELOG_STORAGE: "kv" }));

describe("workerd: a space written through the key-value API, then served from SQL", () => {
  const dataDir = tempDir();
  const env = { TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: "", TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: "" };
  let server;
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("is copied into the SQL tables once: same reads, retries recognised, versions go on", async () => {
    server = await startServer({ ...env, TIDELOG_STORAGE: "kv" });
    let api = client(server.base);
    const streams = ["cart 1", "cart/2", "🛒"];
    for (const [i, stream] of streams.entries()) {
      for (let b = 0; b < 3; b++) {
        const events = Array.from({ length: 100 }, (_, j) => event(`kv-${i}-${b}-${j}`, { i, b, j, text: "é🛒".repeat(j % 5) }));
        const r = await api.push("upgrade", stream, events, { "if-match": `"${b * 100}"` });
        assert.equal(r.status, 201);
      }
    }
    const feedBefore = await (await api.feed("upgrade", "?limit=1000")).json();
    const streamBefore = await (await api.stream("upgrade", "cart/2", "?limit=1000")).json();
    assert.equal(feedBefore.head, 900);
    await server.stop();

    server = await startServer({ ...env, TIDELOG_STORAGE: "" });
    api = client(server.base);
    assert.deepEqual(await (await api.feed("upgrade", "?limit=1000")).json(), feedBefore);
    assert.deepEqual(await (await api.stream("upgrade", "cart/2", "?limit=1000")).json(), streamBefore);
    const retry = await api.push("upgrade", "🛒", [event("kv-2-0-0", { i: 2, b: 0, j: 0, text: "" })], { "if-match": '"0"' });
    assert.equal(retry.status, 200, "the id index came along");
    const next = await api.push("upgrade", "🛒", [event("after-upgrade")], { "if-match": '"300"' });
    assert.deepEqual(await next.json(), { version: 301, events: [{ id: "after-upgrade", version: 301, position: 901 }] });
    await server.stop();

    // The copy ran once: a later start serves the SQL tables (with the new event) ...
    server = await startServer({ ...env, TIDELOG_STORAGE: "" });
    assert.equal((await (await client(server.base).feed("upgrade")).json()).head, 901);
    await server.stop();
    // ... and they are not the key-value entries, which stay as the copy found them.
    server = await startServer({ ...env, TIDELOG_STORAGE: "kv" });
    assert.equal((await (await client(server.base).feed("upgrade")).json()).head, 900);
  });
});
