// @ts-check
// Who may touch which space: the one authorization rule of every tidelog sync server (the
// worker, tidelog/worker, and the self-hosted server). `authorize` decides one request;
// js/front.js calls it between CORS and storage.
//
// With a JWT key configured (TIDELOG_JWT_SECRET for HS256, TIDELOG_JWT_PUBLIC_JWK for
// ES256/RS256) every request needs `Authorization: Bearer <JWT>`, verified by `jose` (a
// maintained library on Web Crypto: workers, Node, Deno, Bun):
//   exp   required (401 when missing or past); nbf honoured (401 before it)
//   spaces  a list: an entry matches a space exactly, or by prefix when it ends in `*`
//           ("team-42-*"; "*" alone matches every space); no match: 403
//   scope   absent or containing "write": read and write; "read": GET and HEAD only (a
//           write: 403); neither: 403
//   sub     returned for the request log
// Anything else wrong with the token (alg none or another alg, bad signature, another
// key, malformed, over MAX_TOKEN_CHARS, claims of the wrong type): 401, never a 5xx.
// Without a JWT key, TIDELOG_SYNC_TOKEN is one shared bearer token for every space; with
// neither, every request is allowed.
import { jwtVerify, importJWK } from "jose";

/** What a request does to a space: reads (GET, HEAD, OPTIONS) or writes (POST and the rest). @typedef {"read" | "write"} Access */

/**
 * The authorization settings (see frontConfig in js/front.js for the environment names).
 * @typedef {object} AuthConfig
 * @property {string} [jwtSecret] HS256 secret: when set, every request needs a JWT
 * @property {string} [jwtPublicJwk] a public JWK as JSON (ES256 or RS256), beside or instead of the secret
 * @property {string} [syncToken] the shared bearer token, used only when no JWT key is set
 */

/** The request may go on; `sub` is the token's subject (for the log). @typedef {{ ok: true, sub: string | undefined }} Allowed */
/**
 * The request is refused: `response` is the JSON answer (`{error, message}`) with
 * `WWW-Authenticate`, without CORS headers (js/front.js adds them).
 * @typedef {{ ok: false, status: 401 | 403, response: Response }} Refused
 */

/** Longest bearer token read (a JWT of a few claims is well under 1 KiB). */
export const MAX_TOKEN_CHARS = 8192;
const REALM = 'Bearer realm="tidelog"';
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The access a method needs.
 * @param {string} method
 * @returns {Access}
 */
export function accessOf(method) {
  const m = method.toUpperCase();
  return m === "GET" || m === "HEAD" || m === "OPTIONS" ? "read" : "write";
}

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
 * @param {string} message
 * @param {boolean} [tokenGiven] whether a token was sent (RFC 6750: error="invalid_token")
 * @returns {Refused}
 */
function unauthorized(message, tokenGiven = true) {
  const challenge = tokenGiven ? `${REALM}, error="invalid_token"` : REALM;
  return { ok: false, status: 401, response: jsonError(401, "unauthorized", message, { "www-authenticate": challenge }) };
}

/**
 * @param {string} message
 * @returns {Refused}
 */
function forbidden(message) {
  const challenge = `${REALM}, error="insufficient_scope"`;
  return { ok: false, status: 403, response: jsonError(403, "forbidden", message, { "www-authenticate": challenge }) };
}

/**
 * Whether a `spaces` entry covers `space`: exactly, or by prefix when it ends in `*`.
 * @param {string} entry
 * @param {string} space
 */
export function spaceMatches(entry, space) {
  return entry.endsWith("*") ? space.startsWith(entry.slice(0, -1)) : entry === space;
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

/** @typedef {import("jose").CryptoKey | Uint8Array} VerifyKey */
/** @typedef {{ secret: Uint8Array | undefined, jwk: Promise<{ key: VerifyKey, alg: string }> | undefined }} Keys */

/** The imported keys per config object (a JWK is imported once, not per request). @type {WeakMap<AuthConfig, Keys>} */
const keyCache = new WeakMap();

/**
 * @param {AuthConfig} config
 * @returns {Keys}
 */
function keysOf(config) {
  let keys = keyCache.get(config);
  if (!keys) {
    const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
    const jwkText = config.jwtPublicJwk;
    const jwk = jwkText
      ? (async () => {
          const parsed = JSON.parse(jwkText);
          const alg = typeof parsed.alg === "string" ? parsed.alg : parsed.kty === "RSA" ? "RS256" : "ES256";
          if (alg !== "ES256" && alg !== "RS256") throw new Error(`TIDELOG_JWT_PUBLIC_JWK: alg ${alg} is not ES256 or RS256`);
          const key = /** @type {VerifyKey} */ (await importJWK(parsed, alg));
          return { key, alg };
        })()
      : undefined;
    keys = { secret, jwk };
    keyCache.set(config, keys);
  }
  return keys;
}

/**
 * Decides whether `request` may have `access` to `space` under `config` (the rules in
 * the module comment). Never throws for anything the client sent; a misconfigured key
 * (a JWK that does not import) rejects.
 * @param {Request} request
 * @param {string} space the decoded space id
 * @param {Access} access
 * @param {AuthConfig} config
 * @returns {Promise<Allowed | Refused>}
 */
export async function authorize(request, space, access, config) {
  const jwtConfigured = Boolean(config.jwtSecret || config.jwtPublicJwk);
  const shared = config.syncToken ?? "";
  if (!jwtConfigured && shared === "") return { ok: true, sub: undefined };
  const header = request.headers.get("authorization") ?? "";
  const match = BEARER.exec(header);
  if (!match) return unauthorized("this sync server needs Authorization: Bearer <token>", false);
  const token = /** @type {string} */ (match[1]);
  if (!jwtConfigured) {
    if (await sameSecret(token, shared)) return { ok: true, sub: undefined };
    return unauthorized("the bearer token is not valid");
  }
  if (token.length > MAX_TOKEN_CHARS) return unauthorized(`the token is longer than ${MAX_TOKEN_CHARS} characters`);

  const keys = keysOf(config);
  const jwk = keys.jwk ? await keys.jwk : undefined;
  /** @type {string[]} */
  const algorithms = [];
  if (keys.secret) algorithms.push("HS256");
  if (jwk) algorithms.push(jwk.alg);
  let payload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (protectedHeader) => {
        if (protectedHeader.alg === "HS256" && keys.secret) return keys.secret;
        if (jwk && protectedHeader.alg === jwk.alg) return jwk.key;
        throw new Error("no key for this algorithm");
      },
      { algorithms, requiredClaims: ["exp"] },
    ));
  } catch (error) {
    const code = /** @type {{ code?: unknown }} */ (error)?.code;
    if (code === "ERR_JWT_EXPIRED") return unauthorized("the token has expired");
    if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") return unauthorized("the token's claims are not valid now (exp, nbf)");
    return unauthorized("the token is not a valid JWT signed with this server's key");
  }
  const { spaces, scope, sub } = payload;
  if (sub !== undefined && typeof sub !== "string") return unauthorized("the sub claim must be a string");
  if (spaces !== undefined && !(Array.isArray(spaces) && spaces.every((s) => typeof s === "string"))) {
    return unauthorized("the spaces claim must be a list of strings");
  }
  if (scope !== undefined && typeof scope !== "string") return unauthorized("the scope claim must be a string");
  const granted = /** @type {string[]} */ (spaces ?? []);
  if (!granted.some((entry) => spaceMatches(entry, space))) {
    return forbidden("the token does not grant this space");
  }
  const scopes = scope === undefined ? ["write"] : scope.split(" ");
  const allowed = scopes.includes("write") ? "write" : scopes.includes("read") ? "read" : undefined;
  if (allowed === undefined) return forbidden('the token\'s scope grants neither "read" nor "write"');
  if (access === "write" && allowed === "read") return forbidden("the token's scope is read: GET and HEAD only");
  return { ok: true, sub };
}
