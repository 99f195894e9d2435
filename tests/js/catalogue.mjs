// The bad-input catalogue: malformed requests every sync server must answer with a 4xx,
// writing nothing (tests/js/reliability.test.mjs against workerd; tests/js/selfhost.test.mjs
// compares every server's answers with the worker's), and the raw HTTP/1.1 client that
// sends them without URL normalisation.
import { request as httpRequest } from "node:http";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A raw HTTP/1.1 request to 127.0.0.1:`port` (no URL normalisation); `chunks` trickle with `delayMs` between. */
export function rawRequest(port, method, target, { headers = {}, chunks = [], delayMs = 0 } = {}) {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path: target, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (e) => resolve({ status: 0, body: String(e.code ?? e) }));
    (async () => {
      for (const chunk of chunks) {
        req.write(chunk);
        if (delayMs) await sleep(delayMs);
      }
      req.end();
    })();
  });
}

/**
 * The catalogue for `space` (its stream `s` must hold one event, `seed-1`, at version 1),
 * sent with the `auth` headers: label -> { method, target, headers, chunks, delayMs }.
 */
export function badInputCatalogue(space, auth) {
  const json = { ...auth, "content-type": "application/json" };
  const ev = (over = {}) => ({ id: `x-${Math.random()}`, type: "T", data: 1, recordedAt: 1, ...over });
  const push = (events, headers = { "if-match": '"1"' }) => ({ method: "POST", target: `/v1/${space}/streams/s`, headers: { ...json, ...headers }, chunks: [typeof events === "string" ? events : JSON.stringify(events)] });
  const big = "x".repeat(2 * 1024 * 1024);
  const cases = {
    "bad JSON": push("{"),
    "JSON null": push("null"),
    "JSON array": push("[]"),
    "events: string": push({ events: "x" }),
    "events: null": push({ events: null }),
    "events: object": push({ events: {} }),
    "events: empty": push({ events: [] }),
    "event without id": push({ events: [{ type: "T", data: 1, recordedAt: 1 }] }),
    "id: number": push({ events: [ev({ id: 7 })] }),
    "id: empty": push({ events: [ev({ id: "" })] }),
    "type: empty": push({ events: [ev({ type: "" })] }),
    "type: missing": push({ events: [{ id: "no-type", data: 1, recordedAt: 1 }] }),
    "recordedAt: negative": push({ events: [ev({ recordedAt: -1 })] }),
    "recordedAt: string": push({ events: [ev({ recordedAt: "now" })] }),
    "recordedAt: over 2^53": push({ events: [ev({ recordedAt: 2 ** 60 })] }),
    "recordedAt: fraction": push({ events: [ev({ recordedAt: 1.5 })] }),
    "schema: negative": push({ events: [ev({ schema: -1 })] }),
    "duplicate id in batch": push({ events: [ev({ id: "dup" }), ev({ id: "dup" })] }),
    "101 events (batch limit)": push({ events: Array.from({ length: 101 }, (_, i) => ev({ id: `many-${i}` })) }),
    "2 MiB body": push({ events: [ev({ data: big })] }),
    "200 KiB event": push({ events: [ev({ data: "y".repeat(200 * 1024) })] }),
    "deeply nested data": push(`{"events":[{"id":"deep","type":"T","recordedAt":1,"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}`),
    "no precondition": push({ events: [ev()] }, {}),
    "If-Match: unterminated": push({ events: [ev()] }, { "if-match": '"1' }),
    "If-Match: * in a list": push({ events: [ev()] }, { "if-match": '*, "1"' }),
    "If-None-Match: garbage": push({ events: [ev()] }, { "if-none-match": "W/x" }),
    "If-Match: stale version": push({ events: [ev()] }, { "if-match": '"7"' }),
    "replay of seed-1 with other content": push({ events: [{ id: "seed-1", type: "T", data: 2, recordedAt: 1 }] }),
    "stream id: %00": { method: "POST", target: `/v1/${space}/streams/%00`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: bad percent": { method: "POST", target: `/v1/${space}/streams/%zz`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: invalid UTF-8": { method: "POST", target: `/v1/${space}/streams/%C3%28`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: NUL": { method: "POST", target: `/v1/${space}/streams/a%00b`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: 10 000 chars": { method: "POST", target: `/v1/${space}/streams/${"a".repeat(10_000)}`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: %2E%2E (dot segment)": { method: "POST", target: `/v1/${space}/streams/%2E%2E`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: raw ..": { method: "POST", target: `/v1/${space}/streams/..`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "stream id: %2e": { method: "GET", target: `/v1/${space}/streams/%2e`, headers: auth },
    "stream id: empty": { method: "POST", target: `/v1/${space}/streams/`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "path: ../ out of streams": { method: "POST", target: `/v1/${space}/streams/a/../../events`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "path: extra segment": { method: "POST", target: `/v1/${space}/streams/a/b`, headers: { ...json, "if-none-match": "*" }, chunks: [JSON.stringify({ events: [ev()] })] },
    "space id: 200 chars": { method: "GET", target: `/v1/${"s".repeat(200)}/events`, headers: auth },
    "space id: NUL": { method: "GET", target: `/v1/a%00b/events`, headers: auth },
    "space id: bad percent": { method: "GET", target: `/v1/%zz/events`, headers: auth },
    "no space": { method: "GET", target: `/v1/`, headers: auth },
    "PUT on a stream": { method: "PUT", target: `/v1/${space}/streams/s`, headers: json, chunks: ["{}"] },
    "DELETE on a stream": { method: "DELETE", target: `/v1/${space}/streams/s`, headers: auth },
    "POST on the feed": { method: "POST", target: `/v1/${space}/events`, headers: json, chunks: [JSON.stringify({ events: [ev()] })] },
    "query: after=-1": { method: "GET", target: `/v1/${space}/events?after=-1`, headers: auth },
    "query: limit=abc": { method: "GET", target: `/v1/${space}/streams/s?limit=abc`, headers: auth },
    "query: after 2^70": { method: "GET", target: `/v1/${space}/events?after=1180591620717411303424`, headers: auth },
    "query: after twice": { method: "GET", target: `/v1/${space}/events?after=1&after=2`, headers: auth },
    "If-None-Match on read: garbage": { method: "GET", target: `/v1/${space}/events`, headers: { ...auth, "if-none-match": '"' } },
    "huge header (32 KiB If-Match)": push({ events: [ev()] }, { "if-match": `"${"9".repeat(32 * 1024)}"` }),
    "slow body, bad JSON (trickled)": { method: "POST", target: `/v1/${space}/streams/s`, headers: { ...json, "if-match": '"1"' }, chunks: ['{"events": [', '{"id": "slow",', ' "type": "T"', ", oops", "]}"], delayMs: 150 },
    "slow body over the limit (trickled)": { method: "POST", target: `/v1/${space}/streams/s`, headers: { ...json, "if-match": '"1"' }, chunks: ['{"events": [{"id":"slow2","type":"T","recordedAt":1,"data":"', ...Array.from({ length: 5 }, () => "z".repeat(300 * 1024)), '"}]}'], delayMs: 100 },
  };
  return cases;
}
