// The sync server, spoken to with plain fetch: the protocol's statuses and headers, odd
// stream ids, space isolation, CORS, bearer auth, per-space JWT authorization (issue 18),
// and durability across a restart. The same tests run against every server of
// SERVER_TARGETS (tests/js/harness.mjs): tidelog/worker in the real workerd binary on
// SQLite-backed Durable Objects (the SQL API, and the key-value API), under
// `npx wrangler dev`, and tidelog/server in Node on its log file and on a real
// PostgreSQL. Last, the upgrade of a space the key-value API wrote to SQL.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SignJWT, base64url, exportJWK, generateKeyPair } from "jose";
import { serverTargets, startServer } from "./harness.mjs";

const TOKEN = "s3cret-token-for-tests";
const ORIGIN = "https://app.example";

const JWT_SECRET = "jwt-secret-for-tests-0123456789abcdef";

/** An HS256 JWT (exp in an hour unless given) signed with `secret`. */
function jwt(claims, secret = JWT_SECRET) {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return new SignJWT({ exp, ...claims }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

function segment(stream) {
  return encodeURIComponent(stream).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function event(id, data = { id }) {
  return { id, type: "Added", data, meta: { by: "test" }, recordedAt: 1718000000000, schema: 1 };
}

/** A client for one server: `base` like http://127.0.0.1:1234, optional default headers. */
/** Every answer carries a Date header close to now (RFC 9110 section 6.6.1). */
function assertDated(response) {
  const date = response.headers.get("date");
  assert.ok(date, `${response.status} answer without a Date header`);
  assert.ok(Math.abs(Date.parse(date) - Date.now()) < 60_000, `Date ${date} is not now`);
  return response;
}

function client(base, defaults = {}) {
  const call = async (method, url, { headers = {}, body } = {}) =>
    assertDated(
      await fetch(`${base}${url}`, {
        method,
        headers: { ...defaults, ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  return {
    call,
    push: (space, stream, events, precondition = { "if-none-match": "*" }) =>
      call("POST", `/v1/${segment(space)}/streams/${segment(stream)}`, {
        headers: { "content-type": "application/json", ...precondition },
        body: { events },
      }),
    stream: (space, stream, query = "", headers = {}) =>
      call("GET", `/v1/${segment(space)}/streams/${segment(stream)}${query}`, { headers }),
    feed: (space, query = "", headers = {}) => call("GET", `/v1/${segment(space)}/events${query}`, { headers }),
  };
}

async function expectError(response, status, code) {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}`);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = await response.json();
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  return body;
}

function tempDir() {
  return mkdtempSync(path.join(tmpdir(), "tidelog-sync-"));
}

for (const target of serverTargets()) {
  describe(`sync server: ${target} (open, CORS *)`, () => {
    let server;
    let api;
    const dataDir = tempDir();
    const space = `open-${Date.now()}`;

    before(async () => {
      server = await startServer({ TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: "", TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: "" }, target);
      api = client(server.base);
    });
    after(async () => {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("push 201 with ETag, idempotent retry 200 with the same body, 412 with the current ETag", async () => {
      const first = await api.push(space, "cart-42", [event("a1"), event("a2")]);
      assert.equal(first.status, 201);
      assert.equal(first.headers.get("etag"), '"2"');
      const body = await first.text();
      assert.deepEqual(JSON.parse(body), {
        version: 2,
        events: [{ id: "a1", version: 1, position: 1 }, { id: "a2", version: 2, position: 2 }],
      });
      const retry = await api.push(space, "cart-42", [event("a1"), event("a2")]);
      assert.equal(retry.status, 200);
      assert.equal(retry.headers.get("etag"), '"2"');
      assert.equal(await retry.text(), body, "a retry answers byte for byte the original 201");

      const stale = await api.push(space, "cart-42", [event("a3")], { "if-match": '"1"' });
      const conflict = await expectError(stale, 412, "version_conflict");
      assert.equal(stale.headers.get("etag"), '"2"');
      assert.deepEqual([conflict.stream, conflict.expectedVersion, conflict.actualVersion], ["cart-42", 1, 2]);

      const next = await api.push(space, "cart-42", [event("a3")], { "if-match": '"2"' });
      assert.equal(next.status, 201);
      assert.equal(next.headers.get("etag"), '"3"');
    });

    test("tags are stored and served; a push's append condition is checked against the feed: 412 condition_failed", async () => {
      const sp = `${space}-claims`;
      const claim = (id, u) => ({ ...event(id), type: "UsernameClaimed", tags: [`username:${u}`] });
      const push = (stream, events, conditions) => api.call("POST", `/v1/${sp}/streams/${stream}`, {
        headers: { "content-type": "application/json", "if-none-match": "*" },
        body: { events, conditions },
      });
      const unique = (after) => [{ event: 0, failIfEventsMatch: [{ types: ["UsernameClaimed"], tags: ["username:ada"] }], after }];
      assert.equal((await push("account-a", [claim("a-1", "ada")], unique(0))).status, 201);
      const feed = await (await api.feed(sp)).json();
      assert.deepEqual(feed.events.map((e) => [e.id, e.tags]), [["a-1", ["username:ada"]]]);
      // Decided at feed position 0, before a-1: refused, naming it; nothing written.
      const body = await expectError(await push("account-b", [claim("b-1", "ada")], unique(0)), 412, "condition_failed");
      assert.deepEqual([body.stream, body.condition, body.event.id, body.event.position, body.event.tags], ["account-b", 0, "a-1", 1, ["username:ada"]]);
      assert.equal((await (await api.feed(sp)).json()).events.length, 1);
      // Decided after having pulled a-1 (and found the name free, say after a release): accepted.
      assert.equal((await push("account-c", [claim("c-1", "ada")], unique(1))).status, 201);
      await expectError(await push("account-d", [claim("d-1", "ada")], [{ event: 3, failIfEventsMatch: "all", after: 0 }]), 422, "invalid_event");
    });

    test("428 without precondition; 400 bad JSON / bad precondition / bad query; 422 invalid events", async () => {
      await expectError(await api.push(space, "s428", [event("x")], {}), 428, "precondition_required");
      await expectError(await api.push(space, "s400", [event("x")], { "if-match": "7" }), 400, "bad_precondition");
      const badJson = await api.call("POST", `/v1/${space}/streams/s400`, { headers: { "if-none-match": "*" }, body: "{nope" });
      await expectError(badJson, 400, "bad_json");
      await expectError(await api.push(space, "s422", [{ id: "x", type: "T" }]), 422, "invalid_event");
      await expectError(await api.push(space, "s422", []), 422, "empty_batch");
      await expectError(await api.push(space, "s422", [event("d"), event("d")]), 422, "duplicate_id");
      await expectError(await api.stream(space, "s", "?after=-1"), 400, "bad_query");
    });

    test("413 for a body over 1 MiB and for more than 100 events; an 8 MiB body gets its 413 every time", async () => {
      const big = [event("big", { blob: "x".repeat(1024 * 1024) })];
      await expectError(await api.push(space, "s413", big), 413, "body_too_large");
      // The server reads (and throws away) the body before answering, so Node's fetch
      // sees the 413, not a connection reset, however early the answer is ready.
      const huge = [event("huge", { blob: "y".repeat(8 * 1024 * 1024) })];
      for (let i = 0; i < 8; i++) {
        await expectError(await api.push(space, "s413", huge), 413, "body_too_large");
      }
      const many = Array.from({ length: 101 }, (_, i) => event(`m${i}`));
      await expectError(await api.push(space, "s413", many), 413, "batch_too_large");
    });

    test("data and meta come back as pushed: object keys in their order, not sorted", async () => {
      const data = { zeta: 1, alpha: { y: [3, { b: 1, a: 2 }], b: null }, "10": "ten", mid: "é\u2028" };
      const meta = { z: "last?", a: "first?" };
      const pushed = { id: "order-1", type: "Ordered", data, meta, recordedAt: 1718000000000, schema: 1 };
      assert.equal((await api.push(space, "key-order", [pushed])).status, 201);
      const text = JSON.stringify({ data, meta });
      for (const response of [await api.stream(space, "key-order"), await api.feed(space, "?after=0&limit=1000")]) {
        const body = await response.text();
        const served = JSON.parse(body).events.find((e) => e.id === "order-1");
        assert.equal(JSON.stringify({ data: served.data, meta: served.meta }), text, "the same keys in the same order");
      }
    });

    test("stream and feed reads: 200, after/limit, 304 on If-None-Match, HEAD without body", async () => {
      const s = "reads";
      assert.equal((await api.push(space, s, [event("r1"), event("r2"), event("r3")])).status, 201);
      const empty = await api.stream(space, "never-written");
      assert.equal(empty.status, 200);
      assert.equal(empty.headers.get("etag"), '"0"');
      assert.deepEqual(await empty.json(), { version: 0, events: [] });

      const page = await api.stream(space, s, "?after=1&limit=1");
      assert.equal(page.status, 200);
      assert.equal(page.headers.get("etag"), '"3"');
      assert.equal(page.headers.get("cache-control"), "no-cache");
      const read = await page.json();
      assert.equal(read.version, 3);
      assert.deepEqual(read.events.map((e) => [e.id, e.stream, e.version]), [["r2", s, 2]]);
      assert.deepEqual(read.events[0].data, { id: "r2" });

      const notModified = await api.stream(space, s, "?after=3", { "if-none-match": '"3"' });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("etag"), '"3"');
      assert.equal(await notModified.text(), "");
      assert.equal((await api.stream(space, s, "", { "if-none-match": 'W/"2"' })).status, 200);
      await expectError(await api.stream(space, s, "", { "if-match": '"1"' }), 412, "precondition_failed");

      const feed = await api.feed(space);
      assert.equal(feed.status, 200);
      const { head, events } = await feed.json();
      assert.equal(feed.headers.get("etag"), `"${head}"`);
      assert.equal(events.at(-1).position, head);
      const poll = await api.feed(space, `?after=${head}`, { "if-none-match": `"${head}"` });
      assert.equal(poll.status, 304);
      assert.equal(await poll.text(), "");

      for (const url of [`/v1/${space}/streams/${s}`, `/v1/${space}/events`]) {
        const get = await api.call("GET", url);
        const headResponse = await api.call("HEAD", url);
        assert.equal(headResponse.status, 200);
        assert.equal(headResponse.headers.get("etag"), get.headers.get("etag"));
        // The GET's length (a dev proxy may send the GET chunked, so count its bytes).
        const getBytes = (await get.arrayBuffer()).byteLength;
        assert.equal(headResponse.headers.get("content-length"), String(getBytes));
        assert.equal(await headResponse.text(), "");
      }
    });

    test("a filtered feed (partial sync): only its streams, its own ETag, 304 while only others change", async () => {
      const fs = `${space}-filtered`;
      for (const [stream, id] of [["cart-1", "f1"], ["order-1", "f2"], ["cart-2", "f3"], ["a b/c", "f4"]]) {
        assert.equal((await api.push(fs, stream, [event(id)])).status, 201);
      }
      const read = await api.feed(fs, "?prefix=cart-");
      assert.equal(read.status, 200);
      assert.equal(read.headers.get("etag"), '"4"');
      const body = await read.json();
      assert.deepEqual([body.head, body.through], [4, 4]);
      assert.deepEqual(body.events.map((e) => [e.stream, e.position]), [["cart-1", 1], ["cart-2", 3]]);
      const named = await (await api.feed(fs, `?stream=${segment("a b/c")}&stream=order-1`)).json();
      assert.deepEqual(named.events.map((e) => e.id), ["f2", "f4"]);
      // Another stream changes: the cart poll is a 304.
      assert.equal((await api.push(fs, "order-1", [event("f5")], { "if-match": '"1"' })).status, 201);
      const idle = await api.feed(fs, "?after=4&prefix=cart-", { "if-none-match": '"4"' });
      assert.equal(idle.status, 304);
      assert.equal(idle.headers.get("etag"), '"4"');
      assert.equal(await idle.text(), "");
      // A cart changes: 200 with it, `through` past the others.
      assert.equal((await api.push(fs, "cart-2", [event("f6")], { "if-match": '"1"' })).status, 201);
      const fresh = await api.feed(fs, "?after=4&prefix=cart-", { "if-none-match": '"4"' });
      assert.equal(fresh.status, 200);
      const next = await fresh.json();
      assert.deepEqual([next.events.map((e) => e.id), next.through, next.head], [["f6"], 6, 6]);
      await expectError(await api.feed(fs, "?prefix="), 400, "bad_query");
      // The whole feed is unchanged: no `through`.
      assert.equal((await (await api.feed(fs)).json()).through, undefined);
    });

    test("404 unknown paths, 405 with Allow, 204 OPTIONS, 400 bad stream and bad space", async () => {
      for (const url of [`/v1/${space}/nope`, `/v1/${space}/streams/`, `/v1/${space}/streams/a/b`, `/v1/${space}`, "/v1/"]) {
        await expectError(await api.call("GET", url), 404, "not_found");
      }
      const put = await api.call("PUT", `/v1/${space}/streams/s`, { body: "{}" });
      await expectError(put, 405, "method_not_allowed");
      assert.equal(put.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
      const postFeed = await api.call("POST", `/v1/${space}/events`, { body: "{}" });
      await expectError(postFeed, 405, "method_not_allowed");
      assert.equal(postFeed.headers.get("allow"), "GET, HEAD, OPTIONS");
      const options = await api.call("OPTIONS", `/v1/${space}/events`);
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("allow"), "GET, HEAD, OPTIONS");
      await expectError(await api.call("GET", `/v1/${space}/streams/%ZZ`), 400, "bad_stream");
      await expectError(await api.call("GET", `/v1/${space}/streams/a%00b`), 400, "bad_stream");
      for (const bad of ["%FF", "a%01b", "x".repeat(129), "%C2%85"]) {
        await expectError(await api.call("GET", `/v1/${bad}/events`), 400, "bad_space");
      }
      assert.equal((await api.call("GET", `/v1/${"🛒".repeat(128)}/events`)).status, 200, "128 characters are fine");
    });

    test("odd stream ids stay one stream each", async () => {
      const odd = ["a b/c", "a", "a:b", "a%3Ab", "%2F", "100%", "🛒 cart", "a/../b", "...", ":", "é", "a+b?c#d"];
      for (const [i, stream] of odd.entries()) {
        const r = await api.push(space, stream, [event(`odd-${i}`)]);
        assert.equal(r.status, 201, `${stream}: ${await r.text()}`);
      }
      for (const [i, stream] of odd.entries()) {
        const read = await (await api.stream(space, stream)).json();
        assert.equal(read.version, 1, stream);
        assert.deepEqual(read.events.map((e) => [e.id, e.stream]), [[`odd-${i}`, stream]]);
      }
    });

    test("spaces are isolated: separate feeds, and the same event id in two spaces", async () => {
      const [one, two] = [`${space}-one`, `${space} two/✓`];
      assert.equal((await api.push(one, "s", [event("same-id")])).status, 201);
      assert.deepEqual(await (await api.feed(two)).json(), { head: 0, events: [] });
      const again = await api.push(two, "s", [event("same-id")]);
      assert.equal(again.status, 201, "event ids are unique per space");
      assert.equal((await (await api.feed(one)).json()).head, 1);
      assert.equal((await (await api.feed(two)).json()).head, 1);
    });

    test("concurrent pushes on one base version: exactly one 201, the others 412", async () => {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => api.push(space, "race", [event(`race-${i}`)], { "if-match": '"0"' })),
      );
      const statuses = answers.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 412, 412, 412, 412, 412, 412, 412]);
      const read = await (await api.stream(space, "race")).json();
      assert.equal(read.version, 1);
    });

    test("a full batch of large events, one with non-Latin-1 text near the 100 KiB limit", async () => {
      const large = Array.from({ length: 100 }, (_, i) => event(`large-${i}`, { text: "y".repeat(9000) }));
      assert.equal((await api.push(space, "large", large)).status, 201);
      const near = event("near-limit", { text: "z".repeat(99_000) + "🛒" });
      assert.equal((await api.push(space, "near", [near])).status, 201);
      const read = await (await api.stream(space, "near")).json();
      assert.equal(read.events[0].data.text.length, 99_002);
      // A read answers a page (large events make it short); every event comes back, whole,
      // in order, page after page.
      const events = [];
      let pages = 0;
      for (;;) {
        const page = await (await api.stream(space, "large", `?after=${events.length}&limit=1000`)).json();
        pages += 1;
        assert.equal(page.version, 100);
        events.push(...page.events);
        if (page.events.length === 0 || events.length >= page.version || pages > 100) break;
      }
      assert.deepEqual(events.map((e) => [e.id, e.version, e.data.text.length]), large.map((e, i) => [e.id, i + 1, 9000]),
        `every event of the batch, whole and in order (${pages} pages)`);
    });

    test("CORS: preflight answered, exposed ETag and Retry-After, any origin by default", async () => {
      const preflight = await api.call("OPTIONS", `/v1/${space}/streams/s`, {
        headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "if-match, content-type" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
      assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
      for (const name of ["authorization", "content-type", "if-match", "if-none-match"]) {
        assert.match(preflight.headers.get("access-control-allow-headers").toLowerCase(), new RegExp(name));
      }
      const read = await api.feed(space, "", { origin: ORIGIN });
      assert.equal(read.headers.get("access-control-allow-origin"), "*");
      const exposed = read.headers.get("access-control-expose-headers").toLowerCase();
      assert.match(exposed, /etag/);
      assert.match(exposed, /retry-after/);
      assert.equal(read.headers.get("access-control-allow-origin"), "*");
    });

    test("one JSON log line per request, without the query", async () => {
      await api.feed(space, "?after=0&limit=1&note=secret-query");
      await new Promise((r) => setTimeout(r, 200));
      const lines = server.output().split("\n").filter((l) => l.startsWith("{"));
      const entry = lines.map((l) => JSON.parse(l)).find((e) => e.path === `/v1/${space}/events` && e.method === "GET");
      assert.ok(entry, "a log line for the feed read");
      assert.deepEqual(Object.keys(entry).sort(), ["level", "method", "ms", "path", "status"]);
      assert.ok(!server.output().includes("secret-query"));
    });
  });

  describe(`sync server: ${target} (token, origins, restart)`, () => {
    const dataDir = tempDir();
    const env = { TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: TOKEN, TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: `${ORIGIN}, https://other.example` };
    let server;
    let api;
    const space = "private";

    before(async () => {
      server = await startServer(env, target);
      api = client(server.base, { authorization: `Bearer ${TOKEN}` });
    });
    after(async () => {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("no token and a wrong token: 401 with WWW-Authenticate: Bearer", async () => {
      const anonymous = client(server.base);
      const none = await anonymous.feed(space);
      await expectError(none, 401, "unauthorized");
      assert.match(none.headers.get("www-authenticate"), /^Bearer/);
      for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, "Basic abc", TOKEN, "Bearer"]) {
        const wrong = await anonymous.feed(space, "", { authorization: header });
        await expectError(wrong, 401, "unauthorized");
        assert.match(wrong.headers.get("www-authenticate"), /^Bearer/);
      }
      const push = await anonymous.push(space, "s", [event("nope")]);
      await expectError(push, 401, "unauthorized");
      assert.equal((await api.feed(space)).status, 200);
      assert.deepEqual((await (await api.feed(space)).json()).events, [], "the refused push wrote nothing");
      assert.equal((await api.feed(space, "", { authorization: `bearer ${TOKEN}` })).status, 200, "the scheme is case-insensitive");
    });

    test("a token in the query string is refused, even a right one", async () => {
      for (const param of ["access_token", "token"]) {
        const r = await api.feed(space, `?${param}=${TOKEN}`);
        await expectError(r, 400, "token_in_query");
      }
    });

    test("origins: listed ones get CORS headers, others 403; preflight needs no token", async () => {
      const ok = await api.feed(space, "", { origin: ORIGIN });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("access-control-allow-origin"), ORIGIN);
      assert.match(ok.headers.get("vary"), /Origin/);
      assert.match(ok.headers.get("access-control-expose-headers"), /ETag/);
      const refused = await api.feed(space, "", { origin: "https://evil.example" });
      await expectError(refused, 403, "origin_not_allowed");
      // Readable by the refused origin (issue 18): the app sees why, not a network error.
      assert.equal(refused.headers.get("access-control-allow-origin"), "https://evil.example");
      const anonymous = client(server.base);
      const preflight = await anonymous.call("OPTIONS", `/v1/${space}/events`, {
        headers: { origin: "https://other.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://other.example");
      // A refused origin's preflight passes, so its request follows and gets the readable
      // 403 (a failed preflight would be a bare network error to the page).
      const badPreflight = await anonymous.call("OPTIONS", `/v1/${space}/events`, {
        headers: { origin: "https://evil.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      });
      assert.equal(badPreflight.status, 204);
      assert.equal(badPreflight.headers.get("access-control-allow-origin"), "https://evil.example");
      const noCors = await anonymous.feed(space, "", { origin: ORIGIN });
      assert.equal(noCors.status, 401);
      assert.equal(noCors.headers.get("access-control-allow-origin"), ORIGIN, "errors carry CORS headers too");
    });

    test("the token never reaches the logs", async () => {
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(server.output().includes('"status":401'), "requests were logged");
      assert.ok(!server.output().includes(TOKEN.slice(0, 10)));
    });

    test("restarting the server loses nothing (its storage is on disk)", async () => {
      const streams = ["cart 1", "cart/2", "🛒"];
      for (const [i, stream] of streams.entries()) {
        const events = Array.from({ length: 5 }, (_, j) => event(`keep-${i}-${j}`, { i, j, text: "é🛒".repeat(j) }));
        assert.equal((await api.push(space, stream, events)).status, 201);
      }
      const feedBefore = await (await api.feed(space)).json();
      const streamsBefore = await Promise.all(streams.map(async (s) => (await api.stream(space, s)).json()));
      await server.stop();
      server = await startServer(env, target);
      api = client(server.base, { authorization: `Bearer ${TOKEN}` });
      assert.deepEqual(await (await api.feed(space)).json(), feedBefore);
      for (const [i, stream] of streams.entries()) {
        assert.deepEqual(await (await api.stream(space, stream)).json(), streamsBefore[i]);
      }
      // The id index survived too: a retry is still recognised, and versions continue.
      const retry = await api.push(space, "cart 1", [event("keep-0-0", { i: 0, j: 0, text: "" })], { "if-match": '"0"' });
      assert.equal(retry.status, 200);
      const more = await api.push(space, "cart 1", [event("after-restart")], { "if-match": '"5"' });
      assert.equal(more.status, 201);
      assert.deepEqual(await more.json(), {
        version: 6,
        events: [{ id: "after-restart", version: 6, position: feedBefore.head + 1 }],
      });
    });
  });

  describe(`sync server: ${target} (per-space JWT, TIDELOG_JWT_SECRET)`, () => {
    const dataDir = tempDir();
    const ORIGIN_OK = "https://app.example";
    let server;
    let anonymous;
    const space = "team-42-shop";
    const as = async (claims) => client(server.base, { authorization: `Bearer ${await jwt(claims)}`, origin: ORIGIN_OK });

    let es256; // the private key of TIDELOG_JWT_PUBLIC_JWK

    before(async () => {
      const pair = await generateKeyPair("ES256", { extractable: true });
      es256 = pair.privateKey;
      server = await startServer({
        TIDELOG_DATA_DIR: dataDir,
        TIDELOG_SYNC_TOKEN: TOKEN,
        TIDELOG_JWT_SECRET: JWT_SECRET,
        TIDELOG_JWT_PUBLIC_JWK: JSON.stringify({ ...(await exportJWK(pair.publicKey)), alg: "ES256" }),
        TIDELOG_CORS_ORIGINS: ORIGIN_OK,
      }, target);
      anonymous = client(server.base, { origin: ORIGIN_OK });
    });
    after(async () => {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** A refusal: status, JSON, WWW-Authenticate, and readable by the calling origin. */
    async function refused(response, status, code = status === 401 ? "unauthorized" : "forbidden") {
      await expectError(response, status, code);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer realm="tidelog"/);
      assert.equal(response.headers.get("access-control-allow-origin"), ORIGIN_OK);
    }

    test("a token for the space (exact or by prefix) pushes and reads; sub is logged", async () => {
      const exact = await as({ spaces: [space], sub: "alice@example" });
      assert.equal((await exact.push(space, "s", [event("j1")])).status, 201);
      const prefix = await as({ spaces: ["team-42-*"], sub: "bob" });
      const read = await prefix.feed(space);
      assert.equal(read.status, 200);
      assert.equal(read.headers.get("access-control-allow-origin"), ORIGIN_OK);
      assert.equal((await read.json()).head, 1);
      await new Promise((r) => setTimeout(r, 300));
      const lines = server.output().split("\n").map((l) => l.slice(l.indexOf("{"))).filter((l) => l.startsWith("{"));
      const subs = lines.map((l) => { try { return JSON.parse(l).sub; } catch { return undefined; } }).filter(Boolean);
      assert.ok(subs.includes("alice@example") && subs.includes("bob"), `sub in the log: ${subs}`);
      assert.ok(!server.output().includes(JWT_SECRET));
    });

    test("ES256 tokens verify with TIDELOG_JWT_PUBLIC_JWK beside the HS256 secret; another key pair's do not", async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const signed = (key) => new SignJWT({ exp, spaces: [space], scope: "read" }).setProtectedHeader({ alg: "ES256" }).sign(key);
      const ok = client(server.base, { authorization: `Bearer ${await signed(es256)}`, origin: ORIGIN_OK });
      assert.equal((await ok.feed(space)).status, 200);
      await refused(await ok.push(space, "s", [event("es-nope")], { "if-match": '"1"' }), 403);
      const other = (await generateKeyPair("ES256")).privateKey;
      const forged = client(server.base, { authorization: `Bearer ${await signed(other)}`, origin: ORIGIN_OK });
      await refused(await forged.feed(space), 401);
    });

    test("a valid token for another space: 403, and nothing written", async () => {
      const other = await as({ spaces: ["team-43-*", "shop"] });
      await refused(await other.push(space, "s", [event("nope-1")]), 403);
      await refused(await other.feed(space), 403);
      await refused(await (await as({})).feed(space), 403);
      const owner = await as({ spaces: [space] });
      assert.equal((await (await owner.feed(space)).json()).head, 1);
    });

    test('scope "read": GET and HEAD only, a POST is 403', async () => {
      const reader = await as({ spaces: [space], scope: "read" });
      assert.equal((await reader.feed(space)).status, 200);
      assert.equal((await reader.call("HEAD", `/v1/${space}/events`)).status, 200);
      await refused(await reader.push(space, "s", [event("nope-2")], { "if-match": '"1"' }), 403);
      const writer = await as({ spaces: [space], scope: "write" });
      assert.equal((await writer.push(space, "s", [event("j2")], { "if-match": '"1"' })).status, 201);
    });

    test("expired, missing exp, not yet valid, unsigned (alg none), tampered, another key, malformed, oversized: 401", async () => {
      const now = Math.floor(Date.now() / 1000);
      const good = await jwt({ spaces: [space] });
      const [h, p, s] = good.split(".");
      const widened = base64url.encode(JSON.stringify({ exp: now + 3600, spaces: ["*"] }));
      const noExp = await new SignJWT({ spaces: [space] }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(JWT_SECRET));
      const tokens = {
        expired: await jwt({ spaces: [space], exp: now - 60 }),
        noExp,
        notYet: await jwt({ spaces: [space], nbf: now + 3600 }),
        unsigned: `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${p}.`,
        tampered: `${h}.${widened}.${s}`,
        otherKey: await jwt({ spaces: [space] }, "another-secret-0123456789abcdef-xyz"),
        malformed: "abc.def",
        oversized: `${h}.${"A".repeat(9000)}.${s}`,
        sharedToken: TOKEN,
      };
      for (const [kind, token] of Object.entries(tokens)) {
        const api = client(server.base, { authorization: `Bearer ${token}`, origin: ORIGIN_OK });
        const r = await api.push(space, "s", [event(`bad-${kind}`)], { "if-match": '"2"' });
        assert.ok(r.status < 500, `${kind}: never a 5xx`);
        await refused(r, 401);
        assert.match(r.headers.get("www-authenticate"), /invalid_token/, kind);
      }
      await refused(await anonymous.feed(space), 401);
      const owner = await as({ spaces: [space] });
      assert.equal((await (await owner.feed(space)).json()).head, 2, "no refused push wrote anything");
    });

    test("a disallowed origin: 403 readable by it; a preflight needs no token", async () => {
      const evil = client(server.base, { authorization: `Bearer ${await jwt({ spaces: [space] })}`, origin: "https://evil.example" });
      const r = await evil.feed(space);
      await expectError(r, 403, "origin_not_allowed");
      assert.equal(r.headers.get("access-control-allow-origin"), "https://evil.example");
      const preflight = await anonymous.call("OPTIONS", `/v1/${space}/streams/s`, {
        headers: { "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, if-match" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN_OK);
    });
  });
}

describe("workerd: a space written through the key-value API, then served from SQL", () => {
  const dataDir = tempDir();
  const env = { TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: "", TIDELOG_JWT_SECRET: "", TIDELOG_CORS_ORIGINS: "" };
  let server;
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("is copied into the SQL tables once: same reads, retries recognised, versions go on", async () => {
    server = await startServer(env, "workerd-kv");
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

    server = await startServer(env, "workerd");
    api = client(server.base);
    assert.deepEqual(await (await api.feed("upgrade", "?limit=1000")).json(), feedBefore);
    assert.deepEqual(await (await api.stream("upgrade", "cart/2", "?limit=1000")).json(), streamBefore);
    const retry = await api.push("upgrade", "🛒", [event("kv-2-0-0", { i: 2, b: 0, j: 0, text: "" })], { "if-match": '"0"' });
    assert.equal(retry.status, 200, "the id index came along");
    const next = await api.push("upgrade", "🛒", [event("after-upgrade")], { "if-match": '"300"' });
    assert.deepEqual(await next.json(), { version: 301, events: [{ id: "after-upgrade", version: 301, position: 901 }] });
    await server.stop();

    // The copy ran once: a later start serves the SQL tables (with the new event) ...
    server = await startServer(env, "workerd");
    assert.equal((await (await client(server.base).feed("upgrade")).json()).head, 901);
    await server.stop();
    // ... and they are not the key-value entries, which stay as the copy found them.
    server = await startServer(env, "workerd-kv");
    assert.equal((await (await client(server.base).feed("upgrade")).json()).head, 900);
  });
});
