// answerSpace and readBody (js/space_answer.js) without wasm: the request the core sees
// and the Response built from its answer, with a core written here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { answerSpace, readBody } from "./space_answer.js";
import { MAX_BODY_BYTES } from "./front.js";

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

test("readBody reads at most 1 MiB + 1 byte of a longer streamed body", async () => {
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
  assert.ok(sent < 8, "it stopped reading");
  assert.equal(body[MAX_BODY_BYTES], 7);
});
