// tidelog/worker: the tidelog sync server (docs/protocol.md) as an ES module worker for
// workerd and Cloudflare Workers. One Durable Object per space holds that space's streams
// and feed; the protocol itself is answered by the Rust core (wasm, `handleSyncRequest`).
//
//   /v1/{space}/streams/{stream}   push (POST), read (GET, HEAD)
//   /v1/{space}/events             the space's feed (GET, HEAD)
//
// Bindings and variables (see wrangler.toml.example):
//   TIDELOG_SPACES        Durable Object namespace of the class TidelogSpace (required)
//   TIDELOG_SYNC_TOKEN    when set, every request needs `Authorization: Bearer <token>`
//   TIDELOG_CORS_ORIGINS  comma-separated allowed origins; unset or "*" allows any origin
//                         (fine for development; set it in production)
//
// This front worker validates the space, answers CORS preflights, checks the token, logs
// one JSON line per request (method, path without query, status, ms; never a header
// value), and forwards to the space's Durable Object.
import { initSync, handleSyncRequest } from "./tidelog.js";
import wasmModule from "./tidelog_bg.wasm";

const MOUNT = "/v1/";
/** Largest request body read (the protocol's 1 MiB limit answers 413 above it). */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_SPACE_CHARS = 128;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match";
const EXPOSE_HEADERS = "ETag, Retry-After, WWW-Authenticate, Allow";
const TOKEN_PARAMS = ["access_token", "token"];

let wasmReady = false;
function ensureWasm() {
  if (!wasmReady) {
    initSync({ module: wasmModule });
    wasmReady = true;
  }
}

function json(status, error, message, headers = {}) {
  return new Response(JSON.stringify({ error, message }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * Splits `/v1/{space}/rest` into the decoded space id and the mount of its Durable
 * Object (`/v1/{space as received}`). Returns `{ response }` for paths that are not the
 * protocol's (404) or spaces that are not valid (400).
 */
export function parseSpacePath(pathname) {
  if (!pathname.startsWith(MOUNT)) {
    return { response: json(404, "not_found", "the sync protocol is mounted at /v1/{space}/") };
  }
  const slash = pathname.indexOf("/", MOUNT.length);
  if (slash < 0) {
    return { response: json(404, "not_found", "use /v1/{space}/streams/{stream} or /v1/{space}/events") };
  }
  const raw = pathname.slice(MOUNT.length, slash);
  let space;
  try {
    space = decodeURIComponent(raw);
  } catch {
    return { response: json(400, "bad_space", "the space id is not valid percent-encoded UTF-8") };
  }
  const chars = [...space].length;
  if (chars < 1 || chars > MAX_SPACE_CHARS || CONTROL.test(space)) {
    return {
      response: json(400, "bad_space", `a space id has 1 to ${MAX_SPACE_CHARS} characters and no control characters`),
    };
  }
  return { space, base: pathname.slice(0, slash) };
}

function allowedOrigins(env) {
  const raw = typeof env.TIDELOG_CORS_ORIGINS === "string" ? env.TIDELOG_CORS_ORIGINS.trim() : "";
  if (raw === "") return ["*"];
  return raw.split(",").map((o) => o.trim()).filter(Boolean);
}

/** The CORS headers for `origin`, `null` when the origin is refused, `{}` without one. */
function corsHeaders(env, origin) {
  if (origin === null) return {};
  const allowed = allowedOrigins(env);
  if (allowed.includes("*")) return { "access-control-allow-origin": "*", "access-control-expose-headers": EXPOSE_HEADERS };
  if (!allowed.includes(origin)) return null;
  return { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSE_HEADERS, vary: "Origin" };
}

/** Compares two secrets in time independent of where they differ (SHA-256 first: equal lengths). */
async function sameSecret(given, expected) {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** `null` when the request may go on, else the 400/401 answer. */
async function authenticate(request, url, env) {
  if (TOKEN_PARAMS.some((p) => url.searchParams.has(p))) {
    return json(400, "token_in_query", "send the token in the Authorization header, never in the URL", {
      "www-authenticate": 'Bearer realm="tidelog", error="invalid_request"',
    });
  }
  const expected = typeof env.TIDELOG_SYNC_TOKEN === "string" ? env.TIDELOG_SYNC_TOKEN : "";
  if (expected === "") return null;
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) {
    return json(401, "unauthorized", "this sync server needs Authorization: Bearer <token>", {
      "www-authenticate": 'Bearer realm="tidelog"',
    });
  }
  if (!(await sameSecret(match[1], expected))) {
    return json(401, "unauthorized", "the bearer token is not valid", {
      "www-authenticate": 'Bearer realm="tidelog", error="invalid_token"',
    });
  }
  return null;
}

function withHeaders(response, headers) {
  const out = new Response(response.body, response);
  for (const [name, value] of Object.entries(headers)) out.headers.set(name, value);
  return out;
}

async function route(request, env, url) {
  const origin = request.headers.get("origin");
  const cors = corsHeaders(env, origin);
  if (cors === null) return json(403, "origin_not_allowed", "this origin may not use the sync server");
  if (request.method === "OPTIONS" && origin !== null && request.headers.has("access-control-request-method")) {
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        "access-control-allow-methods": ALLOW_METHODS,
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": "600",
      },
    });
  }
  const answer = await (async () => {
    const refused = await authenticate(request, url, env);
    if (refused) return refused;
    const parsed = parseSpacePath(url.pathname);
    if (parsed.response) return parsed.response;
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > MAX_BODY_BYTES) {
      return json(413, "body_too_large", `the body is ${length} bytes; the limit is ${MAX_BODY_BYTES} bytes: split the batch`);
    }
    const headers = new Headers(request.headers);
    headers.delete("authorization");
    const stub = env.TIDELOG_SPACES.get(env.TIDELOG_SPACES.idFromName(parsed.space));
    return stub.fetch(new Request(request.url, { method: request.method, headers, body: request.body }));
  })();
  return Object.keys(cors).length ? withHeaders(answer, cors) : answer;
}

export default {
  /** The front door: CORS, auth, space routing, one log line per request. */
  async fetch(request, env) {
    const started = Date.now();
    const url = new URL(request.url);
    let response;
    try {
      response = await route(request, env, url);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "sync request failed", path: url.pathname, error: String(error?.name ?? "Error") }));
      response = json(500, "internal", "the sync server failed; retry later", { "retry-after": "1" });
    }
    console.log(
      JSON.stringify({ level: "info", method: request.method, path: url.pathname, status: response.status, ms: Date.now() - started }),
    );
    return response;
  },
};

/** Reads at most MAX_BODY_BYTES + 1 bytes (enough for the core to answer 413). */
async function readBody(request) {
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      break;
    }
  }
  const body = new Uint8Array(Math.min(size, MAX_BODY_BYTES + 1));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, body.length - offset);
    body.set(part, offset);
    offset += part.length;
    if (offset >= body.length) break;
  }
  return body;
}

/** One space: its streams and feed in this object's storage (see src/server/kv/mod.rs). */
export class TidelogSpace {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }

  async fetch(request) {
    ensureWasm();
    const url = new URL(request.url);
    const parsed = parseSpacePath(url.pathname);
    if (parsed.response) return parsed.response;
    // HEAD is answered as the GET it mirrors, without the body but with the GET's
    // Content-Length (RFC 9110 section 9.3.2).
    const method = request.method === "HEAD" ? "GET" : request.method;
    const answer = await handleSyncRequest(
      this.ctx.storage,
      { method, path: url.pathname + url.search, headers: [...request.headers], body: await readBody(request) },
      { basePath: parsed.base },
    );
    const hasBody = answer.body.length > 0 && answer.status !== 204 && answer.status !== 304;
    const headers = new Headers(answer.headers);
    if (request.method === "HEAD" && hasBody) headers.set("content-length", String(answer.body.length));
    return new Response(hasBody && request.method !== "HEAD" ? answer.body : null, { status: answer.status, headers });
  }
}
