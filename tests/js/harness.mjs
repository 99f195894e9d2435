// Shared test harness: starts the demo server (real workerd) on a free loopback port and
// launches headless Chromium through playwright-core (never a downloaded browser).
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run",
];

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
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

/**
 * Starts `scripts/demo/serve` (workerd, or the `target` of SERVER_TARGETS; `wrangler`
 * runs startWrangler) and resolves once it answers; `stop()` ends it.
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
    await new Promise((r) => setTimeout(r, 100));
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

/** Headless Debian Chromium. */
export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** Opens `url` in a new page, recording console errors and uncaught exceptions. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  await page.goto(url);
  return page;
}

/** A page of `base`'s origin with the built package loaded and initialised as
 * `window.tidelog` (for suites that drive the JS API in the page). */
export async function tidelogPage(context, base) {
  const page = await openPage(context, `${base}/pkg/package.json`);
  await page.evaluate(async () => {
    const tidelog = await import("/pkg/tidelog.js");
    await tidelog.default();
    window.tidelog = tidelog;
  });
  return page;
}
