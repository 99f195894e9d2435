#!/usr/bin/env node
// `make bench`: tidelog against raw IndexedDB (the floor) and Dexie, in the same browser
// run. Builds nothing (the Makefile builds pkg/ first). Serves bench/, pkg/ and Dexie's
// dist/ from a small node:http server on loopback, drives headless Chromium
// (playwright-core, /usr/bin/chromium) and headless Firefox ESR (geckodriver, WebDriver
// classic: playwright-core's own Firefox needs its patched build, and its BiDi route
// fails on Firefox ESR's missing emulation.setMediaFeaturesOverride), then writes
// bench/results/latest.json and appends a Markdown table to BENCHMARKS.md.
//
//   node bench/run.mjs            full run (BENCH_SCALE=1, BENCH_RUNS=5)
//   node bench/run.mjs --smoke    tiny run; checks only that every case gave a number;
//                                 writes bench/results/smoke.json, not BENCHMARKS.md
//   node bench/run.mjs --render [file.json]   prints the Markdown of a stored result
// Environment: BENCH_SCALE (workload multiplier), BENCH_RUNS (runs per figure, >= 1),
// BENCH_BROWSERS ("chromium,firefox"), CHROMIUM, FIREFOX, GECKODRIVER (binaries).

import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { gitState, packageSizes } from "./sizes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const smoke = process.argv.includes("--smoke");
const scale = Number(process.env.BENCH_SCALE ?? (smoke ? 0.01 : 1));
const runs = Math.max(1, Math.floor(Number(process.env.BENCH_RUNS ?? (smoke ? 1 : 5))));
// A cold start is one page load (about 0.1 s) and its spread between pages is wide, so
// it takes three times the runs of the other cases.
const coldRuns = runs * 3;
const browsers = (process.env.BENCH_BROWSERS ?? "chromium,firefox").split(",").map((s) => s.trim()).filter(Boolean);
if (!(scale > 0 && scale <= 10)) throw new Error(`BENCH_SCALE must be in (0, 10], got ${process.env.BENCH_SCALE}`);

const IMPLS = ["tidelog", "raw", "dexie"];
const LABEL = { tidelog: "tidelog", raw: "raw IDB", dexie: "Dexie 4" };
const CALL_TIMEOUT_MS = 10 * 60 * 1000; // one case call; everything is bounded by it

// Workload sizes (scale 1 = the figures the tracker asks for).
const sizes = {
  batchTotal: Math.max(100, Math.round(20000 * scale)), // events per batched-append run
  batch: Math.min(1000, Math.max(10, Math.round(20000 * scale))),
  single: Math.max(20, Math.round(500 * scale)), // single-event appends per run
  stream: Math.max(1000, Math.round(100000 * scale)), // events in the read/replay stream
  page: Math.min(1000, Math.max(100, Math.round(100000 * scale) / 10)),
  coldEvents: 1000,
};

const log = (...a) => console.log("bench:", ...a);

// ---------------------------------------------------------------------------------
// Static server (loopback only)

const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm",
  ".json": "application/json", ".map": "application/json", ".css": "text/css",
  ".ts": "text/plain; charset=utf-8",
};
const MOUNTS = [
  ["/bench/", path.join(root, "bench")],
  ["/pkg/", path.join(root, "pkg")],
  ["/vendor/dexie/", path.join(root, "node_modules/dexie/dist")],
];

function startStatic() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    let pathname = decodeURIComponent(url.pathname);
    if (pathname === "/") pathname = "/bench/index.html";
    const mount = MOUNTS.find(([prefix]) => pathname.startsWith(prefix));
    const file = mount && path.join(mount[1], pathname.slice(mount[0].length));
    if (!mount || !file.startsWith(mount[1] + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
      // Cross-origin isolation: both browsers then give performance.now() its fine
      // resolution (Firefox otherwise rounds to 1 ms). Everything is same-origin.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
      "cross-origin-resource-policy": "same-origin",
    });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------
// Browser drivers: { name, version, goto(url), call(case, impl, options), close() }

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--enable-precise-memory-info", "--js-flags=--expose-gc",
];

async function chromiumDriver() {
  // A persistent profile on disk: a default (incognito-like) context keeps IndexedDB in
  // memory, which would not measure what users get.
  const profile = mkdtempSync(path.join(os.tmpdir(), "tidelog-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const version = context.browser()?.version() ?? execFileSync(process.env.CHROMIUM ?? "/usr/bin/chromium", ["--version"]).toString().trim();
  return {
    name: "chromium",
    version: `Chromium ${version}`,
    async goto(url) {
      await page.goto(url);
      await page.waitForFunction(() => globalThis.bench?.ready === true);
    },
    call(name, impl, options) {
      return withTimeout(
        page.evaluate(([n, i, o]) => globalThis.bench.run(n, i, o), [name, impl, options]),
        CALL_TIMEOUT_MS, `chromium ${name}/${impl}`,
      );
    },
    errors: () => errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

function findGeckodriver() {
  const candidates = [process.env.GECKODRIVER, ...(process.env.PATH ?? "").split(":").map((d) => d && path.join(d, "geckodriver")),
    path.join(os.homedir(), ".cargo/bin/geckodriver")];
  return candidates.find((c) => c && existsSync(c));
}

async function firefoxDriver() {
  const firefox = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
  if (!existsSync(firefox)) throw new Error(`no Firefox at ${firefox}`);
  const geckodriver = findGeckodriver();
  if (!geckodriver) throw new Error("no geckodriver (PATH, ~/.cargo/bin or GECKODRIVER)");
  const port = await freePort();
  const child = spawn(geckodriver, ["--host", "127.0.0.1", "--port", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr.on("data", (d) => (output = (output + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  const wd = async (method, url, body) => {
    const response = await fetch(base + url, {
      method, headers: { "content-type": "application/json" }, body: body && JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${url}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  };
  const kill = () => child.exitCode === null && child.kill("SIGTERM");
  try {
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        if ((await wd("GET", "/status")).ready !== undefined) break;
      } catch {}
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`geckodriver did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const session = await withTimeout(wd("POST", "/session", {
      capabilities: { alwaysMatch: {
        browserName: "firefox",
        "moz:firefoxOptions": {
          binary: firefox, args: ["-headless"],
          prefs: { "network.proxy.type": 0, "app.update.enabled": false, "browser.shell.checkDefaultBrowser": false },
        },
      } },
    }), 60000, "starting Firefox");
    const id = session.sessionId;
    await wd("POST", `/session/${id}/timeouts`, { script: CALL_TIMEOUT_MS, pageLoad: 60000 });
    const script = `const done = arguments[arguments.length - 1];
      const [name, impl, options] = arguments;
      const start = Date.now();
      (function wait() {
        if (globalThis.bench?.ready) {
          globalThis.bench.run(name, impl, options).then((value) => done({ value }), (e) => done({ error: String(e && e.stack || e) }));
        } else if (Date.now() - start > 30000) done({ error: "the bench page did not load" });
        else setTimeout(wait, 20);
      })();`;
    return {
      name: "firefox",
      version: `Firefox ${session.capabilities.browserVersion}`,
      async goto(url) {
        await wd("POST", `/session/${id}/url`, { url });
      },
      async call(name, impl, options) {
        const result = await withTimeout(wd("POST", `/session/${id}/execute/async`, { script, args: [name, impl, options] }),
          CALL_TIMEOUT_MS + 5000, `firefox ${name}/${impl}`);
        if (result?.error) throw new Error(result.error);
        return result.value;
      },
      errors: () => [],
      async close() {
        try {
          await withTimeout(wd("DELETE", `/session/${id}`), 30000, "closing Firefox");
        } finally {
          kill();
        }
      },
    };
  } catch (e) {
    kill();
    throw e;
  }
}

// ---------------------------------------------------------------------------------
// Statistics

function stat(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** Rotates the implementation order per run so no one always goes first. */
const order = (run) => IMPLS.map((_, k) => IMPLS[(k + run) % IMPLS.length]);

// ---------------------------------------------------------------------------------
// The cases, per browser

async function benchBrowser(driver, url) {
  await driver.goto(url);
  const env = await driver.call("environment", null, {});
  const out = { version: driver.version, userAgent: env.userAgent, crossOriginIsolated: env.crossOriginIsolated, hardwareConcurrency: env.hardwareConcurrency, payloadBytes: env.payloadBytes, cases: {} };
  const samples = (c) => Object.fromEntries(IMPLS.map((i) => [i, []]));

  log(`${driver.name}: 1. batched append (${sizes.batchTotal} events in calls of ${sizes.batch}) x ${runs}`);
  const batched = samples();
  for (let run = 0; run < runs; run++) {
    for (const impl of order(run)) batched[impl].push(await driver.call("batchedAppend", impl, { total: sizes.batchTotal, batch: sizes.batch }));
  }
  out.cases.batchedAppend = Object.fromEntries(IMPLS.map((i) => [i, { eventsPerSec: stat(batched[i].map((s) => s.eventsPerSec)), samples: batched[i] }]));

  log(`${driver.name}: 2. single-event append (${sizes.single} appends) x ${runs}`);
  const single = samples();
  for (let run = 0; run < runs; run++) {
    for (const impl of order(run)) single[impl].push(await driver.call("singleAppend", impl, { count: sizes.single }));
  }
  out.cases.singleAppend = Object.fromEntries(IMPLS.map((i) => [i, {
    p50: stat(single[i].map((s) => s.p50)), p99: stat(single[i].map((s) => s.p99)), samples: single[i],
  }]));

  // Cases 3 and 4: one filled database per implementation (fresh per case), runs
  // interleaved with a rotating order.
  const interleaved = async (caseName, extra) => {
    const handles = {};
    const got = samples();
    try {
      for (const impl of IMPLS) handles[impl] = (await driver.call("openFilled", impl, { total: sizes.stream })).handle;
      for (let run = 0; run < runs; run++) {
        for (const impl of order(run)) got[impl].push(await driver.call(caseName, impl, { handle: handles[impl], total: sizes.stream, ...extra }));
      }
    } finally {
      for (const impl of IMPLS) if (handles[impl]) await driver.call("dispose", null, { handle: handles[impl] });
    }
    return got;
  };

  log(`${driver.name}: 3. paged read of a ${sizes.stream}-event stream (pages of ${sizes.page}) + readAll from the middle x ${runs}`);
  const paged = await interleaved("pagedRead", { page: sizes.page });
  out.cases.pagedRead = Object.fromEntries(IMPLS.map((i) => [i, {
    streamEventsPerSec: stat(paged[i].map((x) => x.streamEventsPerSec)),
    readAllEventsPerSec: stat(paged[i].map((x) => x.readAllEventsPerSec)),
    samples: paged[i],
  }]));

  log(`${driver.name}: 4. replay of a ${sizes.stream}-event stream (read + sum) and 7. memory x ${runs}`);
  await driver.goto(url); // a fresh page: heap figures not mixed up with the cases before
  const replayed = await interleaved("replay", {});
  out.cases.replay = Object.fromEntries(IMPLS.map((i) => {
    const s = replayed[i];
    return [i, {
      eventsPerSec: stat(s.map((x) => x.eventsPerSec)),
      ms: stat(s.map((x) => x.ms)),
      heapAfter: stat(s.map((x) => x.heapAfter)),
      heapGrowth: stat(s.map((x) => (x.heapAfter != null && x.heapBefore != null ? x.heapAfter - x.heapBefore : null))),
      wasmMemory: stat(s.map((x) => x.wasmMemory)),
      samples: s,
    }];
  }));

  log(`${driver.name}: 5. cold start (load + open + first read, fresh page each) x ${coldRuns}`);
  // Every database first, then the runs interleaved with a rotating order like the cases
  // above: run in blocks, the implementation measured first paid for what the cases
  // before left running in the browser (its disk writes settling), and it was always
  // tidelog.
  const coldNames = Object.fromEntries(IMPLS.map((i) => [i, `bench-cold-${i}-${Date.now().toString(36)}`]));
  for (const impl of IMPLS) {
    await driver.goto(url);
    await driver.call("prepareCold", impl, { name: coldNames[impl], total: sizes.coldEvents });
  }
  const cold = samples();
  for (let run = 0; run < coldRuns; run++) {
    for (const impl of order(run)) {
      await driver.goto(url);
      cold[impl].push(await driver.call("coldStart", impl, { name: coldNames[impl] }));
    }
  }
  await driver.goto(url);
  for (const impl of IMPLS) await driver.call("cleanup", null, { name: coldNames[impl] });
  out.cases.coldStart = {};
  for (const impl of IMPLS) {
    const s = cold[impl];
    out.cases.coldStart[impl] = {
      ms: stat(s.map((x) => x.ms)), loadMs: stat(s.map((x) => x.loadMs)),
      openMs: stat(s.map((x) => x.openMs)), readMs: stat(s.map((x) => x.readMs)), samples: s,
    };
    if (impl === "tidelog") {
      out.cases.coldStart[impl].wasmMs = stat(s.map((x) => x.wasmMs));
    }
  }
  const errors = driver.errors();
  if (errors.length) throw new Error(`page errors in ${driver.name}:\n${errors.join("\n")}`);
  return out;
}

// ---------------------------------------------------------------------------------
// Report

const fmtNum = (x) => {
  if (x == null) return "—";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
const fmtStat = (s, unit = (x) => x) => (s ? `${fmtNum(unit(s.median))} (${fmtNum(unit(s.min))}–${fmtNum(unit(s.max))})` : "—");
const MB = (x) => x / (1024 * 1024);
const KB = (x) => x / 1024;
// No ratio against a figure that is (nearly) zero, e.g. raw IDB's library load time.
const ratio = (a, b) => (a && b && b.median > 0.01 ? a.median / b.median : null);
const overlap = (a, b) => a && b && a.min <= b.max && b.min <= a.max;
const fmtRatio = (r) => (r == null ? "—" : `${r.toFixed(2)}x`);

/** Rows: [case, metric, tidelog, raw, dexie, t/raw, t/dexie, goal, met]. */
function rows(b) {
  const c = b.cases;
  const out = [];
  const row = (name, metric, get, unit, goal, met) => {
    const [t, r, d] = IMPLS.map((i) => get(i));
    const tr = ratio(t, r);
    const td = ratio(t, d);
    // "Met" is judged on medians; a miss whose (min–max) ranges overlap the peer's is
    // flagged: on a busy machine it may be noise rather than a real difference.
    const verdict = !met ? "—" : met(tr, td) ? "yes" : overlap(t, r) || overlap(t, d) ? "**no** (ranges overlap)" : "**no**";
    out.push([name, metric, fmtStat(t, unit), fmtStat(r, unit), fmtStat(d, unit), fmtRatio(tr), fmtRatio(td), goal ?? "—", verdict]);
  };
  row("1. batched append", "events/s", (i) => c.batchedAppend[i].eventsPerSec, undefined,
    "≥ 0.9x raw, > 1.0x Dexie", (tr, td) => tr >= 0.9 && td > 1.0);
  row("2. single append", "p50 ms", (i) => c.singleAppend[i].p50, undefined, "≤ 1.3x raw", (tr) => tr <= 1.3);
  row("2. single append", "p99 ms", (i) => c.singleAppend[i].p99);
  row("3. paged stream read", "events/s", (i) => c.pagedRead[i].streamEventsPerSec, undefined, "≥ 0.9x raw", (tr) => tr >= 0.9);
  row("3. readAll from middle", "events/s", (i) => c.pagedRead[i].readAllEventsPerSec, undefined, "≥ 0.9x raw", (tr) => tr >= 0.9);
  row("4. replay (read + sum)", "events/s", (i) => c.replay[i].eventsPerSec);
  row("5. cold start", "ms", (i) => c.coldStart[i].ms, undefined, "≤ 1.0x Dexie, ≤ 50 ms",
    (_tr, td) => td !== null && td <= 1 && c.coldStart.tidelog.ms.median <= 50);
  row("5. cold start: load library (import the JS)", "ms", (i) => (i === "raw" ? null : c.coldStart[i].loadMs));
  row("5. cold start: open (tidelog: with the wasm's load)", "ms", (i) => c.coldStart[i].openMs);
  row("5. cold start: open: the wasm ready (decode, compile, instantiate; it comes inside the JS)", "ms", (i) => c.coldStart[i].wasmMs ?? null);
  row("5. cold start: first read", "ms", (i) => c.coldStart[i].readMs);
  if (c.replay.tidelog.heapAfter) {
    row("7. JS heap after replay", "MB", (i) => c.replay[i].heapAfter, MB);
    row("7. JS heap growth in replay", "MB", (i) => c.replay[i].heapGrowth, MB);
  }
  out.push(["7. wasm memory after replay", "MB", fmtStat(c.replay.tidelog.wasmMemory, MB), "—", "—", "—", "—", "—", "—"]);
  return out;
}

function markdown(results) {
  const sizes = results.workload;
  const lines = [];
  const m = results.machine;
  lines.push(`## ${results.date}`, "");
  const git = results.git ? ` (commit ${results.git.commit}${results.git.srcDirty ? ", with uncommitted changes to what builds the package" : ""})` : "";
  lines.push(`Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB RAM, ${m.os}; Node ${m.node}; tidelog ${results.tidelogVersion}${git}, Dexie ${results.dexieVersion}.`);
  lines.push(`Workload: payload ≈ ${results.payloadBytes} bytes of JSON; batched append ${sizes.batchTotal} events in calls of ${sizes.batch}; ` +
    `${sizes.single} single appends; ${sizes.stream}-event stream read in pages of ${sizes.page}; readAll from position ${Math.floor(sizes.stream / 2) + 1}; ` +
    `cold start on a ${sizes.coldEvents}-event database. Each figure: median (min–max) of ${results.runs} run(s), cold start of ${results.coldRuns ?? results.runs}; scale ${results.scale}.`, "");
  for (const [name, b] of Object.entries(results.browsers)) {
    if (b.skipped) {
      lines.push(`### ${name}: skipped`, "", b.skipped, "");
      continue;
    }
    lines.push(`### ${b.version} (${b.hardwareConcurrency} logical cores seen by the page)`, "");
    lines.push("| Case | Metric | tidelog | raw IDB | Dexie 4 | tidelog/raw | tidelog/Dexie | Goal | Met |");
    lines.push("|---|---|---:|---:|---:|---:|---:|---|---|");
    for (const r of rows(b)) lines.push(`| ${r.join(" | ")} |`);
    lines.push("");
  }
  const s = results.sizes;
  lines.push("### 6. Size (bytes; gzip -9, brotli q11, node zlib)", "");
  lines.push("| Artifact | raw | gzip | brotli |", "|---|---:|---:|---:|");
  lines.push(`| tidelog_bg.wasm | ${s.wasm.raw} | ${s.wasm.gzip} | ${s.wasm.brotli} |`);
  lines.push(`| tidelog JS glue (tidelog.js + the modules it imports, without the wasm it carries) | ${s.glue.raw} | ${s.glue.gzip} | ${s.glue.brotli} |`);
  lines.push(`| tidelog total: what a page loads (tidelog.js as shipped, the wasm inside) | ${s.total.raw} | ${s.total.gzip} | ${s.total.brotli} |`);
  lines.push(`| Dexie ${results.dexieVersion} dist/dexie.min.js | ${s.dexie.raw} | ${s.dexie.gzip} | ${s.dexie.brotli} |`);
  lines.push("");
  lines.push("Ratios: for throughput (events/s) above 1 means tidelog is faster; for times (ms) below 1 means tidelog is faster.", "");
  return lines.join("\n");
}

/** Every figure the run should have produced, as [label, value]. */
function figures(results) {
  const out = [];
  for (const [name, b] of Object.entries(results.browsers)) {
    if (b.skipped) continue;
    const c = b.cases;
    for (const i of IMPLS) {
      out.push([`${name} batchedAppend ${i}`, c.batchedAppend[i].eventsPerSec?.median]);
      out.push([`${name} singleAppend p50 ${i}`, c.singleAppend[i].p50?.median]);
      out.push([`${name} singleAppend p99 ${i}`, c.singleAppend[i].p99?.median]);
      out.push([`${name} pagedRead stream ${i}`, c.pagedRead[i].streamEventsPerSec?.median]);
      out.push([`${name} pagedRead readAll ${i}`, c.pagedRead[i].readAllEventsPerSec?.median]);
      out.push([`${name} replay ${i}`, c.replay[i].eventsPerSec?.median]);
      out.push([`${name} coldStart ${i}`, c.coldStart[i].ms?.median]);
      if (name === "chromium") out.push([`${name} heapAfter ${i}`, c.replay[i].heapAfter?.median]);
    }
    out.push([`${name} wasmMemory`, c.replay.tidelog.wasmMemory?.median]);
  }
  for (const k of ["wasm", "glue", "total", "dexie"]) for (const f of ["raw", "gzip", "brotli"]) out.push([`size ${k} ${f}`, results.sizes[k][f]]);
  return out;
}

// ---------------------------------------------------------------------------------

async function main() {
  if (process.argv.includes("--render")) {
    // Re-renders the Markdown of a stored result (default bench/results/latest.json).
    const file = process.argv[process.argv.indexOf("--render") + 1] ?? path.join(root, "bench/results/latest.json");
    console.log(markdown(JSON.parse(readFileSync(file, "utf8"))));
    return;
  }
  for (const f of ["pkg/tidelog.js", "pkg/tidelog_bg.wasm", "node_modules/dexie/dist/modern/dexie.mjs"]) {
    if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing: run \`make pkg\` and \`make bootstrap\` (make bench does both)`);
  }
  const server = await startStatic();
  const url = `http://127.0.0.1:${server.address().port}/bench/index.html`;
  log(`serving on ${url}; scale ${scale}, ${runs} run(s) per figure, browsers: ${browsers.join(", ")}`);
  const readJson = (f) => JSON.parse(readFileSync(path.join(root, f), "utf8"));
  const results = {
    date: new Date().toISOString(),
    smoke, scale, runs, coldRuns, workload: sizes,
    machine: {
      cores: os.cpus().length, cpu: os.cpus()[0]?.model?.trim() ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.versions.node,
    },
    tidelogVersion: readJson("pkg/package.json").version,
    git: gitState(),
    dexieVersion: readJson("node_modules/dexie/package.json").version,
    browsers: {},
    sizes: packageSizes(),
  };
  const started = Date.now();
  try {
    for (const name of browsers) {
      const make = { chromium: chromiumDriver, firefox: firefoxDriver }[name];
      if (!make) throw new Error(`unknown browser ${name} (chromium, firefox)`);
      let driver;
      try {
        driver = await make();
      } catch (e) {
        const reason = `could not start ${name}: ${String(e.message ?? e).split("\n")[0]}`;
        if (name === "chromium") throw new Error(reason);
        log(`${reason}; skipped`);
        results.browsers[name] = { skipped: reason };
        continue;
      }
      try {
        log(`${name}: ${driver.version}`);
        results.browsers[name] = await benchBrowser(driver, url);
        results.payloadBytes ??= results.browsers[name].payloadBytes;
      } finally {
        await driver.close();
      }
    }
  } finally {
    server.close();
  }
  results.seconds = Math.round((Date.now() - started) / 1000);

  const outDir = path.join(root, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const jsonFile = path.join(outDir, smoke ? "smoke.json" : "latest.json");
  writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
  const md = markdown(results);
  console.log("\n" + md);

  // A number for every figure: finite, and positive (a 0 ms latency can be a timer tick).
  const missing = figures(results).filter(([k, v]) => !(typeof v === "number" && Number.isFinite(v) && (v > 0 || (v === 0 && / (p50|p99|coldStart) /.test(k)))));
  if (missing.length) {
    console.error(`bench: ${missing.length} figure(s) missing:\n  ${missing.map(([k, v]) => `${k} = ${v}`).join("\n  ")}`);
    process.exit(1);
  }
  log(`wrote ${path.relative(root, jsonFile)} (${results.seconds} s)`);
  if (!smoke) {
    const bm = path.join(root, "BENCHMARKS.md");
    if (!existsSync(bm)) {
      writeFileSync(bm, [
        "# tidelog benchmarks", "",
        "`make bench` (bench/run.mjs) measures tidelog against a hand-written IndexedDB implementation",
        "of the same event-store layout (the floor) and against Dexie 4 over the same layout, in the",
        "same headless browser run, and appends one section per run below. Each figure is the median",
        "of several runs with (min–max); every case uses a fresh database. bench/bench.js documents",
        "exactly what each implementation does. `make bench-smoke` runs the same code at a tiny size",
        "(part of `make test`; it checks that every case produces a number, not speed).", "",
      ].join("\n"));
    }
    appendFileSync(bm, "\n" + md);
    log("appended the table to BENCHMARKS.md");
  }
}

main().catch((e) => {
  console.error("bench: failed:", e?.stack ?? e);
  process.exit(1);
});
