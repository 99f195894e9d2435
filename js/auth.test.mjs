// Who may touch which space (js/auth.js) and the shared front door (js/front.js), without
// wasm: real tokens signed with jose (HS256 with a secret, ES256 with a key pair, and
// hand-built bad ones), real Request and Response objects. The same rules are checked
// end to end against the servers in tests/js/server.test.mjs.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, generateKeyPair, exportJWK, base64url } from "jose";
import { accessOf, authorize, spaceMatches, MAX_TOKEN_CHARS } from "./auth.js";
import { frontConfig, gate, finish, logLine, parseSpacePath, corsHeaders } from "./front.js";

const SECRET = "a-test-secret-of-at-least-32-characters!";
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 JWT with `claims` (exp in an hour unless given). */
function sign(claims, { secret = key, header = { alg: "HS256" } } = {}) {
  return new SignJWT({ exp: now() + 3600, ...claims }).setProtectedHeader(header).sign(secret);
}

function request(method, token, url = "https://sync.test/v1/shop/events", headers = {}) {
  return new Request(url, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

async function refusal(decision, status) {
  assert.equal(decision.ok, false, "refused");
  assert.equal(decision.status, status);
  assert.equal(decision.response.status, status);
  assert.match(decision.response.headers.get("content-type"), /application\/json/);
  assert.match(decision.response.headers.get("www-authenticate"), /^Bearer realm="tidelog"/);
  const body = await decision.response.json();
  assert.equal(body.error, status === 401 ? "unauthorized" : "forbidden");
  assert.equal(typeof body.message, "string");
  return body;
}

describe("authorize with TIDELOG_JWT_SECRET (HS256)", () => {
  const config = { jwtSecret: SECRET };

  test("a token for the space: read and write, sub returned", async () => {
    const token = await sign({ spaces: ["shop"], sub: "user-7" });
    for (const access of ["read", "write"]) {
      assert.deepEqual(await authorize(request("GET", token), "shop", access, config), { ok: true, sub: "user-7" });
    }
  });

  test("spaces: exact entries, prefixes ending in *, and * for every space", async () => {
    const token = await sign({ spaces: ["a", "team-42-*"] });
    for (const [space, ok] of [["a", true], ["ab", false], ["team-42-x", true], ["team-42-", true], ["team-4", false], ["team-420", false]]) {
      const decision = await authorize(request("GET", token), space, "read", config);
      if (ok) assert.equal(decision.ok, true, space);
      else await refusal(decision, 403);
    }
    assert.equal((await authorize(request("GET", await sign({ spaces: ["*"] })), "anything", "write", config)).ok, true);
    assert.ok(spaceMatches("x*", "x") && !spaceMatches("x", "x*y"));
  });

  test("another space, no spaces claim: 403 insufficient_scope", async () => {
    for (const claims of [{ spaces: ["other"] }, {}, { spaces: [] }]) {
      const decision = await authorize(request("GET", await sign(claims)), "shop", "read", config);
      await refusal(decision, 403);
      assert.match(decision.response.headers.get("www-authenticate"), /insufficient_scope/);
    }
  });

  test('scope "read" allows reads only; "write", none, or a list with write allows both', async () => {
    const read = await sign({ spaces: ["shop"], scope: "read" });
    assert.equal((await authorize(request("GET", read), "shop", "read", config)).ok, true);
    await refusal(await authorize(request("POST", read), "shop", "write", config), 403);
    for (const scope of ["write", undefined, "read write", "sync write"]) {
      const token = await sign({ spaces: ["shop"], ...(scope === undefined ? {} : { scope }) });
      assert.equal((await authorize(request("POST", token), "shop", "write", config)).ok, true, String(scope));
    }
    await refusal(await authorize(request("GET", await sign({ spaces: ["shop"], scope: "admin" })), "shop", "read", config), 403);
  });

  test("expired, no exp, not yet valid (nbf): 401", async () => {
    await refusal(await authorize(request("GET", await sign({ spaces: ["shop"], exp: now() - 10 })), "shop", "read", config), 401);
    const noExp = await new SignJWT({ spaces: ["shop"] }).setProtectedHeader({ alg: "HS256" }).sign(key);
    await refusal(await authorize(request("GET", noExp), "shop", "read", config), 401);
    await refusal(await authorize(request("GET", await sign({ spaces: ["shop"], nbf: now() + 600 })), "shop", "read", config), 401);
    assert.equal((await authorize(request("GET", await sign({ spaces: ["shop"], nbf: now() - 5 })), "shop", "read", config)).ok, true);
  });

  test("alg none, another key, a tampered payload or signature, malformed, oversized: 401 invalid_token", async () => {
    const good = await sign({ spaces: ["shop"] });
    const [h, p, s] = good.split(".");
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${p}.`;
    const otherKey = await sign({ spaces: ["shop"] }, { secret: new TextEncoder().encode("another-secret-of-at-least-32-chars!!") });
    const widened = base64url.encode(JSON.stringify({ exp: now() + 3600, spaces: ["*"] }));
    const hs512 = await sign({ spaces: ["shop"] }, { header: { alg: "HS512" } });
    const flipped = s.slice(0, -2) + (s.at(-2) === "A" ? "B" : "A") + s.at(-1);
    const cases = {
      none,
      otherKey,
      hs512,
      tampered: `${h}.${widened}.${s}`,
      flipped: `${h}.${p}.${flipped}`,
      twoParts: `${h}.${p}`,
      garbage: "not-a-jwt",
      badJson: `${base64url.encode("{")}.${p}.${s}`,
      oversized: `${h}.${"A".repeat(MAX_TOKEN_CHARS)}.${s}`,
    };
    for (const [name, token] of Object.entries(cases)) {
      const decision = await authorize(request("GET", token), "shop", "read", config);
      await refusal(decision, 401);
      assert.match(decision.response.headers.get("www-authenticate"), /error="invalid_token"/, name);
    }
  });

  test("claims of the wrong type: 401", async () => {
    for (const claims of [{ spaces: "shop" }, { spaces: [1] }, { spaces: ["shop"], scope: ["read"] }, { spaces: ["shop"], sub: 7 }, { spaces: ["shop"], exp: "tomorrow" }]) {
      await refusal(await authorize(request("GET", await sign(claims)), "shop", "read", config), 401);
    }
  });

  test("no header, another scheme, an empty bearer: 401 without error code", async () => {
    for (const header of [undefined, "Basic abc", "Bearer", "Bearer  "]) {
      const r = new Request("https://sync.test/v1/shop/events", { headers: header ? { authorization: header } : {} });
      const decision = await authorize(r, "shop", "read", config);
      await refusal(decision, 401);
      assert.equal(decision.response.headers.get("www-authenticate"), 'Bearer realm="tidelog"');
    }
  });

  test("the shared token is not accepted once a JWT secret is set", async () => {
    const both = { jwtSecret: SECRET, syncToken: "shared-token" };
    await refusal(await authorize(request("GET", "shared-token"), "shop", "read", both), 401);
  });
});

describe("authorize with a public JWK (ES256)", () => {
  test("ES256 tokens verify with the JWK; HS256 ones with the secret beside it", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = JSON.stringify({ ...(await exportJWK(publicKey)), alg: "ES256" });
    const config = { jwtPublicJwk: jwk, jwtSecret: SECRET };
    const es = await new SignJWT({ spaces: ["shop"], sub: "es", exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(privateKey);
    assert.deepEqual(await authorize(request("GET", es), "shop", "read", config), { ok: true, sub: "es" });
    assert.equal((await authorize(request("GET", await sign({ spaces: ["shop"] })), "shop", "read", config)).ok, true);
    const other = (await generateKeyPair("ES256")).privateKey;
    const forged = await new SignJWT({ spaces: ["shop"], exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(other);
    await refusal(await authorize(request("GET", forged), "shop", "read", config), 401);
    const onlyJwk = { jwtPublicJwk: jwk };
    await refusal(await authorize(request("GET", await sign({ spaces: ["shop"] })), "shop", "read", onlyJwk), 401);
  });
});

describe("authorize without a JWT key", () => {
  test("the shared token: right one allowed, wrong ones 401; no token configured: open", async () => {
    const config = { syncToken: "shared-token" };
    assert.deepEqual(await authorize(request("POST", "shared-token"), "any", "write", config), { ok: true, sub: undefined });
    await refusal(await authorize(request("POST", "shared-tokex"), "any", "write", config), 401);
    await refusal(await authorize(request("POST"), "any", "write", config), 401);
    assert.deepEqual(await authorize(request("POST"), "any", "write", {}), { ok: true, sub: undefined });
  });

  test("accessOf: GET, HEAD, OPTIONS read; the rest write", () => {
    assert.deepEqual(["GET", "head", "OPTIONS", "POST", "PUT", "DELETE"].map(accessOf), ["read", "read", "read", "write", "write", "write"]);
  });
});

describe("the front door (gate)", () => {
  const ORIGIN = "https://app.example";
  const config = frontConfig({ TIDELOG_JWT_SECRET: SECRET, TIDELOG_CORS_ORIGINS: `${ORIGIN}, https://b.example` });

  test("frontConfig reads the environment; empty values are unset", () => {
    assert.deepEqual(config, { jwtSecret: SECRET, origins: [ORIGIN, "https://b.example"] });
    assert.deepEqual(frontConfig({ TIDELOG_JWT_SECRET: "", TIDELOG_SYNC_TOKEN: "", TIDELOG_CORS_ORIGINS: " " }), { origins: ["*"] });
    assert.deepEqual(corsHeaders(config, null), {});
    assert.equal(corsHeaders(config, "https://evil.example"), null);
  });

  test("admits a granted request with its space, mount, sub and CORS headers", async () => {
    const token = await sign({ spaces: ["my shop"], sub: "u1" });
    const admitted = await gate(request("GET", token, "https://sync.test/v1/my%20shop/events?after=1", { origin: ORIGIN }), config);
    assert.deepEqual(admitted, {
      space: "my shop",
      base: "/v1/my%20shop",
      sub: "u1",
      cors: { "access-control-allow-origin": ORIGIN, "access-control-expose-headers": "ETag, Retry-After, WWW-Authenticate, Allow", vary: "Origin" },
    });
  });

  test("every refusal carries the CORS headers the calling origin needs, the disallowed origin's 403 included", async () => {
    const other = await sign({ spaces: ["other"] });
    const cases = [
      [request("GET", undefined, undefined, { origin: ORIGIN }), 401, ORIGIN],
      [request("GET", other, undefined, { origin: ORIGIN }), 403, ORIGIN],
      [request("POST", await sign({ spaces: ["shop"], scope: "read" }), undefined, { origin: ORIGIN }), 403, ORIGIN],
      [request("GET", other, "https://sync.test/v1/shop/events?access_token=x", { origin: ORIGIN }), 400, ORIGIN],
      [request("GET", other, "https://sync.test/v1/", { origin: ORIGIN }), 404, ORIGIN],
      [request("GET", other, undefined, { origin: "https://evil.example" }), 403, "https://evil.example"],
    ];
    for (const [req, status, origin] of cases) {
      const { response } = await gate(req, config);
      assert.equal(response.status, status);
      assert.equal(response.headers.get("access-control-allow-origin"), origin, `${status}`);
      assert.ok(typeof (await response.json()).error === "string");
    }
  });

  test("preflights need no token; a Content-Length over 1 MiB is 413 after authorization", async () => {
    const preflight = await gate(request("OPTIONS", undefined, undefined, { origin: ORIGIN, "access-control-request-method": "POST" }), config);
    assert.equal(preflight.response.status, 204);
    // A refused origin's preflight passes, so its request follows and reads the 403.
    const refused = await gate(request("OPTIONS", undefined, undefined, { origin: "https://evil.example", "access-control-request-method": "POST" }), config);
    assert.equal(refused.response.status, 204);
    assert.equal(refused.response.headers.get("access-control-allow-origin"), "https://evil.example");
    const token = await sign({ spaces: ["shop"] });
    const big = new Request("https://sync.test/v1/shop/streams/s", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-length": String(2 ** 21) } });
    assert.equal((await gate(big, config)).response.status, 413);
  });

  test("an app's authorize hook replaces the JWT rules", async () => {
    const seen = [];
    const hook = async (req, space, access) => {
      seen.push([space, access]);
      return { ok: true, sub: "from-hook" };
    };
    const admitted = await gate(request("POST", undefined, "https://sync.test/v1/s1/streams/x"), config, hook);
    assert.equal(admitted.sub, "from-hook");
    assert.deepEqual(seen, [["s1", "write"]]);
  });

  test("finish adds headers; logLine has sub only when there is one", () => {
    const r = finish(new Response("x", { status: 201 }), { a: "1" });
    assert.equal(r.headers.get("a"), "1");
    assert.deepEqual(Object.keys(JSON.parse(logLine({ method: "GET", path: "/v1/s/events", status: 200, ms: 1 }))), ["level", "method", "path", "status", "ms"]);
    assert.equal(JSON.parse(logLine({ method: "GET", path: "/", status: 200, ms: 1, sub: "x".repeat(300) })).sub.length, 256);
    assert.equal(parseSpacePath("/v1/%FF/events").response.status, 400);
  });
});
