// @ts-check
// Shared test harness: starts the demo server (real workerd) on a free loopback port and
// drives the three browser engines through one small interface, so a browser test is
// written once and runs in each of them:
//
//   chromium  Debian's Chromium through playwright-core (never a downloaded browser)
//   firefox   Firefox ESR through geckodriver, plain W3C WebDriver over HTTP
//   webkit    WebKitGTK's MiniBrowser through WebKitWebDriver, plain W3C WebDriver, on
//             an Xvfb display the harness starts when none is set
//
// `engineSuites(body)` wraps a suite's browser tests in one `describe` per engine
// (TIDELOG_ENGINES=chromium,webkit picks some), launches the browser once per engine,
// checks after every test that no page had an uncaught error or an unhandled rejection,
// and counts the tests that ran per engine: `expectTests(n)` makes a dropped test fail.
//
// What only Chromium can do (request interception, offline emulation, the DevTools
// protocol for quota and crashes) stays on `context.chromium` / `page.chromium`, the
// Playwright objects; a test that needs them says so with `needs: ["chromium"]` and is
// reported as skipped, with that reason, in the other engines.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run",
];

/** @typedef {"chromium" | "firefox" | "webkit"} EngineName */
export const ALL_ENGINES = /** @type {EngineName[]} */ (["chromium", "firefox", "webkit"]);

/**
 * The engines this run drives: TIDELOG_ENGINES (comma separated), else all three.
 * @returns {EngineName[]}
 */
export function selectedEngines() {
  const wanted = (process.env.TIDELOG_ENGINES ?? ALL_ENGINES.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of wanted) {
    if (!ALL_ENGINES.includes(/** @type {EngineName} */ (name))) throw new Error(`TIDELOG_ENGINES: unknown engine ${name} (${ALL_ENGINES})`);
  }
  return /** @type {EngineName[]} */ (wanted);
}

/**
 * A browser process (or, for WebDriver engines, the recipe to start one per context).
 * @typedef {object} Browser
 * @property {EngineName} engine
 * @property {(options?: { viewport?: { width: number, height: number } }) => Promise<Context>} newContext
 *   a fresh profile: its own storage, cookies and origin data
 * @property {() => Promise<void>} close
 */
/**
 * One profile with its pages (tabs of one browser window group, sharing storage).
 * @typedef {object} Context
 * @property {EngineName} engine
 * @property {() => Promise<Page>} newPage
 * @property {() => Promise<void>} close closes its pages (their errors are kept for the check)
 * @property {import("playwright-core").BrowserContext} [chromium] Chromium only: the Playwright context
 */
/**
 * One tab.
 * @typedef {object} Page
 * @property {EngineName} engine
 * @property {(url: string) => Promise<void>} goto navigates and waits for the load event
 * @property {() => Promise<void>} reload
 * @property {<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>} evaluate
 *   runs `fn(arg)` in the page (its source is sent, so it sees only the page's globals) and
 *   returns its JSON-like result; undefined, NaN, Infinity, -0 and BigInt survive
 * @property {<A>(fn: (arg: A) => unknown, arg?: A | null, options?: { timeout?: number }) => Promise<unknown>} waitForFunction
 *   polls `fn(arg)` in the page until it is truthy (default timeout 10 s), returns that value
 * @property {() => Promise<string[]>} takeErrors the page's uncaught errors and unhandled
 *   rejections since the last call (the harness fails a test that leaves any)
 * @property {() => Promise<{ type: string, text: string }[]>} takeConsole the page's console
 *   messages since the last call (`type`: log, info, warn, error, debug); under WebDriver
 *   those of the document's own scripts, from its load event on
 * @property {() => Promise<void>} close
 * @property {import("playwright-core").Page} [chromium] Chromium only: the Playwright page
 *
 * Acting as a person does (real input events: Playwright in Chromium, WebDriver element
 * commands elsewhere). A `Selector` is CSS, or XPath after `xpath=`; each waits (up to
 * 10 s) for its element to be there first.
 * @property {(selector: string) => Promise<void>} click
 * @property {(selector: string, text: string) => Promise<void>} fill clears the field, types `text`
 * @property {(selector: string, key: "Tab" | "Enter") => Promise<void>} press
 * @property {(selector: string, value: string) => Promise<void>} selectOption picks the `<option>` of that value
 * @property {(selector: string) => Promise<string>} textOf the element's text content
 * @property {(selector: string) => Promise<boolean>} isChecked
 * @property {(selector: string) => Promise<number>} count how many elements match now (no wait)
 * @property {(selector: string, options?: { timeout?: number }) => Promise<void>} waitForSelector
 * @property {(file: string) => Promise<void>} screenshot a PNG of the page
 */

/** A free TCP port on 127.0.0.1. @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The sync servers the protocol suite (tests/js/server.test.mjs) runs against, by name:
 * each turns the suite's environment (TIDELOG_DATA_DIR names the server's storage) into
 * the environment of `scripts/demo/serve` for that server.
 * `TIDELOG_SERVERS=node-pg,workerd` picks some.
 */
export const SERVER_TARGETS = {
  /** tidelog/worker in workerd, SQLite-backed Durable Objects on the SQL API (the default). */
  workerd: async (env) => ({ ...env, SERVER: "workerd", TIDELOG_STORAGE: "" }),
  /** The same on the Durable Object key-value API (TIDELOG_STORAGE=kv). */
  "workerd-kv": async (env) => ({ ...env, SERVER: "workerd", TIDELOG_STORAGE: "kv" }),
  /** tidelog/worker under `npx wrangler dev` (startWrangler: the package's wrangler.toml.example, .dev.vars). */
  wrangler: async (env) => ({ ...env, SERVER: "wrangler" }),
  /** tidelog/server in Node on the embedded default (the log file in TIDELOG_DATA_DIR). */
  "node-file": async (env) => ({ ...env, SERVER: "node" }),
  /** tidelog/server in Node on PostgreSQL (one database per TIDELOG_DATA_DIR; tests/js/postgres.mjs). */
  "node-pg": async (env) => {
    const { postgres } = await import("./postgres.mjs");
    return { ...env, SERVER: "node", DATABASE_URL: (await postgres()).database(env.TIDELOG_DATA_DIR ?? "default") };
  },
};

/** The names of the targets to run (all of SERVER_TARGETS unless TIDELOG_SERVERS narrows them). */
export function serverTargets() {
  const all = Object.keys(SERVER_TARGETS);
  const picked = (process.env.TIDELOG_SERVERS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = picked.filter((name) => !all.includes(name));
  if (unknown.length) throw new Error(`TIDELOG_SERVERS: unknown ${unknown.join(", ")}; one of ${all.join(", ")}`);
  return picked.length ? picked : all;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a truthy value or `ms` pass; then throws `what`.
 * The bounded replacement for `while (!done) await sleep(..)`.
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {{ timeout?: number, interval?: number, what?: string }} [options]
 * @returns {Promise<T>}
 */
export async function waitUntil(check, { timeout = 10_000, interval = 20, what = "the condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

/**
 * Starts `scripts/demo/serve` (workerd, or the `target` of SERVER_TARGETS; `wrangler`
 * runs startWrangler) and resolves once it answers; `stop()` ends it.
 * @param {Record<string, string>} [extraEnv] @param {string} [target]
 */
export async function startServer(extraEnv = {}, target = "workerd") {
  if (!SERVER_TARGETS[target]) throw new Error(`no server target ${target}`);
  extraEnv = await SERVER_TARGETS[target](extraEnv);
  if (extraEnv.SERVER === "wrangler") {
    const { SERVER: _, ...env } = extraEnv;
    return startWrangler(env);
  }
  const port = await freePort();
  const child = spawn(path.join(root, "scripts/demo/serve"), [], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const response = await fetch(`${base}/pkg/package.json`);
      if (response.ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the demo server did not start:\n${output}`);
    }
    await sleep(100);
  }
  return {
    base,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * Starts `npx wrangler dev` as a user runs it: an app folder with the package installed
 * (node_modules/tidelog is the built pkg/), the package's wrangler.toml.example copied as
 * wrangler.toml unchanged, and `env` written to .dev.vars (empty values left out);
 * TIDELOG_DATA_DIR is --persist-to. Offline: nothing needs the network. Resolves once
 * /v1/ answers; `stop()` ends wrangler and its workerd and removes the app folder.
 */
export async function startWrangler(env) {
  const { TIDELOG_DATA_DIR: dataDir, ...vars } = env;
  const app = mkdtempSync(path.join(tmpdir(), "tidelog-wrangler-app-"));
  mkdirSync(path.join(app, "node_modules"));
  symlinkSync(path.join(root, "pkg"), path.join(app, "node_modules/tidelog"), "dir");
  cpSync(path.join(root, "pkg/worker/wrangler.toml.example"), path.join(app, "wrangler.toml"));
  // Single quotes keep a value verbatim in .dev.vars (dotenv leaves \" escaped in double quotes: a JWK's JSON).
  const quote = (v) => (/['\n]/.test(v) ? JSON.stringify(v) : `'${v}'`);
  const lines = Object.entries(vars).filter(([k, v]) => k.startsWith("TIDELOG_") && v !== "").map(([k, v]) => `${k}=${quote(v)}`);
  writeFileSync(path.join(app, ".dev.vars"), lines.join("\n") + "\n");
  const port = await freePort();
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", dataDir,
    "--inspector-port", String(await freePort()), "--show-interactive-dev-session=false"];
  const child = spawn(path.join(root, "node_modules/.bin/wrangler"), args, {
    cwd: app,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", WRANGLER_LOG_PATH: path.join(app, "logs") },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: wrangler runs workerd as a child
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/v1/`)).status === 404) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      killGroup("SIGKILL");
      rmSync(app, { recursive: true, force: true });
      throw new Error(`wrangler dev did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        killGroup("SIGTERM");
        const timer = setTimeout(() => killGroup("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(app, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------
// Network faults for every engine: an HTTP proxy in front of the server

/**
 * What a route handler gets: the request, and one of four answers (Playwright's names).
 * @typedef {object} ProxyRoute
 * @property {() => { method(): string, url(): string, headers(): Record<string, string | string[] | undefined> }} request
 *   the request (Playwright's shape); `url()` is the absolute URL as the page asked for it
 * @property {() => Promise<void>} continue passes the request on to the server
 * @property {(response: { status: number, contentType?: string, headers?: Record<string, string>, body?: string }) => Promise<void>} fulfill
 *   answers without the server
 * @property {() => Promise<void>} abort drops the connection: the page sees a network error
 * @property {() => Promise<{ status: number, body: string }>} fetch sends it to the server
 *   and returns the answer without passing it on (then `abort`: an applied, unanswered request)
 */

/**
 * Starts an HTTP proxy in front of `target` (the demo server): pages loaded from its
 * `base` reach the server through it, and `route(glob, handler)` lets a test refuse,
 * answer, drop or stall requests, in every engine alike (what Playwright's `route` does
 * in Chromium only). Each proxy is its own origin (its own port), so its own storage.
 * Every answer closes its connection: a browser never retries a request silently on a
 * reused connection the proxy dropped.
 * @param {string} target
 */
export async function startProxy(target) {
  const { createServer: createHttpServer, request: httpRequest } = await import("node:http");
  /** @type {{ glob: string, pattern: RegExp, handler: (route: ProxyRoute) => unknown }[]} */
  let routes = [];
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  const targetUrl = new URL(target);
  /** @param {string} method @param {string} url @param {import("node:http").IncomingHttpHeaders} headers @param {Buffer} body */
  const forward = (method, url, headers, body) => new Promise((resolve, reject) => {
    const req = httpRequest({ host: targetUrl.hostname, port: targetUrl.port, method, path: url,
      headers: { ...headers, host: targetUrl.host, connection: "close" } }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on("data", (d) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
  const server = createHttpServer(async (req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    /** @param {number} status @param {Record<string, any>} headers @param {Buffer | string} payload */
    const send = (status, headers, payload) => {
      const { connection, "keep-alive": _k, "transfer-encoding": _t, "content-length": _l, ...rest } = headers;
      res.writeHead(status, { ...rest, "content-length": Buffer.byteLength(payload), connection: "close" });
      res.end(payload);
    };
    const pass = async () => {
      const answer = /** @type {any} */ (await forward(method, url, req.headers, body));
      send(answer.status, answer.headers, answer.body);
    };
    const route = routes.find((r) => r.pattern.test(url));
    try {
      if (!route) return await pass();
      /** @type {ProxyRoute} */
      const handle = {
        request: () => ({ method: () => method, url: () => `http://${req.headers.host}${url}`, headers: () => req.headers }),
        continue: pass,
        async fulfill({ status, contentType, headers = {}, body = "" }) {
          send(status, { ...(contentType ? { "content-type": contentType } : {}), ...headers }, body);
        },
        async abort() { req.socket.destroy(); },
        async fetch() {
          const answer = /** @type {any} */ (await forward(method, url, req.headers, body));
          return { status: answer.status, body: answer.body.toString() };
        },
      };
      await route.handler(handle);
    } catch {
      req.socket.destroy();
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    base: `http://127.0.0.1:${address.port}`,
    /**
     * Routes requests whose path (with query) matches `glob` (`**` any characters, `*`
     * any but `/`) to `handler`; the latest route that matches wins.
     * @param {string} glob @param {(route: ProxyRoute) => unknown} handler
     */
    route(glob, handler) {
      const pattern = new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\u0000").replace(/\*/g, "[^/]*").replace(/\u0000/g, ".*")}$`);
      routes.unshift({ glob, pattern, handler });
    },
    /** Removes the routes of `glob` (every route without one). @param {string} [glob] */
    unroute(glob) {
      routes = glob === undefined ? [] : routes.filter((r) => r.glob !== glob);
    },
    /** Drops every connection the sync server is reached by (`offline`) until `online()`. */
    offline() { this.route("/v1/**", (r) => r.abort()); },
    online() { routes = []; },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Page errors: every page the harness opened, until the check after the test took them.

/** @type {Set<Page>} */
const livePages = new Set();
/** @type {string[]} */
const closedPageErrors = [];

/** The uncaught errors and unhandled rejections of every page since the last call. */
export async function takeAllPageErrors() {
  const errors = closedPageErrors.splice(0);
  for (const page of livePages) errors.push(...(await page.takeErrors().catch((e) => [`(could not read the page's errors: ${e.message})`])));
  return errors;
}

/** @param {Page} page */
async function retire(page) {
  if (!livePages.delete(page)) return;
  closedPageErrors.push(...(await page.takeErrors().catch(() => [])));
}

// ---------------------------------------------------------------------------------------
// Chromium: playwright-core

/** Headless Debian Chromium. @returns {Promise<Browser>} */
export async function launchChromium() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  return {
    engine: "chromium",
    newContext: async (options = {}) => chromiumContext(await browser.newContext(options)),
    close: () => browser.close(),
  };
}

/** The harness's Context over a Playwright context (also a persistent one).
 * @param {import("playwright-core").BrowserContext} context @returns {Context} */
export function chromiumContext(context) {
  /** @type {Set<Page>} */
  const pages = new Set();
  return {
    engine: "chromium",
    chromium: context,
    async newPage() {
      const page = chromiumPage(await context.newPage());
      pages.add(page);
      return page;
    },
    async close() {
      for (const page of pages) await retire(page);
      await context.close();
    },
  };
}

/** @param {import("playwright-core").Page} pw @returns {Page} */
function chromiumPage(pw) {
  /** @type {string[]} */
  let errors = [];
  /** @type {{ type: string, text: string }[]} */
  let messages = [];
  pw.on("pageerror", (e) => errors.push(String(e)));
  pw.on("console", (m) => messages.push({ type: m.type() === "warning" ? "warn" : m.type(), text: m.text() }));
  /** @type {Page} */
  const page = {
    engine: "chromium",
    chromium: pw,
    async goto(url) { await pw.goto(url); },
    async reload() { await pw.reload(); },
    evaluate: (fn, arg) => pw.evaluate(/** @type {any} */ (fn), arg),
    async waitForFunction(fn, arg, { timeout = 10_000 } = {}) {
      const handle = await pw.waitForFunction(/** @type {any} */ (fn), arg, { timeout });
      return handle.jsonValue();
    },
    async takeErrors() { const out = errors; errors = []; return out; },
    async takeConsole() { const out = messages; messages = []; return out; },
    click: (selector) => pw.locator(selector).click(),
    fill: (selector, text) => pw.locator(selector).fill(text),
    press: (selector, key) => pw.locator(selector).press(key),
    async selectOption(selector, value) { await pw.locator(selector).selectOption(value); },
    async textOf(selector) { return (await pw.locator(selector).textContent()) ?? ""; },
    isChecked: (selector) => pw.locator(selector).isChecked(),
    count: (selector) => pw.locator(selector).count(),
    async waitForSelector(selector, { timeout = 10_000 } = {}) { await pw.locator(selector).first().waitFor({ timeout }); },
    async screenshot(file) { await pw.screenshot({ path: file, fullPage: true }); },
    async close() {
      await retire(page);
      await pw.close();
    },
  };
  livePages.add(page);
  return page;
}

// ---------------------------------------------------------------------------------------
// Firefox and WebKit: W3C WebDriver over HTTP, one driver process and session per context
// (geckodriver serves one session; a session is a profile), one window per page.

/** @param {string} name */
function findOnPath(name, extra = /** @type {string[]} */ ([])) {
  const dirs = [...(process.env.PATH ?? "").split(":"), path.join(os.homedir(), ".cargo/bin"), ...extra];
  return dirs.map((d) => d && path.join(d, name)).find((p) => p && existsSync(p));
}

/** Processes the harness started (Xvfb, drivers): ended when this process ends, also by
 * a signal (a test file the runner stops), so none is left behind. @type {Set<import("node:child_process").ChildProcess>} */
const helpers = new Set();
const endHelpers = () => { for (const child of helpers) if (child.exitCode === null) child.kill("SIGTERM"); };
process.on("exit", endHelpers);
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.once(signal, () => { endHelpers(); process.exit(128 + (signal === "SIGINT" ? 2 : 15)); });
}
/** @param {import("node:child_process").ChildProcess} child */
const track = (child) => { helpers.add(child); child.once("exit", () => helpers.delete(child)); return child; };

/** @type {Promise<string> | undefined} */
let xDisplay;
/** An X display for WebKitGTK: $DISPLAY, else an Xvfb the harness starts (ended on exit). */
function display() {
  if (process.env.DISPLAY) return Promise.resolve(process.env.DISPLAY);
  xDisplay ??= new Promise((resolve, reject) => {
    const xvfb = track(spawn("Xvfb", ["-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1280x1024x24"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    }));
    let out = "";
    let err = "";
    xvfb.stderr?.on("data", (d) => (err += d));
    xvfb.stdio[3]?.on("data", (d) => {
      out += d;
      if (!out.includes("\n")) return;
      resolve(`:${out.trim()}`);
      // Running, it keeps no test process alive; it ends with the process.
      xvfb.unref();
      /** @type {any} */ (xvfb.stdio[3])?.unref?.();
      /** @type {any} */ (xvfb.stderr)?.unref?.();
    });
    xvfb.on("error", (e) => reject(new Error(`cannot start Xvfb (scripts/bootstrap installs xvfb): ${e.message}`)));
    xvfb.on("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${err}`)));
  });
  return xDisplay;
}

/** @param {"firefox" | "webkit"} engine */
async function driverSetup(engine) {
  if (engine === "firefox") {
    const binary = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
    const driver = process.env.GECKODRIVER ?? findOnPath("geckodriver");
    if (!existsSync(binary) || !driver) throw new Error(`Firefox needs ${binary} and geckodriver (scripts/bootstrap installs both)`);
    return {
      driver,
      args: (/** @type {number} */ port) => ["--host", "127.0.0.1", "--port", String(port)],
      env: {},
      capabilities: {
        browserName: "firefox",
        "moz:firefoxOptions": {
          binary, args: ["-headless"],
          prefs: {
            "network.proxy.type": 0, "app.update.enabled": false, "browser.shell.checkDefaultBrowser": false,
            // A JSON document (the pages start at /pkg/package.json) as plain text, not the
            // viewer (a privileged page scripts cannot run in).
            "devtools.jsonview.enabled": false,
          },
        },
      },
    };
  }
  const binary = process.env.MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
  const driver = process.env.WEBKITWEBDRIVER ?? findOnPath("WebKitWebDriver");
  if (!existsSync(binary) || !driver) throw new Error(`WebKit needs ${binary} and WebKitWebDriver (scripts/bootstrap installs webkit2gtk-driver)`);
  return {
    driver,
    args: (/** @type {number} */ port) => [`--port=${port}`],
    env: { DISPLAY: await display() },
    capabilities: { "webkitgtk:browserOptions": { binary, args: ["--automation"] } },
  };
}

/**
 * Firefox or WebKit over WebDriver. The driver and its browser start once, with the first
 * context: starting them takes seconds, and geckodriver serves one session. A context is
 * then a group of windows of that one session (one profile): what a test keeps apart it
 * keeps apart by database names and by origin (each `startProxy` is its own origin),
 * not by a fresh profile as Chromium's contexts give.
 * @param {"firefox" | "webkit"} engine @returns {Promise<Browser>}
 */
export async function launchWebDriver(engine) {
  const setup = await driverSetup(engine);
  /** @type {Promise<Awaited<ReturnType<typeof webDriverSession>>> | undefined} */
  let session;
  /** @type {Set<Context>} */
  const contexts = new Set();
  return {
    engine,
    async newContext(options = {}) {
      const s = await (session ??= webDriverSession(engine, setup));
      /** @type {Set<Page>} */
      const pages = new Set();
      /** @type {Context} */
      const context = {
        engine,
        async newPage() {
          const { handle } = await s.command(s.first, "POST", "/window/new", { type: "tab" });
          if (options.viewport) await s.command(handle, "POST", "/window/rect", options.viewport).catch(() => {});
          const page = webDriverPage(engine, handle, s.command, async () => {
            pages.delete(page);
            await s.command(handle, "DELETE", "/window");
          });
          pages.add(page);
          return page;
        },
        async close() {
          contexts.delete(context);
          for (const page of [...pages]) await page.close();
        },
      };
      contexts.add(context);
      return context;
    },
    async close() {
      for (const context of [...contexts]) await context.close();
      if (session) await (await session).close();
    },
  };
}

/**
 * Starts the driver and one session. Closing a session's last window ends it, so the
 * first window stays on about:blank for the session's life and every page is a window of
 * its own: closing a page closes its window (a navigation away would leave the document in
 * WebKit's back/forward cache, still holding its IndexedDB connection).
 * @param {EngineName} engine
 * @param {Awaited<ReturnType<typeof driverSetup>>} setup
 */
async function webDriverSession(engine, setup) {
  const port = await freePort();
  const profile = mkdtempSync(path.join(os.tmpdir(), `tidelog-${engine}-`));
  const child = track(spawn(setup.driver, setup.args(port), {
    env: { ...process.env, ...setup.env, TMPDIR: profile },
    stdio: ["ignore", "pipe", "pipe"],
  }));
  let output = "";
  child.stdout?.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on("data", (d) => (output = (output + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  // One command at a time per session; each names the window it is for.
  let queue = Promise.resolve();
  /** @type {string | null} */
  let current = null;
  /** @param {string} method @param {string} url @param {unknown} [body] */
  const raw = async (method, url, body) => {
    if (process.env.TIDELOG_WEBDRIVER_LOG) console.log(`webdriver ${engine}: ${method} ${url.replace(/^\/session\/[^/]+/, "")} ${JSON.stringify(body ?? "").slice(0, 100)}`);
    const response = await fetch(base + url, {
      method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = /** @type {any} */ (await response.json());
    if (!response.ok) throw new Error(`WebDriver ${method} ${url.replace(/^\/session\/[^/]+/, "")}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  };
  const kill = () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
  };
  /** @type {string} */
  let session;
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await raw("GET", "/status")).ready !== undefined) break;
      } catch {}
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${setup.driver} did not start:\n${output}`);
      await sleep(50);
    }
    session = (await raw("POST", "/session", { capabilities: { alwaysMatch: setup.capabilities } })).sessionId;
    await raw("POST", `/session/${session}/timeouts`, { script: 60_000, pageLoad: 60_000 });
  } catch (e) {
    kill();
    throw e;
  }
  /**
   * Runs `method url` in window `handle` (switching to it first), after every command
   * sent before it.
   * @param {string | null} handle @param {string} method @param {string} url @param {unknown} [body]
   */
  const command = (handle, method, url, body) => {
    const run = queue.then(async () => {
      if (handle && handle !== current) {
        await raw("POST", `/session/${session}/window`, { handle });
        current = handle;
      }
      const value = await raw(method, `/session/${session}${url}`, body);
      if (method === "DELETE" && url === "/window") current = null;
      return value;
    });
    queue = run.then(() => {}, () => {});
    return run;
  };
  const first = /** @type {string} */ (await command(null, "GET", "/window"));
  current = first;
  return {
    first,
    command,
    async close() {
      await command(null, "DELETE", "").catch(() => {});
      kill();
    },
  };
}

// The page side of `evaluate`: a call starts `fn(arg)` and keeps its promise under an id;
// polls (each at most 200 ms, so other pages of the session get their turn) return the
// outcome once settled. So calls in several pages at once run at once, as in Playwright.
// Results travel tagged: undefined, NaN, +-Infinity, -0 and BigInt survive JSON.
const PAGE_PRELUDE = `
const tl = (window.__tidelogHarness ??= (() => {
  const h = { calls: new Map(), next: 0, errors: [], console: [] };
  addEventListener("error", (e) => h.errors.push(String(e.error ?? e.message)));
  addEventListener("unhandledrejection", (e) => h.errors.push("unhandled rejection: " + String(e.reason)));
  for (const type of ["log", "info", "warn", "error", "debug"]) {
    const original = console[type];
    console[type] = (...args) => {
      h.console.push({ type, text: args.map((a) => (typeof a === "object" && a !== null ? (() => { try { return JSON.stringify(a); } catch { return String(a); } })() : String(a))).join(" ") });
      return original.apply(console, args);
    };
  }
  h.encode = (v, seen = new Set()) => {
    if (v === undefined) return { $: "undefined" };
    if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0) ? v : { $: "number", v: Object.is(v, -0) ? "-0" : String(v) };
    if (typeof v === "bigint") return { $: "bigint", v: String(v) };
    if (v === null || typeof v !== "object") return typeof v === "function" || typeof v === "symbol" ? { $: "undefined" } : v;
    if (seen.has(v)) throw new TypeError("evaluate: the result has a cycle");
    seen.add(v);
    let out;
    if (Array.isArray(v)) out = v.map((x) => h.encode(x, seen));
    else if (v instanceof Date) out = { $: "date", v: v.getTime() };
    else {
      if (typeof v.toJSON === "function") { seen.delete(v); return h.encode(v.toJSON(), seen); }
      const o = {};
      for (const k of Object.keys(v)) o[k] = h.encode(v[k], seen);
      out = Object.keys(o).some((k) => k === "$") ? { $: "object", v: o } : o;
    }
    seen.delete(v);
    return out;
  };
  return h;
})());
`;

/** WebDriver's key for an element reference, and the keys `press` knows. */
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const KEYS = { Tab: "\uE004", Enter: "\uE007" };
/** A selector as a WebDriver locator: CSS, or XPath after `xpath=`. @param {string} selector */
const locate = (selector) => selector.startsWith("xpath=")
  ? { using: "xpath", value: selector.slice("xpath=".length) }
  : { using: "css selector", value: selector };

/** @param {any} v @returns {any} */
function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v === null || typeof v !== "object") return v;
  if ("$" in v) {
    switch (v.$) {
      case "undefined": return undefined;
      case "number": return Number(v.v);
      case "bigint": return BigInt(v.v);
      case "date": return new Date(v.v);
      case "object": return decode(v.v);
    }
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k] = decode(x);
  return out;
}

/** @param {unknown} arg */
function encodeArg(arg) {
  return JSON.stringify(arg === undefined ? null : arg, (_, v) => (typeof v === "bigint" ? { $bigint: String(v) } : v));
}

/**
 * @param {EngineName} engine
 * @param {string} handle
 * @param {(handle: string | null, method: string, url: string, body?: unknown) => Promise<any>} command
 * @param {() => Promise<void>} closeWindow
 * @returns {Page}
 */
function webDriverPage(engine, handle, command, closeWindow) {
  let closed = false;
  /**
   * Runs `body` (the body of an async function; `args` holds `args`) in the page's own
   * realm, not the driver's script sandbox (Firefox runs WebDriver scripts in one, where
   * object literals are not the page's plain objects), and returns its JSON result.
   * @param {string} body @param {unknown[]} [args]
   */
  const inPage = async (body, args = []) => {
    const code = `(async () => { ${PAGE_PRELUDE}\nconst args = JSON.parse(${JSON.stringify(encodeArg(args))}, (_, v) => (v && typeof v === "object" && "$bigint" in v ? BigInt(v.$bigint) : v));\n${body}\n})().then((v) => JSON.stringify(v === undefined ? null : v))`;
    const json = await command(handle, "POST", "/execute/async", {
      script: `const done = arguments[arguments.length - 1];
        const w = window.wrappedJSObject ?? window;
        const fail = (e) => done(JSON.stringify({ harnessError: String(e) }));
        try { w.eval(arguments[0]).then(done, fail); } catch (e) { fail(e); }`,
      args: [code],
    });
    const value = JSON.parse(json);
    if (value && typeof value === "object" && "harnessError" in value) throw new Error(`in ${engine}'s page: ${value.harnessError}`);
    return value;
  };
  // Loaded documents each start a fresh harness object (the errors listeners with it).
  const install = () => inPage("return true;");
  /** @param {Function} fn @param {unknown} arg */
  const start = (fn, arg) => inPage(`
    const id = ++tl.next;
    const entry = { done: false };
    entry.promise = (async () => (${fn.toString()})(args[0]))().then(
      (value) => { entry.done = true; try { entry.result = { ok: tl.encode(value) }; } catch (e) { entry.result = { error: String(e) }; } },
      (e) => { entry.done = true; entry.result = { error: e instanceof Error ? (e.name + ": " + e.message + "\\n" + (e.stack ?? "")) : "thrown: " + String(e) }; });
    tl.calls.set(id, entry);
    return id;`, [arg]);
  /** @param {number} id */
  const poll = (id) => inPage(`
    const entry = tl.calls.get(args[0]);
    if (!entry) return { lost: true };
    if (!entry.done) await Promise.race([entry.promise, new Promise((r) => setTimeout(r, 200))]);
    if (!entry.done) return { pending: true };
    tl.calls.delete(args[0]);
    return entry.result;`, [id]);
  /** @param {string} selector @returns {Promise<string>} the element id of its first match, once there */
  const element = async (selector, timeout = 10_000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = await command(handle, "POST", "/elements", locate(selector));
      if (found.length > 0) return found[0][ELEMENT];
      if (Date.now() > deadline) throw new Error(`no element ${selector} after ${timeout} ms`);
      await sleep(50);
    }
  };
  /**
   * Runs `op` on the element of `selector`, finding it again when the page replaced it in
   * between (a re-rendered list: "stale element reference").
   * @template T @param {string} selector @param {(id: string) => Promise<T>} op @returns {Promise<T>}
   */
  const onElement = async (selector, op) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op(await element(selector));
      } catch (e) {
        if (attempt < 5 && /stale element/.test(String(/** @type {Error} */ (e).message))) continue;
        throw e;
      }
    }
  };
  /** @type {Page} */
  const page = {
    engine,
    async goto(url) {
      await command(handle, "POST", "/url", { url });
      // A page whose Content-Security-Policy forbids eval cannot take the harness: its
      // tests read the DOM (textOf), and evaluate there reports the host's refusal.
      await install().catch((/** @type {unknown} */ e) => {
        if (!/EvalError/.test(String(e))) throw e;
      });
    },
    async reload() {
      await command(handle, "POST", "/refresh", {});
      await install();
    },
    async evaluate(fn, arg) {
      const id = await start(fn, arg);
      for (;;) {
        if (closed) throw new Error("evaluate: the page was closed");
        const result = await poll(id);
        if (result?.pending) continue;
        if (result?.lost) throw new Error("evaluate: the page navigated or reloaded before the call settled");
        if ("error" in result) throw new Error(`evaluate in ${engine}: ${result.error}`);
        return decode(result.ok);
      }
    },
    async waitForFunction(fn, arg, { timeout = 10_000 } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const value = await page.evaluate(fn, arg);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`waitForFunction: not true after ${timeout} ms: ${fn}`);
        await sleep(30);
      }
    },
    async takeErrors() {
      if (closed) return [];
      return inPage("return tl.errors.splice(0);");
    },
    async takeConsole() {
      if (closed) return [];
      return inPage("return tl.console.splice(0);");
    },
    async click(selector) {
      await onElement(selector, (id) => command(handle, "POST", `/element/${id}/click`, {}));
    },
    async fill(selector, text) {
      await onElement(selector, async (id) => {
        await command(handle, "POST", `/element/${id}/clear`, {});
        await command(handle, "POST", `/element/${id}/value`, { text });
      });
    },
    async press(selector, key) {
      await onElement(selector, (id) => command(handle, "POST", `/element/${id}/value`, { text: KEYS[key] }));
    },
    async selectOption(selector, value) {
      await onElement(`${selector} option[value="${value}"]`, (id) => command(handle, "POST", `/element/${id}/click`, {}));
    },
    async textOf(selector) {
      return (await onElement(selector, (id) => command(handle, "GET", `/element/${id}/property/textContent`))) ?? "";
    },
    async isChecked(selector) {
      return onElement(selector, (id) => command(handle, "GET", `/element/${id}/selected`));
    },
    async count(selector) {
      return (await command(handle, "POST", "/elements", locate(selector))).length;
    },
    async waitForSelector(selector, { timeout = 10_000 } = {}) {
      await element(selector, timeout);
    },
    async screenshot(file) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(file, Buffer.from(await command(handle, "GET", "/screenshot"), "base64"));
    },
    async close() {
      if (closed) return;
      await retire(page);
      closed = true;
      await closeWindow();
    },
  };
  livePages.add(page);
  return page;
}

/** @param {EngineName} engine @returns {Promise<Browser>} */
export function launchBrowser(engine) {
  return engine === "chromium" ? launchChromium() : launchWebDriver(engine);
}

// ---------------------------------------------------------------------------------------
// Pages with the package loaded

/** Opens `url` in a new page of `context`. @param {Context} context @param {string} url */
export async function openPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

/** A page of `base`'s origin with the built package loaded and initialised as
 * `window.tidelog` (for suites that drive the JS API in the page).
 * @param {Context} context @param {string} base */
export async function tidelogPage(context, base) {
  const page = await openPage(context, `${base}/pkg/package.json`);
  await page.evaluate(async () => {
    // @ts-ignore: the page's module, served by the demo server
    const tidelog = await import("/pkg/tidelog.js");
    await tidelog.default();
    /** @type {any} */ (window).tidelog = tidelog;
  });
  return page;
}

// ---------------------------------------------------------------------------------------
// One suite body per engine, with the checks every browser test gets

/**
 * @typedef {object} EngineSuite
 * @property {EngineName} engine
 * @property {Browser} browser launched before the suite's first test of this engine
 * @property {(name: string, options: { needs?: EngineName[], reason?: string, timeout?: number } | ((t: any) => Promise<void>), fn?: (t: any) => Promise<void>) => void} test
 *   node:test's `test`, counted; `needs: ["chromium"]` with a `reason` skips it elsewhere
 * @property {(n: number) => void} expectTests the suite fails unless exactly `n` of its tests ran here
 */

/** Each browser test's own limit (node 20's --test-timeout times whole files): a hang
 * fails that test, and the suite goes on. */
export const TEST_TIMEOUT = Number(process.env.TIDELOG_TEST_TIMEOUT ?? 120_000);

/**
 * Declares `body`'s tests once per selected engine, each engine in its own `describe`.
 * @param {string} suite a name for the report
 * @param {(s: EngineSuite) => void} body
 * @param {{ engines?: EngineName[] }} [options]
 */
export function engineSuites(suite, body, { engines = selectedEngines() } = {}) {
  const filtered = process.execArgv.some((a) => a.startsWith("--test-name-pattern") || a === "--test-only");
  for (const engine of engines) {
    describe(`${engine}`, () => {
      /** @type {EngineSuite} */
      const s = /** @type {any} */ ({ engine, browser: undefined });
      let declared = 0, ran = 0, skipped = 0;
      /** @type {number | undefined} */
      let expected;
      s.expectTests = (n) => (expected = n);
      s.test = (name, options, fn) => {
        if (typeof options === "function") { fn = options; options = {}; }
        const { needs, reason, timeout = TEST_TIMEOUT } = options;
        declared += 1;
        const skip = needs && !needs.includes(engine) ? `${engine}: ${reason ?? `needs ${needs.join(" or ")}`}` : false;
        test(name, { skip, timeout }, async (t) => {
          if (!skip) ran += 1;
          return /** @type {Function} */ (fn)(t);
        });
        if (skip) skipped += 1;
      };
      before(async () => {
        s.browser = await launchBrowser(engine);
        await takeAllPageErrors(); // none carried over from another suite
      });
      afterEach(async () => {
        const errors = await takeAllPageErrors();
        assert.deepEqual(errors, [], `${engine}: uncaught errors or unhandled rejections in the test's pages`);
      });
      after(async () => {
        await s.browser?.close();
        // A count on the report; with expectTests, a dropped test fails the suite.
        console.log(`${suite} in ${engine}: ${ran} tests ran, ${skipped} skipped (${declared} declared)`);
        if (expected !== undefined) assert.equal(declared, expected, `${suite} in ${engine}: ${declared} tests declared, ${expected} expected`);
        // Every test not skipped ran, unless a name pattern picked some (make test-js GREP=).
        if (!filtered) assert.equal(ran + skipped, declared, `${suite} in ${engine}: ${declared - ran - skipped} tests did not run`);
      });
      body(s);
    });
  }
}
