// tidelog/worker: the tidelog sync server (docs/protocol.md) as an ES module worker for
// workerd and Cloudflare Workers. One Durable Object per space holds that space's streams
// and feed; the protocol itself is answered by the Rust core (wasm, `handleSyncRequest`).
//
//   /v1/{space}/streams/{stream}   push (POST), read (GET, HEAD)
//   /v1/{space}/events             the space's feed (GET, HEAD)
//
// Bindings and variables (see wrangler.jsonc):
//   TIDELOG_SPACES          Durable Object namespace of the class TidelogSpace (required)
//   TIDELOG_JWT_SECRET      when set, every request needs `Authorization: Bearer <JWT>`,
//                           HS256 with this secret, granting the space (js/auth.js)
//   TIDELOG_JWT_PUBLIC_JWK  a public JWK (JSON) for ES256/RS256 tokens, beside or instead
//   TIDELOG_SYNC_TOKEN      without a JWT key: one shared bearer token for every space
//   TIDELOG_CORS_ORIGINS    comma-separated allowed origins; unset or "*" allows any origin
//                           (fine for development; set it in production)
//   TIDELOG_STORAGE         "kv" keeps the key-value storage API; default: the SQL API
//
// The front door (js/front.js, bundled as ./front.js: CORS, the space, authorization, the
// body limit) is shared with the self-hosted server; this worker adds the routing to the
// space's Durable Object and one JSON log line per request (method, path without query,
// status, ms, the token's sub; never a header value).
import { initSync, handleSyncRequest } from "./tidelog.js";
import wasmModule from "./tidelog_bg.wasm";
import { sqlOpen } from "./js/do_sql.js";
import { frontConfig, gate, finish, logLine, jsonError, corsHeaders, parseSpacePath, withDate } from "./front.js";
import { answerSpace } from "./space_answer.js";

export { parseSpacePath };

let wasmReady = false;
function ensureWasm() {
  if (!wasmReady) {
    initSync({ module: wasmModule });
    wasmReady = true;
  }
}

/** The front door's settings per env object (bindings do not change while it lives). */
const configs = new WeakMap();
function configOf(env) {
  let config = configs.get(env);
  if (!config) {
    config = frontConfig(env);
    configs.set(env, config);
  }
  return config;
}

export default {
  /** The front door (front.js: CORS, auth, space routing), then the space's Durable Object; one log line per request. */
  async fetch(request, env) {
    const started = Date.now();
    const url = new URL(request.url);
    let response;
    let sub;
    try {
      const admitted = await gate(request, configOf(env));
      sub = admitted.sub;
      if (admitted.response) {
        response = admitted.response;
      } else {
        const headers = new Headers(request.headers);
        headers.delete("authorization");
        const stub = env.TIDELOG_SPACES.get(env.TIDELOG_SPACES.idFromName(admitted.space));
        const answer = await stub.fetch(new Request(request.url, { method: request.method, headers, body: request.body }));
        response = finish(answer, admitted.cors);
      }
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "sync request failed", path: url.pathname, error: String(error?.name ?? "Error") }));
      // Readable by an allowed origin too, so the app sees a 500 and retries.
      const cors = corsHeaders(configOf(env), request.headers.get("origin")) ?? {};
      response = jsonError(500, "internal", "the sync server failed; retry later", { "retry-after": "1", ...cors });
    }
    console.log(logLine({ method: request.method, path: url.pathname, status: response.status, ms: Date.now() - started, sub }));
    return withDate(response);
  },
};

/**
 * Which storage API a space uses: "sql" (the SQL API of a SQLite-backed Durable Object,
 * src/server/sql/) unless TIDELOG_STORAGE is "kv" or the object has no SQL storage (a
 * class created with `new_classes`), then "kv" (the key-value API, src/server/kv/).
 */
export function storageKind(ctx, env) {
  if (env?.TIDELOG_STORAGE === "kv") return "kv";
  try {
    return ctx.storage.sql ? "sql" : "kv";
  } catch {
    return "kv";
  }
}

/** One space: its streams and feed in this object's storage (src/server/sql/ or kv/). */
export class TidelogSpace {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
    this.storage = storageKind(ctx, env);
    // The table, and the one-time copy of a space the key-value API wrote, before any request.
    if (this.storage === "sql") ctx.blockConcurrencyWhile(() => sqlOpen(ctx.storage));
  }

  async fetch(request) {
    ensureWasm();
    const url = new URL(request.url);
    const parsed = parseSpacePath(url.pathname);
    if (parsed.response) return parsed.response;
    // The request in and the answer out as tidelog/server does it (js/space_answer.js:
    // HEAD as the GET it mirrors, the body read up to the 413 limit).
    return answerSpace(request, parsed.base, (coreRequest, options) =>
      handleSyncRequest(this.ctx.storage, coreRequest, { ...options, storage: this.storage }));
  }
}
