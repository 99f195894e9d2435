// answerSpace and readBody (js/space_answer.js) without wasm: the request the core sees
// and the Response built from its answer, with a core written here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { answerSpace, readBody } from "./space_answer.js";
import { DISCARD_BODY_BYTES, MAX_BODY_BYTES, withDate } from "./front.js";

const json = (status, value, headers = []) => ({
  status,
  headers: [["content-type", "application/json"], ...headers],
  body: new TextEncoder().encode(JSON.stringify(value)),
});

test("the core gets method, path with query, headers and body; its answer becomes the Response", async () => {
  let seen;
  const request = new Request("http://x/v1/shop/streams/a%2Fb?after=3", {
    method: "POST", headers: { "if-match": '"3"', "content-type": "application/json" }, body: '{"events":[]}',
  });
  const response = await answerSpace(request, "/v1/shop", async (core, options) => {
    seen = { ...core, body: new TextDecoder().decode(core.body), options };
    return json(201, { version: 4 }, [["etag", '"4"']]);
  });
  assert.equal(seen.method, "POST");
  assert.equal(seen.path, "/v1/shop/streams/a%2Fb?after=3");
  assert.deepEqual(new Map(seen.headers).get("if-match"), '"3"');
  assert.equal(seen.body, '{"events":[]}');
  assert.deepEqual(seen.options, { basePath: "/v1/shop" });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("etag"), '"4"');
  assert.deepEqual(await response.json(), { version: 4 });
});

test("HEAD: the core answers the GET; no body, the GET's Content-Length; 304 and 204 have no body", async () => {
  const methods = [];
  const core = async (request) => {
    methods.push(request.method);
    return json(200, { head: 1, events: [] });
  };
  const head = await answerSpace(new Request("http://x/v1/s/events", { method: "HEAD" }), "/v1/s", core);
  assert.deepEqual(methods, ["GET"]);
  assert.equal(head.headers.get("content-length"), String(JSON.stringify({ head: 1, events: [] }).length));
  assert.equal(await head.text(), "");
  for (const status of [304, 204]) {
    const answer = await answerSpace(new Request("http://x/v1/s/events"), "/v1/s", async () => ({ status, headers: [["etag", '"1"']], body: new Uint8Array() }));
    assert.equal(answer.status, status);
    assert.equal(answer.body, null);
  }
});

test("readBody keeps at most 1 MiB + 1 byte of a longer streamed body, and reads the rest away up to a bound", async () => {
  assert.equal((await readBody(new Request("http://x/", { method: "GET" }))).length, 0);
  const chunk = new Uint8Array(256 * 1024).fill(7);
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= 8) return controller.close();
      sent++;
      controller.enqueue(chunk);
    },
  });
  const body = await readBody(new Request("http://x/", { method: "POST", body: stream, duplex: "half" }));
  assert.equal(body.length, MAX_BODY_BYTES + 1);
  assert.equal(sent, 8, "it read the whole 2 MiB (so the client gets its 413, not a reset)");
  assert.equal(body[MAX_BODY_BYTES], 7);
  // An endless body: read and thrown away up to DISCARD_BODY_BYTES, then cancelled.
  let endless = 0;
  let cancelled = false;
  const forever = new ReadableStream({
    pull(controller) {
      endless += chunk.length;
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  const cut = await readBody(new Request("http://x/", { method: "POST", body: forever, duplex: "half" }));
  assert.equal(cut.length, MAX_BODY_BYTES + 1);
  assert.ok(cancelled, "cancelled past the bound");
  assert.ok(endless > DISCARD_BODY_BYTES && endless < DISCARD_BODY_BYTES + 4 * MAX_BODY_BYTES, `read ${endless} bytes`);
});

test("withDate: a Date header in HTTP-date form, kept when there is one", async () => {
  const dated = withDate(new Response("x", { status: 201, headers: { etag: '"1"' } }), Date.UTC(2026, 11, 2, 15, 4, 5));
  assert.equal(dated.headers.get("date"), "Wed, 02 Dec 2026 15:04:05 GMT");
  assert.equal(dated.status, 201);
  assert.equal(dated.headers.get("etag"), '"1"');
  assert.equal(await dated.text(), "x");
  const own = new Response(null, { status: 204, headers: { date: "Thu, 01 Jan 2026 00:00:00 GMT" } });
  assert.equal(withDate(own).headers.get("date"), "Thu, 01 Jan 2026 00:00:00 GMT");
});
