// The self-hosted server (tidelog/server) under faults, against real servers: two Node
// processes on one PostgreSQL database pushing to one space with many clients at once,
// PostgreSQL stopped (as by a crash) and started again in the middle of a push run, and
// the bad-input catalogue of the worker (tests/js/catalogue.mjs), whose answers every
// server must give alike. Then the package's handler as a library: the app's
// `authorize` hook, and the same handler under Deno.serve and Bun.serve (the npm
// packages deno and bun).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, serverTargets, startServer } from "./harness.mjs";
import { postgres } from "./postgres.mjs";
import { badInputCatalogue, rawRequest } from "./catalogue.mjs";

const TOKEN = "selfhost-s3cret-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const targets = serverTargets().filter((t) => t === "node-pg" || t === "node-file");
const withPg = targets.includes("node-pg");

function event(id, data = { id }) {
  return { id, type: "Added", data, meta: null, recordedAt: 1718000000000, schema: 1 };
}

/** A stream's version from a HEAD (its ETag); throws on anything but 200. */
async function streamVersion(base, space, stream) {
  const response = await fetch(`${base}/v1/${space}/streams/${stream}`, { method: "HEAD", headers: auth, signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) throw new Error(`HEAD ${response.status}`);
  return Number(JSON.parse(response.headers.get("etag")));
}

/**
 * Pushes `events` to `stream` as a client of the protocol does: on the stream's current
 * version (If-Match), again on 412 (another client won), and the same batch again after
 * a 5xx, a timeout or a refused connection (idempotent: a batch that was stored answers
 * 200). Counts what it saw in `seen`.
 */
async function pushReliably(bases, space, stream, events, seen) {
  let last = "";
  for (let attempt = 0; attempt < 400; attempt++) {
    const base = bases[attempt % bases.length];
    try {
      const version = await streamVersion(base, space, stream);
      const response = await fetch(`${base}/v1/${space}/streams/${stream}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "if-match": `"${version}"` },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(5000),
      });
      const body = await response.json().catch(() => null);
      seen[response.status] = (seen[response.status] ?? 0) + 1;
      if (response.status === 201 || response.status === 200) return body;
      if (response.status === 412) continue;
      if (response.status >= 500) {
        last = `${response.status} ${JSON.stringify(body)}`;
        await sleep(50 + Math.random() * 100);
        continue;
      }
      throw new Error(`push answered ${response.status}: ${JSON.stringify(body)}`);
    } catch (error) {
      if (String(error.message).startsWith("push answered")) throw error;
      seen.failed = (seen.failed ?? 0) + 1;
      last = `${error.message} ${error.cause?.code ?? ""}`;
      await sleep(100 + Math.random() * 100);
    }
  }
  throw new Error(`gave up pushing ${events[0].id}: ${last} (${JSON.stringify(seen)})`);
}

/** The whole feed of a space (paged) and each stream's events. */
async function everything(base, space) {
  const feed = [];
  for (;;) {
    const response = await fetch(`${base}/v1/${space}/events?after=${feed.length}&limit=1000`, { headers: auth });
    assert.equal(response.status, 200);
    const page = await response.json();
    feed.push(...page.events);
    if (feed.length >= page.head) return { head: page.head, feed };
  }
}

/** Asserts the space holds exactly `ids`, once each, at positions 1..n and stream versions 1..k. */
async function assertExactlyOnce(base, space, ids) {
  const { head, feed } = await everything(base, space);
  assert.equal(head, feed.length);
  assert.deepEqual(feed.map((e) => e.position), Array.from({ length: feed.length }, (_, i) => i + 1), "positions 1..n, no gap");
  assert.deepEqual(feed.map((e) => e.id).sort(), [...ids].sort(), "every event exactly once");
  const versions = new Map();
  for (const e of feed) {
    const next = (versions.get(e.stream) ?? 0) + 1;
    assert.equal(e.version, next, `stream ${e.stream}: versions 1..k in feed order`);
    versions.set(e.stream, next);
  }
  return feed;
}

describe("self-hosted server on PostgreSQL: faults", { skip: !withPg && "TIDELOG_SERVERS leaves out node-pg" }, () => {
  const dirs = [];
  const servers = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tidelog-selfhost-"));
    dirs.push(dir);
    return dir;
  };
  const start = async (env) => {
    const server = await startServer({ TIDELOG_SYNC_TOKEN: TOKEN, TIDELOG_CORS_ORIGINS: "", ...env }, "node-pg");
    servers.push(server);
    return server;
  };
  after(async () => {
    for (const server of servers) await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test("two server processes, one database, 12 clients pushing to one space: contiguous, nothing lost or doubled", async () => {
    const key = tempDir();
    const [one, two] = [await start({ TIDELOG_DATA_DIR: key }), await start({ TIDELOG_DATA_DIR: key })];
    const space = "shared";
    // The same base version from both processes at once: exactly one push wins.
    const race = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${[one, two][i % 2].base}/v1/${space}/streams/race`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", "if-match": '"0"' },
          body: JSON.stringify({ events: [event(`race-${i}`)] }),
        }).then((r) => r.status),
      ),
    );
    assert.deepEqual(race.sort(), [201, ...Array(9).fill(412)]);
    const winner = (await everything(one.base, space)).feed.map((e) => e.id);
    // Then many clients, each alternating between the processes, on six streams.
    const seen = {};
    const ids = [...winner];
    await Promise.all(
      Array.from({ length: 12 }, async (_, client) => {
        for (let batch = 0; batch < 12; batch++) {
          const events = [event(`c${client}-b${batch}-0`), event(`c${client}-b${batch}-1`)];
          ids.push(...events.map((e) => e.id));
          const bases = client % 2 ? [one.base, two.base] : [two.base, one.base];
          await pushReliably(bases, space, `stream-${(client + batch) % 6}`, events, seen);
        }
      }),
    );
    const feed = await assertExactlyOnce(two.base, space, ids);
    assert.equal(feed.length, 1 + 12 * 12 * 2);
    assert.ok(seen[412] > 0, `clients raced on shared streams (${JSON.stringify(seen)})`);
    assert.equal(seen[500] ?? 0, 0, "no storage errors under contention");
  });

  test("PostgreSQL stopped and started again mid-run: clients see 5xx, retry, and every event is stored exactly once", async () => {
    const server = await start({ TIDELOG_DATA_DIR: tempDir() });
    const pg = await postgres();
    const space = "restart";
    const seen = {};
    const ids = [];
    let pushed = 0;
    const run = Promise.all(
      Array.from({ length: 6 }, async (_, client) => {
        for (let batch = 0; batch < 25; batch++) {
          const events = [event(`r${client}-${batch}-a`), event(`r${client}-${batch}-b`), event(`r${client}-${batch}-c`)];
          ids.push(...events.map((e) => e.id));
          await pushReliably([server.base], space, `s${client % 3}`, events, seen);
          pushed += 1;
        }
      }),
    );
    while (pushed < 30) await sleep(10);
    await pg.restart(1500);
    await run;
    await assertExactlyOnce(server.base, space, ids);
    const failures = Object.entries(seen).filter(([status]) => status === "failed" || Number(status) >= 500);
    assert.ok(failures.length > 0, `the clients saw the outage (${JSON.stringify(seen)})`);
    assert.ok(pushed === 150);
  });
});

describe("the bad-input catalogue: the self-hosted server answers as the worker does", () => {
  const dirs = [];
  const servers = {};
  before(async () => {
    for (const target of ["workerd", ...targets]) {
      const dir = mkdtempSync(path.join(tmpdir(), "tidelog-catalogue-"));
      dirs.push(dir);
      servers[target] = await startServer({ TIDELOG_DATA_DIR: dir, TIDELOG_SYNC_TOKEN: TOKEN, TIDELOG_CORS_ORIGINS: "" }, target);
    }
  });
  after(async () => {
    for (const server of Object.values(servers)) await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test("every malformed request gets the worker's status and error code, and writes nothing", { skip: targets.length === 0 && "no self-hosted target" }, async () => {
    const space = "catalogue";
    const answers = {};
    for (const [target, server] of Object.entries(servers)) {
      const seed = await fetch(`${server.base}/v1/${space}/streams/s`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "if-none-match": "*" },
        body: JSON.stringify({ events: [{ id: "seed-1", type: "T", data: 1, recordedAt: 1 }] }),
      });
      assert.equal(seed.status, 201);
      const entries = Object.entries(badInputCatalogue(space, auth));
      answers[target] = {};
      for (let i = 0; i < entries.length; i += 8) {
        const slice = entries.slice(i, i + 8);
        const results = await Promise.all(slice.map(([, c]) => rawRequest(server.port, c.method, c.target, c)));
        slice.forEach(([label], j) => {
          const { status, body } = results[j];
          let code = "";
          try {
            code = JSON.parse(body).error ?? "";
          } catch {}
          answers[target][label] = `${status} ${code}`;
        });
      }
      const { feed } = await everything(server.base, space);
      assert.deepEqual(feed.map((e) => e.id), ["seed-1"], `${target}: nothing was written`);
    }
    assert.ok(Object.keys(answers.workerd).length >= 30);
    assert.ok(Object.values(answers.workerd).every((a) => a.startsWith("4")), "the worker answers 4xx");
    for (const target of targets) assert.deepEqual(answers[target], answers.workerd, `${target} answers as the worker`);
  });
});

describe("tidelog/server as a library: the authorize hook, Deno.serve and Bun.serve", () => {
  const dirs = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tidelog-library-"));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test("authorize(request, space, access) decides who may touch a space; its refusals carry CORS headers", async () => {
    const { createHandler, fileStore, serve } = await import(path.join(root, "pkg/server/index.js"));
    assert.throws(() => createHandler({}), TypeError);
    const calls = [];
    const store = fileStore(tempDir());
    const lines = [];
    const handler = createHandler({
      store,
      env: { TIDELOG_SYNC_TOKEN: "ignored when a hook is given" },
      log: (line) => lines.push(JSON.parse(line)),
      authorize(request, space, access) {
        calls.push([request.method, space, access]);
        if (space === "team-1") return true;
        if (space === "read only") return access === "read";
        return new Response(JSON.stringify({ error: "unauthorized", message: "sign in" }), {
          status: 401,
          headers: { "content-type": "application/json", "www-authenticate": "Session" },
        });
      },
    });
    const server = await serve(handler, { port: 0 });
    const base = `http://127.0.0.1:${server.port}/v1`;
    try {
      const origin = { origin: "https://app.example" };
      const push = (space) =>
        fetch(`${base}/${encodeURIComponent(space)}/streams/s`, {
          method: "POST",
          headers: { ...origin, "content-type": "application/json", "if-none-match": "*" },
          body: JSON.stringify({ events: [event(`e-${space}`)] }),
        });
      assert.equal((await push("team-1")).status, 201);
      assert.equal((await fetch(`${base}/team-1/events`)).status, 200);
      const readOnly = await fetch(`${base}/read%20only/events`, { headers: origin });
      assert.equal(readOnly.status, 200);
      const refused = await push("read only");
      assert.equal(refused.status, 403);
      assert.equal((await refused.json()).error, "forbidden");
      assert.equal(refused.headers.get("access-control-allow-origin"), "*", "a refusal is readable by the page");
      const custom = await fetch(`${base}/other/events`, { headers: origin });
      assert.equal(custom.status, 401);
      assert.equal(custom.headers.get("www-authenticate"), "Session");
      assert.equal(custom.headers.get("access-control-allow-origin"), "*");
      assert.deepEqual(calls, [
        ["POST", "team-1", "write"], ["GET", "team-1", "read"], ["GET", "read only", "read"],
        ["POST", "read only", "write"], ["GET", "other", "read"],
      ]);
      assert.deepEqual(store.space("read only").readFeed(0, 10), { head: 0, rows: [] }, "the refused push wrote nothing");
      assert.deepEqual(lines.map((l) => l.status), [201, 200, 200, 403, 401], "one log line per request");
    } finally {
      await server.close();
      await store.close();
    }
  });

  for (const runtime of ["deno", "bun"]) {
    const bin = path.join(root, "node_modules/.bin", runtime);
    const serveCall = runtime === "deno"
      ? `const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler); const port = server.addr.port;`
      : `const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler }); const port = server.port;`;
    test(`${runtime}: the handler as ${runtime === "deno" ? "Deno.serve" : "Bun.serve"} takes it, on the log file`, {
      skip: !existsSync(bin) && `${runtime} is not installed (npm package ${runtime})`,
    }, async () => {
      const dir = tempDir();
      const script = path.join(dir, "serve.mjs");
      writeFileSync(script, `import { createHandler, fileStore } from ${JSON.stringify(path.join(root, "pkg/server/index.js"))};
const handler = createHandler({ store: fileStore(${JSON.stringify(path.join(dir, "data"))}), env: { TIDELOG_SYNC_TOKEN: "t0ken" } });
${serveCall}
console.log("listening " + port);
`);
      const child = spawn(bin, runtime === "deno" ? ["run", "-A", script] : ["run", script], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      try {
        const deadline = Date.now() + 30_000;
        while (!/listening \d+/.test(output)) {
          assert.ok(child.exitCode === null && Date.now() < deadline, `${runtime} did not start:\n${output}`);
          await sleep(50);
        }
        const base = `http://127.0.0.1:${/listening (\d+)/.exec(output)[1]}/v1/shop`;
        const headers = { authorization: "Bearer t0ken", "content-type": "application/json" };
        assert.equal((await fetch(`${base}/events`)).status, 401, "the token rule holds");
        const push = await fetch(`${base}/streams/cart`, {
          method: "POST",
          headers: { ...headers, "if-none-match": "*" },
          body: JSON.stringify({ events: [event("a"), event("b")] }),
        });
        assert.equal(push.status, 201, await push.clone().text());
        const retry = await fetch(`${base}/streams/cart`, {
          method: "POST",
          headers: { ...headers, "if-match": '"0"' },
          body: JSON.stringify({ events: [event("a"), event("b")] }),
        });
        assert.equal(retry.status, 200, "an idempotent retry");
        const feed = await (await fetch(`${base}/events`, { headers })).json();
        assert.deepEqual(feed.events.map((e) => [e.id, e.version, e.position]), [["a", 1, 1], ["b", 2, 2]]);
        const head = await fetch(`${base}/events`, { method: "HEAD", headers: { ...headers, "if-none-match": '"2"' } });
        assert.equal(head.status, 304);
        assert.match(output, /"status":201/, "the log line");
      } finally {
        child.kill("SIGKILL");
        await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      }
    });
  }
});
