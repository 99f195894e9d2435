// Reliability and security of tidelog against the real sync worker in workerd
// (docs/reliability.md): crash consistency (CDP Page.crash mid-burst and mid-sync:
// Chromium), four tabs racing with sync on (one leader, hand-over), storage faults (quota
// with sync: Chromium; a database deleted by another tab), the client keeping its token
// to itself (Chromium, Firefox, WebKit), then a catalogue of malformed requests to the
// worker, auth/CORS/injection, and the worker's log free of secrets. Loopback only.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, startProxy, engineSuites, openPage, waitUntil } from "./harness.mjs";
import { badInputCatalogue, rawRequest } from "./catalogue.mjs";

const TOKEN = "rel-s3cret-Zq8wX1-token";
let server, dataDir;

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "tidelog-rel-"));
  server = await startServer({ TIDELOG_DATA_DIR: dataDir, TIDELOG_SYNC_TOKEN: TOKEN, TIDELOG_CORS_ORIGINS: "" });
});

after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const unique = (name) => `rel-${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const auth = { authorization: `Bearer ${TOKEN}` };

function segment(id) {
  return encodeURIComponent(id).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** GET on the worker with the token; returns the parsed body. */
async function serverGet(url) {
  const response = await fetch(`${server.base}${url}`, { headers: auth });
  assert.equal(response.status, 200, `GET ${url}`);
  return response.json();
}
/** Every event of a stream on the server (paged: a read returns at most 1000). */
async function serverStream(space, stream) {
  const events = [];
  for (;;) {
    const page = await serverGet(`/v1/${segment(space)}/streams/${segment(stream)}?after=${events.length}&limit=1000`);
    events.push(...page.events);
    if (page.events.length === 0 || events.length >= page.version) return events;
  }
}
const serverFeed = async (space) => serverGet(`/v1/${segment(space)}/events?after=0&limit=1000`);

/** A page of the origin with a store `name` syncing to `space` (`window.store`). */
async function device(context, name, space, sync = {}, base = server.base) {
  const page = await openPage(context, `${base}/pkg/package.json`);
  await page.evaluate(async ({ name, sync }) => {
    const tidelog = await import("/pkg/tidelog.js");
    await tidelog.default();
    window.tidelog = tidelog;
    window.store = await tidelog.EventStore.open(name, { sync });
  }, { name, sync: { url: `${base}/v1/${space}`, token: TOKEN, pollMs: 60_000, timeoutMs: 2_000, ...sync } });
  return page;
}

/** Runs sync rounds in `page` until nothing is pending (bounded). */
async function syncUntilDrained(page, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await page.evaluate(() => store.sync.now());
    if (status.pendingCount === 0) return status;
    if (Date.now() > deadline) throw new Error(`still pending: ${JSON.stringify(status)}`);
    await sleep(250);
  }
}

/** Crashes the page's renderer through the DevTools protocol (Chromium) and waits for it. */
async function crash(context, page) {
  const crashed = new Promise((r) => page.chromium.once("crash", r));
  const cdp = await context.chromium.newCDPSession(page.chromium);
  cdp.send("Page.crash").catch(() => {});
  await crashed;
  await page.close().catch(() => {});
}

function assertExactlyOnce(events, label) {
  const ids = events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, `${label}: duplicate ids`);
  assert.deepEqual(events.map((e) => e.version), events.map((_, i) => i + 1), `${label}: versions contiguous`);
}

// The browser tests, in each engine.
engineSuites("reliability", (suite) => {
  const { test } = suite;
  suite.expectTests(6);

  describe("crash consistency", () => {
    test("a renderer crash in the middle of a burst of appends: every acknowledged append is there, no partial batch, no duplicates on the server", {
      needs: ["chromium"], reason: "a renderer crash is caused through the DevTools protocol (Page.crash)",
    }, async () => {
      const context = await suite.browser.newContext();
      const space = unique("crash-burst");
      const name = unique("db");
      const page = await device(context, name, space);
      const acked = new Set();
      await page.chromium.exposeFunction("acked", (i) => acked.add(i));
      // 3 events per batch, appended back to back; each resolved batch is reported out.
      page.evaluate(async () => {
        for (let i = 0; i < 20_000; i++) {
          await store.append("burst", [0, 1, 2].map((j) => ({ id: `b${i}-${j}`, type: "N", data: { i, j } })));
          window.acked(i);
        }
      }).catch(() => {});
      await waitUntil(() => acked.size >= 40, { timeout: 20_000, interval: 5, what: "40 acknowledged batches" });
      await crash(context, page);
      const seenAcked = new Set(acked);
      const again = await device(context, name, space);
      const local = await again.evaluate(async () => (await store.read("burst")).map((e) => ({ id: e.id, version: e.version, i: e.data.i })));
      assertExactlyOnce(local, "local");
      const perBatch = new Map();
      for (const e of local) perBatch.set(e.i, (perBatch.get(e.i) ?? 0) + 1);
      for (const [i, n] of perBatch) assert.equal(n, 3, `batch ${i} is whole (${n} of 3)`);
      for (const i of seenAcked) assert.ok(perBatch.has(i), `acknowledged batch ${i} survived the crash`);
      assert.ok(local.length < 60_000, "the crash did stop the burst");
      console.log(`crash mid-burst: ${seenAcked.size} batches acknowledged before the crash, ${local.length / 3} batches found after it, all whole`);
      await syncUntilDrained(again);
      const remote = await serverStream(space, "burst");
      assertExactlyOnce(remote, "server");
      assert.deepEqual(remote.map((e) => e.id), local.map((e) => e.id), "the server holds exactly the local log");
      await context.close();
    });

    test("a renderer crash in the middle of a sync (one POST applied but unanswered, one never sent): the outbox resumes, nothing twice", {
      needs: ["chromium"], reason: "a renderer crash is caused through the DevTools protocol (Page.crash)",
    }, async () => {
      const context = await suite.browser.newContext();
      const space = unique("crash-sync");
      const name = unique("db");
      const page = await device(context, name, space, { timeoutMs: 500 });
      let stalled = 0;
      // POSTs stall forever; the one to stream "applied" reaches the server first.
      await page.chromium.route("**/v1/**/streams/**", async (route) => {
        if (route.request().method() !== "POST") return route.continue();
        if (route.request().url().includes("/streams/applied")) await route.fetch().catch(() => {});
        stalled += 1;
        await new Promise(() => {});
      });
      await page.evaluate(async () => {
        await store.sync.pause();
        await store.append("applied", [{ id: "ap-1", type: "N", data: 1 }, { id: "ap-2", type: "N", data: 2 }]);
        await store.append("unsent", [{ id: "un-1", type: "N", data: 1 }]);
        store.sync.resume();
        store.sync.now();
      });
      await waitUntil(() => stalled >= 2, { timeout: 5_000, what: "both pushes in flight" });
      assert.equal(stalled, 2, "both pushes were in flight");
      assert.equal((await serverStream(space, "applied")).length, 2, "the server applied the first batch");
      await crash(context, page);
      const again = await device(context, name, space, { timeoutMs: 500 });
      // The outbox survived the crash: it is still pending, or the new tab (which takes the
    // lock and voids the dead tab's lease) already sent "un-1", which only it held.
    const pending = await again.evaluate(async () => (await store.sync.outbox()).length > 0);
    const resent = (await serverStream(space, "unsent")).some((e) => e.id === "un-1");
    assert.ok(pending || resent, "the outbox survived the crash");
      // The crashed tab's lease (timeoutMs + 5 s) runs out, then the new leader resends.
      await syncUntilDrained(again, 20_000);
      for (const [stream, ids] of [["applied", ["ap-1", "ap-2"]], ["unsent", ["un-1"]]]) {
        const remote = await serverStream(space, stream);
        assert.deepEqual(remote.map((e) => e.id), ids, `${stream}: exactly once on the server`);
        const local = await again.evaluate(async (s) => (await store.read(s)).map((e) => e.id), stream);
        assert.deepEqual(local, ids);
      }
      await context.close();
    });
  });

  test("four tabs append to the same streams with expected versions, sync on: contiguous, no duplicates, losers told, one leader at a time", async () => {
    const context = await suite.browser.newContext();
    const space = unique("tabs");
    const name = unique("db");
    const pages = [];
    for (let t = 0; t < 4; t++) pages.push(await device(context, name, space, { pollMs: 500 }));
    const runs = await Promise.all(pages.map((page, tab) => page.evaluate(async (tab) => {
      const out = { ok: 0, conflicts: 0, other: [] };
      for (let k = 0; k < 15; k++) {
        const stream = `shared-${k % 2}`;
        const version = await store.version(stream);
        await new Promise((r) => setTimeout(r, Math.random() * 4));
        try {
          await store.append(stream, [{ id: `t${tab}-${k}`, type: "Claimed", data: { tab, k } }], { expectedVersion: version });
          out.ok += 1;
        } catch (e) {
          if (e.name === "VersionConflictError") out.conflicts += 1;
          else out.other.push(e.name);
        }
      }
      return out;
    }, tab)));
    const ok = runs.reduce((n, r) => n + r.ok, 0);
    const conflicts = runs.reduce((n, r) => n + r.conflicts, 0);
    assert.deepEqual(runs.flatMap((r) => r.other), [], "only conflicts fail");
    assert.equal(ok + conflicts, 60);
    assert.ok(conflicts > 0, "concurrent appends with the same expected version: the losers were told");
    const leaders = async (list) => (await Promise.all(list.map((p) => p.evaluate(() => store.sync.status().leader)))).filter(Boolean).length;
    assert.equal(await leaders(pages), 1, "exactly one tab holds the sync lock");
    const leaderIndex = (await Promise.all(pages.map((p) => p.evaluate(() => store.sync.status().leader)))).indexOf(true);
    await syncUntilDrained(pages[leaderIndex]);
    let local = [];
    for (const stream of ["shared-0", "shared-1"]) {
      const events = await pages[0].evaluate(async (s) => (await store.read(s)).map((e) => ({ id: e.id, version: e.version })), stream);
      assertExactlyOnce(events, stream);
      const remote = await serverStream(space, stream);
      assert.deepEqual(remote.map((e) => e.id), events.map((e) => e.id), `${stream}: the server holds the local order`);
      local = local.concat(events);
    }
    assert.equal(local.length, ok, "every successful append, once");
    // The leader closes: another tab takes the lock, and only one.
    await pages[leaderIndex].close();
    const rest = pages.filter((_, i) => i !== leaderIndex);
    let count = 0;
    for (let i = 0; i < 50 && count !== 1; i++) {
      await sleep(100);
      count = await leaders(rest);
    }
    assert.equal(count, 1, "the lock was handed over to exactly one tab");
    const heir = rest[(await Promise.all(rest.map((p) => p.evaluate(() => store.sync.status().leader)))).indexOf(true)];
    await heir.evaluate(() => store.append("after-handover", [{ id: "h-1", type: "N", data: 1 }]));
    await syncUntilDrained(heir);
    assert.deepEqual((await serverStream(space, "after-handover")).map((e) => e.id), ["h-1"]);
    await context.close();
  });

  describe("storage faults", () => {
    test("quota exceeded with sync on: QuotaExceededError, nothing partial, what was stored still syncs", {
      needs: ["chromium"], reason: "a per-origin quota is set through the DevTools protocol (Storage.overrideQuotaForOrigin)",
    }, async () => {
      const context = await suite.browser.newContext();
      const space = unique("quota");
      const page = await openPage(context, `${server.base}/pkg/package.json`);
      const cdp = await context.chromium.newCDPSession(page.chromium);
      const origin = new URL(server.base).origin;
      await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 1024 * 1024 });
      const out = await page.evaluate(async ({ name, url, token }) => {
        const tidelog = await import("/pkg/tidelog.js");
        await tidelog.default();
        window.store = await tidelog.EventStore.open(name, { sync: { url, token, pollMs: 60_000, timeoutMs: 2_000 } });
        await store.append("s", [{ id: "small-1", type: "Small", data: 1 }, { id: "small-2", type: "Small", data: 2 }]);
        // About 80 KB each: under the 100 KiB event limit a syncing store enforces, 3 MB in all.
        const noise = () => Array.from(crypto.getRandomValues(new Uint32Array(12_000)), (n) => n.toString(36)).join("");
        try {
          await store.append("s", Array.from({ length: 40 }, (_, i) => ({ type: "Big", data: { i, noise: noise() } })));
          return { error: null };
        } catch (e) {
          return { error: e.name, version: await store.version("s"), pending: (await store.sync.outbox()).reduce((n, p) => n + p.pendingCount, 0) };
        }
      }, { name: unique("db"), url: `${server.base}/v1/${space}`, token: TOKEN });
      assert.equal(out.error, "QuotaExceededError");
      assert.equal(out.version, 2, "no partial batch");
      assert.ok(out.pending <= 2, "nothing of the failed batch is in the outbox");
      // While the origin is still over its quota (Chromium does not give back the space of
      // the aborted transaction at once) sync cannot write its bookkeeping: it must say so,
      // keep everything, and go on once space is back.
      const full = await page.evaluate(async () => ({ status: await store.sync.now(), estimate: await navigator.storage.estimate() }));
      if (full.status.pendingCount > 0) {
        assert.match(full.status.lastError?.message ?? "", /quota/i, `the failure is reported (${JSON.stringify(full)})`);
        assert.equal(full.status.pendingCount, 2, "nothing lost meanwhile");
        console.log(`quota: origin still at ${full.estimate.usage} of ${full.estimate.quota} bytes after the aborted batch; sync reports "${full.status.lastError.message}" and waits`);
        await cdp.send("Storage.overrideQuotaForOrigin", { origin });
      } else {
        // The origin had room again at once: the round went through, and says so.
        assert.equal(full.status.lastError, null, `nothing pending, no error (${JSON.stringify(full)})`);
        console.log(`quota: origin at ${full.estimate.usage} of ${full.estimate.quota} bytes after the aborted batch; the sync round went through`);
      }
      await syncUntilDrained(page);
      assert.deepEqual((await serverStream(space, "s")).map((e) => e.id), ["small-1", "small-2"]);
      assert.equal(await page.evaluate(() => store.version("s")), 2);
      await cdp.send("Storage.overrideQuotaForOrigin", { origin });
      await context.close();
    });

    test("the database deleted by another tab: the delete is not blocked, the store answers ClosedError or works, nothing hangs", async () => {
      const context = await suite.browser.newContext();
      const space = unique("deleted");
      const name = unique("db");
      const a = await device(context, name, space);
      const b = await openPage(context, `${server.base}/pkg/package.json`);
      await a.evaluate(async () => {
        window.closedReasons = [];
        store.on("closed", (event) => closedReasons.push(event.reason));
        await store.append("s", [{ id: "d-1", type: "N", data: 1 }]);
        await store.sync.now();
      });
      const deleted = await b.evaluate((name) => new Promise((resolve) => {
        const request = indexedDB.deleteDatabase(name);
        let blocked = false;
        request.onblocked = () => { blocked = true; };
        request.onsuccess = () => resolve({ ok: true, blocked });
        request.onerror = () => resolve({ ok: false, error: String(request.error) });
        setTimeout(() => resolve({ ok: false, timeout: true, blocked }), 5000);
      }), name);
      assert.deepEqual(deleted, { ok: true, blocked: false }, "the open store stepped aside");
      const after = await a.evaluate(async () => {
        const within = (p) => Promise.race([p.then((value) => ({ outcome: "ok", value }), (e) => ({ outcome: e.name })),
          new Promise((r) => setTimeout(() => r({ outcome: "hang" }), 4000))]);
        const append = await within(store.append("s", [{ id: "d-2", type: "N", data: 2 }]));
        const read = await within(store.read("s"));
        const sync = await within(store.sync.now());
        return {
          reasons: closedReasons, append: append.outcome, read: read.outcome, sync: sync.outcome,
          readIds: read.value?.map((e) => `${e.id}@${e.version}`), pending: sync.value?.pendingCount,
        };
      });
      for (const op of ["append", "read"]) {
        assert.ok(["ok", "ClosedError"].includes(after[op]), `${op}: ${after[op]}`);
      }
      // The store heard why it closed, and its sync settles with ClosedError (never hangs).
      assert.deepEqual(after.reasons, ["deleted"]);
      assert.equal(after.sync, "ClosedError");
      // What survived, read back by a fresh store in the other tab: the deleted database
      // is gone for good (d-1 with it); an append the first store said was done is there.
      const survived = await b.evaluate(async (name) => {
        const tidelog = await import("/pkg/tidelog.js");
        await tidelog.default();
        const store = await tidelog.EventStore.open(name);
        const ids = (await store.read("s")).map((e) => `${e.id}@${e.version}`);
        store.close();
        return ids;
      }, name);
      assert.deepEqual(survived, after.append === "ok" ? ["d-2@1"] : [], `what survived the delete (the first store answered ${JSON.stringify(after)})`);
      if (after.read === "ok") assert.deepEqual(after.readIds, survived, "the first store reads what is stored");
      console.log(`deleted database in ${suite.engine}: append ${after.append}, read ${after.read}, sync ${after.sync}; afterwards the log holds ${JSON.stringify(survived)}`);
      assert.deepEqual((await serverStream(space, "s")).map((e) => e.id), ["d-1"], "nothing odd reached the server");
      await context.close();
    });
  });

  test("secrets: the client keeps the token out of IndexedDB, web storage, cookies and URLs, and sends it in the header", async () => {
    // Every request of the page goes through the proxy, which sees what the engine sends.
    const net = await startProxy(server.base);
    const urls = [];
    let withAuth = 0;
    net.route("/**", (route) => {
      urls.push(route.request().url());
      if (route.request().headers().authorization === `Bearer ${TOKEN}`) withAuth += 1;
      return route.continue();
    });
    const context = await suite.browser.newContext();
    const name = unique("secret");
    const page = await device(context, name, unique("secret-space"), {}, net.base);
    await page.evaluate(async () => {
      await store.append("s", [{ type: "N", data: 1 }]);
      await store.sync.now();
    });
    await syncUntilDrained(page);
    const dump = await page.evaluate(async (names) => {
      const out = [];
      for (const name of names) {
        const db = await new Promise((resolve, reject) => {
          const r = indexedDB.open(name);
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        for (const storeName of db.objectStoreNames) {
          const rows = await new Promise((resolve, reject) => {
            const r = db.transaction(storeName).objectStore(storeName).getAll();
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          });
          const keys = await new Promise((resolve) => {
            const r = db.transaction(storeName).objectStore(storeName).getAllKeys();
            r.onsuccess = () => resolve(r.result);
          });
          out.push(JSON.stringify({ name, storeName, rows, keys }, (_, v) => (typeof v === "bigint" ? String(v) : v)));
        }
        db.close();
      }
      // indexedDB.databases() where the engine has it (not every one does): any other database too.
      const listed = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [];
      return { dump: out.join("\n"), listed, storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }), cookies: document.cookie };
    }, [name]);
    assert.ok(dump.dump.length > 100, "IndexedDB was read");
    assert.ok(dump.listed.every((n) => n === name), `no other database: ${dump.listed}`);
    assert.ok(!dump.dump.includes(TOKEN), "no token in IndexedDB");
    assert.ok(!dump.storage.includes(TOKEN) && !dump.cookies.includes(TOKEN), "nor in web storage or cookies");
    const syncUrls = urls.filter((u) => u.includes("/v1/"));
    assert.ok(syncUrls.length >= 2 && withAuth >= 2, `the sync requests carried the header (${withAuth}/${syncUrls.length})`);
    assert.equal(withAuth, syncUrls.length, "every sync request carried it");
    assert.deepEqual(urls.filter((u) => u.includes(TOKEN) || decodeURIComponent(u).includes(TOKEN)), [], "no token in any URL");
    await context.close();
    await net.stop();
  });
});


/** A raw HTTP/1.1 request to the server (tests/js/catalogue.mjs). */
const raw = (method, target, options) => rawRequest(server.port, method, target, options);

describe("server API: bad input catalogue and security", () => {
  const space = unique("bad");
  const bodies = [];
  let catalogueSize = 0;

  before(async () => {
    const response = await fetch(`${server.base}/v1/${space}/streams/s`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", "if-none-match": "*" },
      body: JSON.stringify({ events: [{ id: "seed-1", type: "T", data: 1, recordedAt: 1 }] }),
    });
    assert.equal(response.status, 201);
  });

  test("malformed requests to the real worker: each a 4xx, none 5xx, none writes", async () => {
    const cases = badInputCatalogue(space, auth);
    const results = {};
    const entries = Object.entries(cases);
    for (let i = 0; i < entries.length; i += 8) {
      const slice = entries.slice(i, i + 8);
      const answers = await Promise.all(slice.map(([, c]) => raw(c.method, c.target, c)));
      slice.forEach(([label], j) => (results[label] = answers[j]));
    }
    const bad = Object.entries(results).filter(([, r]) => !(r.status >= 400 && r.status < 500));
    assert.deepEqual(bad.map(([label, r]) => `${label}: ${r.status} ${r.body.slice(0, 120)}`), [], "every malformed request gets a 4xx");
    for (const r of Object.values(results)) bodies.push(r.body);
    const feed = await serverFeed(space);
    assert.deepEqual(feed.events.map((e) => e.id), ["seed-1"], "nothing was written");
    catalogueSize = entries.length;
    const byStatus = {};
    for (const r of Object.values(results)) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    console.log(`bad-input catalogue (server API): ${catalogueSize} malformed requests, all 4xx (${JSON.stringify(byStatus)}), 0 x 5xx, 0 writes`);
    assert.ok(catalogueSize >= 30);
  });

  test("auth: no token, wrong token, token in the query or in a cookie are refused", async () => {
    const target = `/v1/${space}/events`;
    const cases = {
      "no token": [target, {}],
      "wrong token": [target, { authorization: "Bearer nope" }],
      "Basic scheme": [target, { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}` }],
      "token with a suffix": [target, { authorization: `Bearer ${TOKEN}x` }],
      "token prefix": [target, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      "token in a cookie": [target, { cookie: `token=${TOKEN}; access_token=${TOKEN}` }],
      "token in the query (access_token)": [`${target}?access_token=${TOKEN}`, {}],
      "token in the query, header too": [`${target}?token=${TOKEN}`, auth],
    };
    const out = {};
    for (const [label, [url, headers]] of Object.entries(cases)) {
      const response = await fetch(`${server.base}${url}`, { headers });
      const body = await response.text();
      bodies.push(body);
      out[label] = response.status;
    }
    assert.deepEqual(out, {
      "no token": 401, "wrong token": 401, "Basic scheme": 401, "token with a suffix": 401, "token prefix": 401,
      "token in a cookie": 401, "token in the query (access_token)": 400, "token in the query, header too": 400,
    });
    assert.equal((await fetch(`${server.base}${target}`, { headers: auth })).status, 200);
  });

  test("stream and space ids cannot reach other keys: odd ids are stored and read back exactly", async () => {
    const odd = ["a/b", "../s", "%2F", "s%00", "__proto__", "constructor", "s:1", "e/1", "s\\..\\x", " s ", "💥/..", "a?b#c"];
    for (const [i, stream] of odd.entries()) {
      const response = await fetch(`${server.base}/v1/${segment(space)}/streams/${segment(stream)}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "if-none-match": "*" },
        body: JSON.stringify({ events: [{ id: `odd-${i}`, type: "T", data: stream, recordedAt: 1 }] }),
      });
      assert.equal(response.status, 201, `push to ${JSON.stringify(stream)}`);
    }
    for (const [i, stream] of odd.entries()) {
      assert.deepEqual((await serverStream(space, stream)).map((e) => [e.id, e.stream, e.data]), [[`odd-${i}`, stream, stream]], JSON.stringify(stream));
    }
    assert.deepEqual((await serverStream(space, "s")).map((e) => e.id), ["seed-1"], "stream s untouched");
    const feed = await serverFeed(space);
    assert.deepEqual(feed.events.map((e) => e.stream), ["s", ...odd]);
    // Space ids: "x/../y"-like spaces are their own spaces.
    const spaceA = `${space}/../other`;
    const push = await fetch(`${server.base}/v1/${segment(spaceA)}/streams/s`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", "if-none-match": "*" },
      body: JSON.stringify({ events: [{ id: "space-a", type: "T", data: 1, recordedAt: 1 }] }),
    });
    assert.equal(push.status, 201);
    assert.deepEqual((await serverFeed(spaceA)).events.map((e) => e.id), ["space-a"]);
    assert.deepEqual((await serverFeed("other")).events.map((e) => e.id), [], "space 'other' untouched");
    assert.deepEqual((await serverFeed(space)).events.length, 1 + odd.length, "this space untouched");
  });

  test("CORS: with origins configured, an unknown origin is refused (its preflight passes so its request reads the 403); a known one is let in", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "tidelog-rel-cors-"));
    const cors = await startServer({ TIDELOG_DATA_DIR: dir, TIDELOG_SYNC_TOKEN: TOKEN, TIDELOG_CORS_ORIGINS: "https://app.example, https://other.example" });
    try {
      const target = `${cors.base}/v1/cors-space/events`;
      const evil = await fetch(target, { headers: { ...auth, origin: "https://evil.example" } });
      assert.equal(evil.status, 403);
      // Readable by the refused origin (issue 18: every refusal carries the CORS headers
      // its caller needs, so the app sees "origin_not_allowed", not a network error).
      assert.equal(evil.headers.get("access-control-allow-origin"), "https://evil.example");
      assert.equal((await evil.json()).error, "origin_not_allowed");
      // Its preflight passes (204), so the page's request is sent and reads the 403
      // above instead of failing as a bare network error; nothing else is let through.
      const preflight = await fetch(target, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://evil.example");
      const evilPush = await fetch(`${cors.base}/v1/cors-space/streams/s`, {
        method: "POST",
        headers: { ...auth, origin: "https://evil.example", "content-type": "application/json", "if-none-match": "*" },
        body: JSON.stringify({ events: [{ id: "evil-1", type: "T", data: 1, recordedAt: 1 }] }),
      });
      assert.equal(evilPush.status, 403, "the request after the preflight is refused");
      const stored = await fetch(target, { headers: auth });
      assert.equal((await stored.json()).events.length, 0, "nothing written");
      const lookalike = await fetch(target, { headers: { ...auth, origin: "https://app.example.evil.example" } });
      assert.equal(lookalike.status, 403);
      const nullOrigin = await fetch(target, { headers: { ...auth, origin: "null" } });
      assert.equal(nullOrigin.status, 403);
      const good = await fetch(target, { headers: { ...auth, origin: "https://app.example" } });
      assert.equal(good.status, 200);
      assert.equal(good.headers.get("access-control-allow-origin"), "https://app.example");
      const goodPreflight = await fetch(target, { method: "OPTIONS", headers: { origin: "https://other.example", "access-control-request-method": "POST" } });
      assert.equal(goodPreflight.status, 204);
      assert.match(goodPreflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
      assert.ok(!cors.output().includes(TOKEN), "no token in this server's log");
    } finally {
      await cors.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("secrets: never in the worker's log or an error body", async () => {
    // Everything above sent the token (right, wrong, in the query, in cookies; the
    // browsers' syncs ran before): the worker's log and every error body stay clean.
    const log = server.output();
    assert.ok(log.includes('"status":401') && log.includes('"status":400'), "the log saw those requests");
    assert.ok(!log.includes(TOKEN), "no token in workerd's output");
    assert.ok(!log.includes(TOKEN.slice(0, 12)), "not even a prefix");
    assert.deepEqual(bodies.filter((b) => b.includes(TOKEN)), [], "no token in an error body");
  });
});
