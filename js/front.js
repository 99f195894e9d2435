// @ts-check
// The front door every tidelog sync server shares (the worker, tidelog/worker, and the
// self-hosted server): everything between the request and the space's storage.
//   gate()     CORS (origins, preflight), a token in the query (400), the space from the
//              path (404/400), authorization (js/auth.js: 401/403), the body limit (413)
//   finish()   the CORS headers on the storage's answer; withDate(): the Date header
//              every answer carries
//   logLine()  the one JSON log line per request (never a header value, never the query)
// Every refusal carries the CORS headers the calling origin needs to read it, the
// disallowed-origin 403 included, so a browser app sees the real reason, not a network
// error. scripts/build-pkg bundles this module (with js/auth.js and jose) into
// pkg/worker/front.js.
import { accessOf, authorize, jsonError } from "./auth.js";

export { accessOf, authorize, jsonError, spaceMatches, MAX_TOKEN_CHARS } from "./auth.js";

/** Largest request body (the protocol's 1 MiB, `protocol::MAX_BODY_BYTES`; the core answers 413 for a longer streamed body). */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How much of a refused body is read and thrown away before the answer (16 MiB). An
 * answer sent while the client is still sending can reach it as a reset connection
 * (Node's fetch: "fetch failed") instead of the 413; a body larger than this is cut
 * off (the connection closes) rather than read to the end.
 */
export const DISCARD_BODY_BYTES = 16 * MAX_BODY_BYTES;
const MOUNT = "/v1/";
const MAX_SPACE_CHARS = 128;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match";
const EXPOSE_HEADERS = "ETag, Retry-After, WWW-Authenticate, Allow";
const TOKEN_PARAMS = ["access_token", "token"];
const MAX_SUB_CHARS = 256;

/**
 * The front door's settings: the authorization settings and the allowed origins.
 * @typedef {import("./auth.js").AuthConfig & { origins: string[] }} FrontConfig
 */

/** What `gate` lets through. @typedef {{ space: string, base: string, sub: string | undefined, cors: Record<string, string> }} Admitted */
/** An app's own authorization (self-hosted servers): replaces the JWT/token rules. @typedef {(request: Request, space: string, access: import("./auth.js").Access) => Promise<import("./auth.js").Allowed | import("./auth.js").Refused>} AuthorizeHook */

/**
 * @param {unknown} value
 * @returns {string}
 */
function text(value) {
  return typeof value === "string" ? value.trim() : "";
}

/**
 * The settings from environment variables or worker bindings: TIDELOG_JWT_SECRET,
 * TIDELOG_JWT_PUBLIC_JWK, TIDELOG_SYNC_TOKEN, TIDELOG_CORS_ORIGINS (comma-separated;
 * unset, empty or "*" allows any origin). Empty values count as unset.
 * @param {Record<string, unknown>} env
 * @returns {FrontConfig}
 */
export function frontConfig(env) {
  /** @type {FrontConfig} */
  const config = { origins: ["*"] };
  const secret = text(env.TIDELOG_JWT_SECRET);
  const jwk = text(env.TIDELOG_JWT_PUBLIC_JWK);
  const token = typeof env.TIDELOG_SYNC_TOKEN === "string" ? env.TIDELOG_SYNC_TOKEN : "";
  if (secret) config.jwtSecret = secret;
  if (jwk) config.jwtPublicJwk = jwk;
  if (token) config.syncToken = token;
  const origins = text(env.TIDELOG_CORS_ORIGINS).split(",").map((o) => o.trim()).filter(Boolean);
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
 * Reads what is left of a body and throws it away, up to DISCARD_BODY_BYTES in all
 * (`alreadyRead` of them read by the caller); past that it cancels the stream.
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 * @param {number} [alreadyRead]
 * @returns {Promise<void>}
 */
export async function discardBody(reader, alreadyRead = 0) {
  let read = alreadyRead;
  try {
    while (read <= DISCARD_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing to answer.
  }
}

/**
 * `response` with a `Date` header (RFC 9110 section 6.6.1: an origin server with a
 * clock sends one), unless it has one.
 * @param {Response} response
 * @param {number} [now] ms since the epoch
 * @returns {Response}
 */
export function withDate(response, now = Date.now()) {
  if (response.headers.has("date")) return response;
  return finish(response, { date: new Date(now).toUTCString() });
}

/**
 * Everything before storage. Resolves to `{ response }` to send as is (a preflight's
 * 204, or a refusal, CORS headers already on it), or to the admitted request: the space,
 * its mount (`basePath` for handleSyncRequest), the token's `sub`, and the CORS headers
 * to put on the answer (`finish`).
 * @param {Request} request
 * @param {FrontConfig} config
 * @param {AuthorizeHook} [authorizeHook] replaces the JWT/token rules when given
 * @returns {Promise<{ response: Response, sub?: string | undefined } | Admitted>}
 */
export async function gate(request, config, authorizeHook) {
  const origin = request.headers.get("origin");
  const cors = corsHeaders(config, origin);
  const preflight = request.method === "OPTIONS" && origin !== null && request.headers.has("access-control-request-method");
  if (preflight) {
    // A refused origin's preflight passes too, so that its request follows and gets the
    // readable 403 below (a failed preflight is a bare network error to the page).
    const allow = cors ?? { "access-control-allow-origin": /** @type {string} */ (origin), vary: "Origin" };
    const headers = {
      ...allow,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "600",
    };
    return { response: new Response(null, { status: 204, headers }) };
  }
  if (cors === null) {
    // Readable by the refused origin: it learns why, and nothing else.
    const reflect = { "access-control-allow-origin": /** @type {string} */ (origin), vary: "Origin" };
    return { response: jsonError(403, "origin_not_allowed", "this origin may not use the sync server", reflect) };
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
  const decision = authorizeHook
    ? await authorizeHook(request, parsed.space, access)
    : await authorize(request, parsed.space, access, config);
  if (!decision.ok) return { response: finish(decision.response, cors) };
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) {
    // Read the body (up to a bound) before answering, so the 413 reaches the client.
    if (request.body !== null) await discardBody(request.body.getReader());
    const refusal = jsonError(413, "body_too_large", `the body is ${length} bytes; the limit is ${MAX_BODY_BYTES} bytes: split the batch`);
    return { response: finish(refusal, cors), sub: decision.sub };
  }
  return { space: parsed.space, base: parsed.base, sub: decision.sub, cors };
}

/**
 * The request's log line: JSON with level, method, path (no query), status, ms, and the
 * token's `sub` when there is one (cut at 256 characters). Never a header value.
 * @param {{ method: string, path: string, status: number, ms: number, sub?: string | undefined }} fields
 * @returns {string}
 */
export function logLine({ method, path, status, ms, sub }) {
  /** @type {Record<string, unknown>} */
  const line = { level: "info", method, path, status, ms };
  if (sub !== undefined) line.sub = sub.slice(0, MAX_SUB_CHARS);
  return JSON.stringify(line);
}
