// @ts-check
// The front door every tidelog sync server shares: everything between the request and
// the space's storage.
//   gate()     CORS (origins, preflight), a token in the query (400), the space from the
//              path (404/400), authorization (401/403), the body limit (413)
//   finish()   the CORS headers on the storage's answer
//   logLine()  the one JSON log line per request (never a header value, never the query)
// The interface is the one settled for issue 18 (gate, finish, logLine, frontConfig);
// this version checks the shared bearer token (TIDELOG_SYNC_TOKEN) or an app's
// `authorizeHook`. The JWT rules (js/auth.js) plug in behind the same `gate`.
// Standard fetch API only (Request, Response, crypto.subtle): workerd, Node, Deno, Bun.

/** Largest request body (the protocol's 1 MiB; the core answers 413 for a longer streamed body). */
export const MAX_BODY_BYTES = 1024 * 1024;
const MOUNT = "/v1/";
const MAX_SPACE_CHARS = 128;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match";
const EXPOSE_HEADERS = "ETag, Retry-After, WWW-Authenticate, Allow";
const TOKEN_PARAMS = ["access_token", "token"];
const MAX_SUB_CHARS = 256;

/** What a request may do to a space. @typedef {"read" | "write"} Access */
/** @typedef {{ ok: true, sub: string | undefined }} Allowed */
/** @typedef {{ ok: false, status: 401 | 403, response: Response }} Refused */
/**
 * The front door's settings: the shared token and the allowed origins ("*": any).
 * @typedef {{ syncToken?: string, origins: string[] }} FrontConfig
 */
/** What `gate` lets through. @typedef {{ space: string, base: string, sub: string | undefined, cors: Record<string, string> }} Admitted */
/** An app's own authorization: replaces the token rules. @typedef {(request: Request, space: string, access: Access) => Promise<Allowed | Refused>} AuthorizeHook */

/**
 * A JSON error answer `{error, message}`.
 * @param {number} status
 * @param {string} error
 * @param {string} message
 * @param {Record<string, string>} [headers]
 * @returns {Response}
 */
export function jsonError(status, error, message, headers = {}) {
  return new Response(JSON.stringify({ error, message }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * `read` for GET, HEAD and OPTIONS, `write` for anything else.
 * @param {string} method
 * @returns {Access}
 */
export function accessOf(method) {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" ? "read" : "write";
}

/**
 * The settings from environment variables or worker bindings: TIDELOG_SYNC_TOKEN,
 * TIDELOG_CORS_ORIGINS (comma-separated; unset, empty or "*" allows any origin).
 * @param {Record<string, unknown>} env
 * @returns {FrontConfig}
 */
export function frontConfig(env) {
  /** @type {FrontConfig} */
  const config = { origins: ["*"] };
  const token = typeof env.TIDELOG_SYNC_TOKEN === "string" ? env.TIDELOG_SYNC_TOKEN : "";
  if (token) config.syncToken = token;
  const raw = typeof env.TIDELOG_CORS_ORIGINS === "string" ? env.TIDELOG_CORS_ORIGINS.trim() : "";
  const origins = raw.split(",").map((o) => o.trim()).filter(Boolean);
  if (origins.length) config.origins = origins;
  return config;
}

/**
 * Splits `/v1/{space}/rest` into the decoded space id and the mount of the space
 * (`/v1/{space as received}`). Returns `{ response }` for paths that are not the
 * protocol's (404) or spaces that are not valid (400).
 * @param {string} pathname
 * @returns {{ space: string, base: string, response?: undefined } | { response: Response }}
 */
export function parseSpacePath(pathname) {
  if (!pathname.startsWith(MOUNT)) {
    return { response: jsonError(404, "not_found", "the sync protocol is mounted at /v1/{space}/") };
  }
  const slash = pathname.indexOf("/", MOUNT.length);
  if (slash < 0) {
    return { response: jsonError(404, "not_found", "use /v1/{space}/streams/{stream} or /v1/{space}/events") };
  }
  const raw = pathname.slice(MOUNT.length, slash);
  let space;
  try {
    space = decodeURIComponent(raw);
  } catch {
    return { response: jsonError(400, "bad_space", "the space id is not valid percent-encoded UTF-8") };
  }
  const chars = [...space].length;
  if (chars < 1 || chars > MAX_SPACE_CHARS || CONTROL.test(space)) {
    return {
      response: jsonError(400, "bad_space", `a space id has 1 to ${MAX_SPACE_CHARS} characters and no control characters`),
    };
  }
  return { space, base: pathname.slice(0, slash) };
}

/**
 * The CORS headers for a request from `origin`: `{}` without an Origin header, `null`
 * when the origin is not allowed.
 * @param {FrontConfig} config
 * @param {string | null} origin
 * @returns {Record<string, string> | null}
 */
export function corsHeaders(config, origin) {
  if (origin === null) return {};
  if (config.origins.includes("*")) return { "access-control-allow-origin": "*", "access-control-expose-headers": EXPOSE_HEADERS };
  if (!config.origins.includes(origin)) return null;
  return { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSE_HEADERS, vary: "Origin" };
}

/**
 * `response` with `headers` set on it (a new Response: fetch's may be immutable).
 * @param {Response} response
 * @param {Record<string, string>} headers
 * @returns {Response}
 */
export function finish(response, headers) {
  if (Object.keys(headers).length === 0) return response;
  const out = new Response(response.body, response);
  for (const [name, value] of Object.entries(headers)) out.headers.set(name, value);
  return out;
}

/**
 * Compares two secrets in time independent of where they differ (SHA-256 first: equal lengths).
 * @param {string} given
 * @param {string} expected
 */
async function sameSecret(given, expected) {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= /** @type {number} */ (x[i]) ^ /** @type {number} */ (y[i]);
  return diff === 0;
}

/**
 * The shared-token rule: with `config.syncToken`, `Authorization: Bearer <token>` (401
 * otherwise); without, everything is allowed.
 * @param {Request} request
 * @param {FrontConfig} config
 * @returns {Promise<Allowed | Refused>}
 */
async function authorizeToken(request, config) {
  if (!config.syncToken) return { ok: true, sub: undefined };
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "");
  if (!match) {
    const response = jsonError(401, "unauthorized", "this sync server needs Authorization: Bearer <token>", {
      "www-authenticate": 'Bearer realm="tidelog"',
    });
    return { ok: false, status: 401, response };
  }
  if (!(await sameSecret(/** @type {string} */ (match[1]), config.syncToken))) {
    const response = jsonError(401, "unauthorized", "the bearer token is not valid", {
      "www-authenticate": 'Bearer realm="tidelog", error="invalid_token"',
    });
    return { ok: false, status: 401, response };
  }
  return { ok: true, sub: undefined };
}

/**
 * Everything before storage. Resolves to `{ response }` to send as is (a preflight's
 * 204, or a refusal, CORS headers already on it), or to the admitted request: the space,
 * its mount (`basePath` for the core), the caller's `sub`, and the CORS headers to put on
 * the answer (`finish`).
 * @param {Request} request
 * @param {FrontConfig} config
 * @param {AuthorizeHook} [authorizeHook] replaces the token rule when given
 * @returns {Promise<{ response: Response, sub?: string | undefined } | Admitted>}
 */
export async function gate(request, config, authorizeHook) {
  const origin = request.headers.get("origin");
  const cors = corsHeaders(config, origin);
  if (cors === null) return { response: jsonError(403, "origin_not_allowed", "this origin may not use the sync server") };
  if (request.method === "OPTIONS" && origin !== null && request.headers.has("access-control-request-method")) {
    const headers = {
      ...cors,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "600",
    };
    return { response: new Response(null, { status: 204, headers }) };
  }
  const url = new URL(request.url);
  if (TOKEN_PARAMS.some((p) => url.searchParams.has(p))) {
    const refusal = jsonError(400, "token_in_query", "send the token in the Authorization header, never in the URL", {
      "www-authenticate": 'Bearer realm="tidelog", error="invalid_request"',
    });
    return { response: finish(refusal, cors) };
  }
  const parsed = parseSpacePath(url.pathname);
  if (parsed.response) return { response: finish(parsed.response, cors) };
  const access = accessOf(request.method);
  const decision = authorizeHook ? await authorizeHook(request, parsed.space, access) : await authorizeToken(request, config);
  if (!decision.ok) return { response: finish(decision.response, cors) };
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) {
    const refusal = jsonError(413, "body_too_large", `the body is ${length} bytes; the limit is ${MAX_BODY_BYTES} bytes: split the batch`);
    return { response: finish(refusal, cors), sub: decision.sub };
  }
  return { space: parsed.space, base: parsed.base, sub: decision.sub, cors };
}

/**
 * The request's log line: JSON with level, method, path (no query), status, ms, and the
 * caller's `sub` when there is one (cut at 256 characters). Never a header value.
 * @param {{ method: string, path: string, status: number, ms: number, sub?: string | undefined }} fields
 * @returns {string}
 */
export function logLine({ method, path, status, ms, sub }) {
  /** @type {Record<string, unknown>} */
  const line = { level: "info", method, path, status, ms };
  if (sub !== undefined) line.sub = sub.slice(0, MAX_SUB_CHARS);
  return JSON.stringify(line);
}
