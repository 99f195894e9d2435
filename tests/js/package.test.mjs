// The npm package as a user gets it: `npm pack` of pkg/ (built by `make pkg`), installed
// into fresh temporary npm projects, then used from every host it supports: Node, Deno and
// Bun (no init call, memory store; the file store across two processes), workerd
// (the `workerd` export condition), a plain <script type="module"> page and a dedicated
// Web Worker in Chromium, Firefox and WebKit (IndexedDB), and a Vite build and dev server
// in Chromium (main thread and a bundled module worker; Vite is the version pinned in
// package.json). Each subscribes, appends, reads, replays and meets a conflict. `tsc --strict
// --exactOptionalPropertyTypes` compiles the typed app of tests/types/ against the
// installed declarations. The bin `tidelog-server` serves the sync protocol on its log
// file and on PostgreSQL. Everything lives in one temporary directory (npm cache
// included) that is removed at the end.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import ts from "typescript";
import { root, freePort, launchBrowser, selectedEngines, takeAllPageErrors } from "./harness.mjs";

/** Vite as pinned in package.json (`npm ci` installs it; run from there on the test app). */
const VITE = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).devDependencies.vite;
const vite = path.join(root, "node_modules/vite/bin/vite.js");
const pkgDir = path.join(root, "pkg");
const tmp = mkdtempSync(path.join(tmpdir(), "tidelog-package-"));
const plainDir = path.join(tmp, "plain");
const viteDir = path.join(tmp, "vite");
let tarball;
/** @type {Map<string, Promise<import("./harness.mjs").Browser>>} one browser per engine, launched on first use */
const browsers = new Map();
const browserFor = (engine) => {
  if (!browsers.has(engine)) browsers.set(engine, launchBrowser(engine));
  return browsers.get(engine);
};

/** Runs a command; resolves with stdout, rejects with everything it printed. */
function run(cmd, args, { cwd = tmp, env = {}, timeout = 90_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, npm_config_cache: path.join(tmp, "npm-cache"), npm_config_update_notifier: "false", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${out}\n${err}`));
    });
  });
}

function npmInstall(dir, packages) {
  return run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", ...packages], { cwd: dir, timeout: 180_000 });
}

function write(dir, files) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

// The same scenario in every host: a subscription, append, read, replay (whole and time
// travel), a typed conflict, the global log. `label` keeps database names apart.
const SCENARIO = `
async function scenario(EventStore, version, label, Sync) {
  const store = await EventStore.open("smoke-" + label + "-" + Date.now());
  const subscribed = [];
  const unsubscribe = store.subscribe((e) => subscribed.push([e.position, e.type]), { fromPosition: 1 });
  const appended = await store.append("cart-1", [
    { type: "ItemAdded", data: { sku: "A1", qty: 2 } },
    { type: "ItemAdded", data: { sku: "B2", qty: 3 }, meta: { by: label } },
  ], { expectedVersion: "no_stream" });
  const events = await store.read("cart-1");
  const reducer = (n, e) => n + e.data.qty;
  const total = await store.replay("cart-1", { reducer, initial: 0 });
  const atVersion1 = await store.replay("cart-1", { reducer, initial: 0, toVersion: 1 });
  const report = await store.replayAllReport({ reducer: (n) => n + 1, initial: 0 });
  let conflict = null;
  try {
    await store.append("cart-1", [{ type: "ItemRemoved", data: { sku: "A1" } }], { expectedVersion: 0 });
  } catch (e) {
    conflict = { name: e.name, code: e.code, actualVersion: e.actualVersion };
  }
  const all = await store.readAll({ fromPosition: 1 });
  for (let i = 0; i < 200 && subscribed.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  unsubscribe();
  const storage = store.storage;
  store.close();
  // The sync side is a second wasm, fetched when a store opens with \`sync\`: found
  // beside the entry module however the page was built (paused: no server needed), and
  // \`store.sync\` is an instance of the entry's \`Sync\` (in the browser entry a stand-in
  // until the sync glue loads).
  let syncStarted = null;
  if (storage === "indexeddb") {
    const synced = await EventStore.open("smoke-sync-" + label + "-" + Date.now(), { sync: { url: "http://127.0.0.1:9/", paused: true } });
    syncStarted = synced.sync.status().paused && synced.sync instanceof Sync;
    synced.close();
  }
  // A memory store opens in a third wasm, fetched on first use: found beside the entry
  // module however the page was built. (Node and workerd have it in their one wasm.)
  let memory = null;
  if (storage === "indexeddb") {
    const inMemory = await EventStore.open("smoke-memory-" + label, { storage: "memory" });
    await inMemory.append("s", [{ type: "T", data: 1 }]);
    let memoryConflict = null;
    try {
      await inMemory.append("s", [{ type: "T", data: 2 }], { expectedVersion: 0 });
    } catch (e) {
      memoryConflict = e.name;
    }
    memory = [inMemory.storage, inMemory instanceof EventStore, (await inMemory.read("s")).length, memoryConflict];
    inMemory.close();
  }
  return {
    storage, version: version(), lastPosition: appended.lastPosition, syncStarted, memory,
    read: events.map((e) => [e.version, e.position, e.type, e.data.sku, e.meta]),
    total, atVersion1, replayed: report.appliedCount, conflict, logLength: all.length, subscribed,
  };
}`;

/** The README's quick start (its first js block), as installed. */
function quickStart() {
  const readme = readFileSync(path.join(plainDir, "node_modules/tidelog/README.md"), "utf8");
  return readme.match(/```js\n([^]*?)```/)[1];
}

function checkScenario(result, { storage, label }) {
  assert.equal(result.error, undefined, result.error);
  const version = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
  assert.deepEqual(result, {
    storage, version, lastPosition: 2, syncStarted: storage === "indexeddb" ? true : null,
    memory: storage === "indexeddb" ? ["memory", true, 1, "VersionConflictError"] : null,
    read: [[1, 1, "ItemAdded", "A1", null], [2, 2, "ItemAdded", "B2", { by: label }]],
    total: 5, atVersion1: 2, replayed: 2,
    conflict: { name: "VersionConflictError", code: "version_conflict", actualVersion: 2 },
    logLength: 2, subscribed: [[1, "ItemAdded"], [2, "ItemAdded"]],
  });
}

const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json", ".wasm": "application/wasm", ".css": "text/css", ".map": "application/json",
};

/** A tiny static file server over `dir` on a free loopback port. */
async function serve(dir) {
  const port = await freePort();
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(dir, pathname.endsWith("/") ? pathname + "index.html" : pathname);
    if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Opens `url` in `engine` and waits for `globalThis.__result`; fails on page errors (and,
 * in Chromium, on console errors and HTTP errors of the page's requests). */
async function pageResult(url, engine = "chromium") {
  const context = await (await browserFor(engine)).newContext();
  const page = await context.newPage();
  const errors = [];
  page.chromium?.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.chromium?.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  try {
    await page.goto(url);
    await page.waitForFunction(() => globalThis.__result !== undefined, null, { timeout: 20_000 });
    const result = await page.evaluate(() => globalThis.__result);
    assert.deepEqual(errors, []);
    assert.deepEqual(await page.takeErrors(), [], `${engine}: page errors`);
    return result;
  } finally {
    await context.close();
  }
}

before(async () => {
  assert.ok(existsSync(path.join(pkgDir, "package.json")), "pkg/ is not built: run `make pkg` first");
  const packed = JSON.parse(await run("npm", ["pack", pkgDir, "--json", "--pack-destination", tmp]));
  tarball = path.join(tmp, packed[0].filename);
  const project = (name) => JSON.stringify({ name, private: true, type: "module" });
  write(plainDir, { "package.json": project("plain") });
  write(viteDir, { "package.json": project("vite-app") });
  await Promise.all([npmInstall(plainDir, [tarball]), npmInstall(viteDir, [tarball])]);
});

after(async () => {
  for (const browser of browsers.values()) await (await browser).close();
  assert.deepEqual(await takeAllPageErrors(), [], "page errors");
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Stops a child process and resolves to its exit code once it is gone; at once when it
 * already exited (a crashed workerd: waiting for an "exit" that already happened would
 * leave the event loop empty and cancel every test after this one).
 * @param {import("node:child_process").ChildProcess} child
 * @returns {Promise<number | null>}
 */
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return /** @type {Promise<number | null>} */ (exited);
}

test("npm pack: the tarball holds every entry, the declarations and the wasm", async (t) => {
  const size = statSync(tarball).size;
  const wasm = readFileSync(path.join(pkgDir, "tidelog_bg.wasm"));
  t.diagnostic(`tarball ${path.basename(tarball)}: ${size} bytes; tidelog_bg.wasm ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzip`);
  const installed = path.join(plainDir, "node_modules/tidelog");
  for (const file of ["tidelog.js", "tidelog.node.js", "tidelog.workerd.js", "tidelog.d.ts", "tidelog_bg.wasm", "tidelog_sync_bg.wasm",
    "tidelog_sync.js", "tidelog.sync.js", "tidelog.sync.d.ts", "tidelog_memory.js", "tidelog_memory_bg.wasm", "README.md",
    "tidelog.js.map", "node/tidelog.js", "node/tidelog_bg.wasm", "node/js/index.js", "node/js/node_fs.js",
    "worker/index.js", "worker/index.d.ts", "worker/tidelog_bg.wasm", "worker/js/do_storage.js", "worker/js/index.js",
    "server/index.js", "server/index.d.ts", "server/cli.js"]) {
    assert.ok(existsSync(path.join(installed, file)), `${file} is in the package`);
  }
  // The JS is plain modules next to the glue: no hashed wasm-bindgen snippets folder.
  assert.ok(!existsSync(path.join(installed, "snippets")), "no snippets/ folder in the package");
  // The browser glue is one module: js/ is bundled into tidelog.js.
  assert.ok(!existsSync(path.join(installed, "js")), "no js/ folder beside tidelog.js");
  const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
  for (const entry of Object.values(manifest.exports["."])) {
    assert.ok(existsSync(path.join(installed, entry)), `${entry} (exports) is in the package`);
  }
  // Which file each host's resolver picks (Node's resolver with the hosts' conditions).
  const resolve = async (conditions) => {
    const args = [...conditions.map((c) => `--conditions=${c}`), "--input-type=module", "-e",
      "console.log(import.meta.resolve('tidelog'))"];
    return path.basename(new URL((await run(process.execPath, args, { cwd: plainDir })).trim()).pathname);
  };
  assert.equal(await resolve([]), "tidelog.node.js");
  assert.equal(await resolve(["workerd", "worker", "browser"]), "tidelog.workerd.js"); // wrangler
  assert.equal(await resolve(["browser"]), "tidelog.js");
  assert.equal(await resolve(["worker"]), "tidelog.workerd.js");
});

test("the declarations name every method and getter the runtime classes have, and no other", async () => {
  const dts = readFileSync(path.join(plainDir, "node_modules/tidelog/tidelog.d.ts"), "utf8");
  const source = ts.createSourceFile("tidelog.d.ts", dts, ts.ScriptTarget.Latest, true);
  const mod = await import(path.join(plainDir, "node_modules/tidelog/tidelog.js"));
  const nodeMod = await import(path.join(plainDir, "node_modules/tidelog/tidelog.node.js"));
  // The browser entry's \`Sync\` is a stand-in until a store opens with \`sync\` (its
  // \`instanceof\` is checked in the page scenarios); the class is the sync glue's.
  const syncGlue = await import(path.join(plainDir, "node_modules/tidelog/tidelog_sync.js"));
  const publicKeys = (/** @type {object} */ m) => Object.keys(m).filter((k) => !k.startsWith("__")).sort();
  const classOf = (/** @type {any} */ m, /** @type {string} */ name) => (m === mod && name === "Sync" ? syncGlue.Sync : m[name]);
  // Members of the Node/Deno/Bun build only (the file store's).
  const nodeOnly = new Set(["EventStore.recovery"]);
  for (const [entry, m] of [["web", mod], ["node", nodeMod]]) {
    for (const name of ["EventStore", "Projection", "Sync"]) {
      const declaration = source.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === name);
      assert.ok(declaration, `class ${name} is declared`);
      const declared = new Set(declaration.members.filter((d) => d.name).map((d) => d.name.getText(source)));
      const members = [...Object.getOwnPropertyNames(classOf(m, name).prototype), ...Object.getOwnPropertyNames(classOf(m, name))]
        .filter((n) => !["constructor", "length", "name", "prototype", "__destroy_into_raw", "__wrap"].includes(n) && !n.startsWith("__"));
      for (const member of members) assert.ok(declared.has(member), `${name}.${member} (${entry} entry) is declared`);
      for (const member of declared) {
        const here = entry === "node" || !nodeOnly.has(`${name}.${member}`);
        assert.equal(members.includes(member) || member === "name", here, `${name}.${member} exists at run time in the ${entry} entry: ${here}`);
      }
    }
    assert.deepEqual(publicKeys(m), publicKeys(mod), `the ${entry} entry exports what the web entry does`);
  }
  // One package-internal export, undeclared: the JS modules a lazily imported glue reads
  // (scripts/share-glue-js.mjs).
  assert.deepEqual(Object.keys(mod).filter((k) => k.startsWith("__")), ["__js"]);
  for (const name of publicKeys(mod)) {
    assert.match(dts, new RegExp(`export (default )?(function|class|declare const) ${name === "default" ? "init" : name}\\b`), `export ${name} is declared`);
  }
  // Every declared value (not type) export exists.
  for (const [, isDefault, name] of dts.matchAll(/^export (default )?(?:declare )?(?:function|class|const) (\w+)/gm)) {
    assert.ok(isDefault ? typeof mod.default === "function" : name in mod, `declared export ${name} exists at run time`);
  }
});

test("Node: import from the installed package, no init call, memory store", async () => {
  write(plainDir, {
    "node-app.mjs": `import init, { EventStore, Sync, version } from "tidelog";
${SCENARIO}
const result = await scenario(EventStore, version, "node", Sync);
await init(); // a no-op here: kept working for code shared with browsers
console.log(JSON.stringify(result));`,
  });
  const out = await run(process.execPath, ["node-app.mjs"], { cwd: plainDir });
  checkScenario(JSON.parse(out), { storage: "memory", label: "node" });
  // The README's quick start, pasted into a file as is.
  write(plainDir, { "quickstart.mjs": quickStart() });
  assert.equal(await run(process.execPath, ["quickstart.mjs"], { cwd: plainDir }), "2 events, 3 items\n");
});

// The file store from the installed package: a store written by one process is read by
// the next, under every server runtime the package's dev dependencies pin (Node always;
// Deno and Bun when package.json pins the npm packages that ship their binaries).
const FILE_SMOKE = `import { EventStore } from "tidelog";
const [directory, step] = [process.argv.at(-2), process.argv.at(-1)];
const store = await EventStore.open("carts", { storage: "file", directory });
if (step === "write") {
  await store.append("cart-1", [{ type: "ItemAdded", data: { sku: "A1", qty: 2 } }], { expectedVersion: "no_stream" });
  let conflict = "none";
  try { await store.append("cart-1", [{ type: "X" }], { expectedVersion: 0 }); } catch (e) { conflict = e.name; }
  let locked = "none";
  try { await EventStore.open("carts", { storage: "file", directory }); } catch (e) { locked = e.cause.name; }
  console.log(JSON.stringify({ storage: store.storage, conflict, locked }));
} else {
  const events = await store.read("cart-1");
  const total = await store.replay("cart-1", { reducer: (n, e) => n + e.data.qty, initial: 0 });
  console.log(JSON.stringify({ events: events.map((e) => [e.version, e.type, e.data.sku]), total, recovery: store.recovery }));
}
store.close();`;

const devDependencies = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).devDependencies;
const SERVER_RUNTIMES = [
  ["Node", process.execPath, []],
  ...(devDependencies.deno ? [["Deno", path.join(root, "node_modules/.bin/deno"), ["run", "--allow-all"]]] : []),
  ...(devDependencies.bun ? [["Bun", path.join(root, "node_modules/.bin/bun"), ["run"]]] : []),
];

for (const [runtime, bin, args] of SERVER_RUNTIMES) {
  test(`${runtime}: the file store from the installed package survives the process`, async () => {
    const directory = mkdtempSync(path.join(tmp, "files-"));
    write(plainDir, { "file-app.mjs": FILE_SMOKE });
    const written = JSON.parse(await run(bin, [...args, "file-app.mjs", directory, "write"], { cwd: plainDir }));
    assert.deepEqual(written, { storage: "file", conflict: "VersionConflictError", locked: "Locked" });
    const read = JSON.parse(await run(bin, [...args, "file-app.mjs", directory, "read"], { cwd: plainDir }));
    assert.deepEqual(read, { events: [[1, "ItemAdded", "A1"]], total: 2, recovery: null });
  });
}

// Deno and Bun (the npm packages `deno` and `bun`, pinned in package.json, ship their
// binaries): the installed package through each runtime's own resolver (its export
// condition), with no init call. (The sync worker entry, tidelog/worker, imports its
// .wasm the workerd way and does not load in them yet.)
const RUNTIMES = {
  deno: { bin: path.join(root, "node_modules/.bin/deno"), args: ["run", "--no-lock", "--allow-read", "--allow-env"] },
  bun: { bin: path.join(root, "node_modules/.bin/bun"), args: ["run"] },
};
const runtimeEnv = () => ({
  DENO_DIR: path.join(tmp, "deno-cache"), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1",
  BUN_INSTALL_CACHE_DIR: path.join(tmp, "bun-cache"), DO_NOT_TRACK: "1",
});

for (const [runtime, { bin, args }] of Object.entries(RUNTIMES)) {
  const Runtime = runtime[0].toUpperCase() + runtime.slice(1);
  test(`${Runtime}: import from the installed package (the "${runtime}" export condition), no init call, memory store`, async () => {
    write(plainDir, {
      [`${runtime}-app.mjs`]: `import init, { EventStore, Sync, version } from "tidelog";
${SCENARIO}
const result = await scenario(EventStore, version, "${runtime}", Sync);
await init();
console.log(JSON.stringify({ result, entry: import.meta.resolve("tidelog") }));`,
    });
    const out = JSON.parse(await run(bin, [...args, `${runtime}-app.mjs`], { cwd: plainDir, env: runtimeEnv() }));
    assert.equal(path.basename(new URL(out.entry).pathname), "tidelog.node.js", `${Runtime} resolves the node entry: ${out.entry}`);
    checkScenario(out.result, { storage: "memory", label: runtime });
    write(plainDir, { [`${runtime}-quickstart.mjs`]: quickStart() });
    assert.equal(await run(bin, [...args, `${runtime}-quickstart.mjs`], { cwd: plainDir, env: runtimeEnv() }), "2 events, 3 items\n");
  });
}

test("workerd: a module worker importing the package's workerd entry", async () => {
  const pkg = path.join(plainDir, "node_modules/tidelog");
  const entry = path.relative(plainDir, new URL(
    (await run(process.execPath, ["--conditions=workerd", "--input-type=module", "-e", "console.log(import.meta.resolve('tidelog'))"], { cwd: plainDir })).trim(),
  ).pathname);
  assert.equal(entry, "node_modules/tidelog/tidelog.workerd.js");
  write(plainDir, {
    "workerd-app.js": `import init, { EventStore, Sync, version } from "./${entry}";
${SCENARIO}
export default {
  async fetch() {
    await init();
    try { return Response.json(await scenario(EventStore, version, "workerd", Sync)); }
    catch (e) { return Response.json({ error: String(e && e.stack || e) }); }
  },
};`,
  });
  const modules = ['(name = "workerd-app.js", esModule = embed "workerd-app.js")'];
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? (["worker", "node"].includes(d.name) && dir === pkg ? [] : walk(path.join(dir, d.name))) : [path.join(dir, d.name)]);
  for (const file of walk(pkg)) {
    const name = path.relative(plainDir, file);
    if (file.endsWith(".js")) modules.push(`(name = "${name}", esModule = embed "${name}")`);
    if (file.endsWith(".wasm")) modules.push(`(name = "${name}", wasm = embed "${name}")`);
  }
  const port = await freePort();
  write(plainDir, {
    "workerd.capnp": `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .app) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const app :Workerd.Worker = (
  modules = [ ${modules.join(",\n    ")} ],
  compatibilityDate = "2025-09-01",
);`,
  });
  const child = spawn(path.join(root, "node_modules/.bin/workerd"), ["serve", "workerd.capnp"], { cwd: plainDir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  try {
    let response;
    for (const deadline = Date.now() + 15_000; !response;) {
      try {
        response = await fetch(`http://127.0.0.1:${port}/`);
      } catch {
        if (child.exitCode !== null || Date.now() > deadline) assert.fail(`workerd did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    checkScenario(await response.json(), { storage: "memory", label: "workerd" });
  } finally {
    await stopChild(child);
  }
});

for (const engine of selectedEngines()) test(`${engine}: a plain <script type=module> page and a dedicated Web Worker (IndexedDB)`, async () => {
  write(plainDir, {
    "index.html": `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tidelog smoke</title>
<script type="importmap">{ "imports": { "tidelog": "/node_modules/tidelog/tidelog.js" } }</script>
<script type="module">
import init, { EventStore, Sync, version } from "tidelog";
${SCENARIO}
try {
  await init();
  globalThis.__result = await scenario(EventStore, version, "page", Sync);
} catch (e) { globalThis.__result = { error: String(e && e.stack || e) }; }
</script>`,
    "worker.html": `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tidelog worker smoke</title>
<script type="module">
const worker = new Worker("/worker.js", { type: "module" });
worker.onmessage = (e) => (globalThis.__result = e.data);
worker.onerror = (e) => (globalThis.__result = { error: e.message || "worker error" });
</script>`,
    // Import maps do not reach workers: the worker names the file.
    "worker.js": `import init, { EventStore, Sync, version } from "/node_modules/tidelog/tidelog.js";
${SCENARIO}
try {
  await init();
  postMessage(await scenario(EventStore, version, "worker", Sync));
} catch (e) { postMessage({ error: String(e && e.stack || e) }); }`,
  });
  const server = await serve(plainDir);
  try {
    checkScenario(await pageResult(`${server.base}/index.html`, engine), { storage: "indexeddb", label: "page" });
    checkScenario(await pageResult(`${server.base}/worker.html`, engine), { storage: "indexeddb", label: "worker" });
    // The README's quick start in a page, twice (IndexedDB keeps the first run's events).
    write(plainDir, {
      "quickstart.html": `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>quick start</title>
<script type="importmap">{ "imports": { "tidelog": "/node_modules/tidelog/tidelog.js" } }</script>
<script type="module">
console.log = (text) => (globalThis.__result = text);
${quickStart()}
</script>`,
    });
    const context = await (await browserFor(engine)).newContext();
    try {
      for (let run = 0; run < 2; run++) {
        const page = await context.newPage();
        await page.goto(`${server.base}/quickstart.html`);
        await page.waitForFunction(() => globalThis.__result !== undefined, null, { timeout: 20_000 });
        assert.deepEqual(await page.takeErrors(), []);
        assert.equal(await page.evaluate(() => globalThis.__result), "2 events, 3 items");
        await page.close();
      }
    } finally {
      await context.close();
    }
  } finally {
    await server.close();
  }
});

test(`Vite ${VITE}: a production build in Chromium (main thread and a bundled module worker)`, async (t) => {
  write(viteDir, {
    "index.html": `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tidelog vite smoke</title>
<script type="module" src="/main.js"></script>`,
    "main.js": `import init, { EventStore, Sync, version } from "tidelog";
${SCENARIO}
try {
  await init();
  const page = await scenario(EventStore, version, "vite", Sync);
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const inWorker = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => resolve({ error: e.message || "worker error" });
  });
  globalThis.__result = { page, worker: inWorker };
} catch (e) { globalThis.__result = { error: String(e && e.stack || e) }; }`,
    "worker.js": `import init, { EventStore, Sync, version } from "tidelog";
${SCENARIO}
try {
  await init();
  postMessage(await scenario(EventStore, version, "vite-worker", Sync));
} catch (e) { postMessage({ error: String(e && e.stack || e) }); }`,
    // The worker awaits at the top level, which Vite's default worker format (iife)
    // refuses. Vite 8's dev server pre-bundles tidelog and rewrites its
    // `new URL("tidelog_sync_bg.wasm", import.meta.url)` (and the memory wasm's), so no
    // optimizeDeps.exclude (Vite 7 needed it; the README says so).
    "vite.config.js": `export default { logLevel: "warn", worker: { format: "es" } };`,
  });
  await run(process.execPath, [vite, "build"], { cwd: viteDir });
  const assets = readdirSync(path.join(viteDir, "dist/assets"));
  const wasm = assets.filter((f) => f.endsWith(".wasm"));
  // The client's wasm is inside tidelog.js: no asset of its own.
  assert.equal(wasm.length, 2, `two .wasm assets in dist/assets (the sync side's and the memory store's): ${assets.join(", ")}`);
  assert.ok(wasm.every((f) => /^tidelog_(sync|memory)_bg/.test(f)), `only the lazily loaded wasm files: ${wasm.join(", ")}`);
  // The memory wasm's glue is a chunk of its own, loaded on first use (a dynamic import).
  const chunks = assets.filter((f) => f.endsWith(".js"));
  assert.ok(chunks.some((f) => /tidelog_memory/.test(f)), `a chunk for the memory wasm's glue: ${assets.join(", ")}`);
  t.diagnostic(`vite dist/assets: ${assets.join(", ")}`);
  // Vite's minifier prints the carried wasm's string again (its own escapes): what that costs.
  const entryChunk = chunks.map((f) => readFileSync(path.join(viteDir, "dist/assets", f))).sort((a, b) => b.length - a.length)[0];
  t.diagnostic(`vite's largest chunk (tidelog with its wasm): ${entryChunk.length} bytes raw, ${gzipSync(entryChunk, { level: 9 }).length} bytes gzip`);
  const server = await serve(path.join(viteDir, "dist"));
  try {
    const result = await pageResult(`${server.base}/`);
    assert.equal(result.error, undefined, result.error);
    checkScenario(result.page, { storage: "indexeddb", label: "vite" });
    checkScenario(result.worker, { storage: "indexeddb", label: "vite-worker" });
  } finally {
    await server.close();
  }
});

test(`Vite ${VITE}: the dev server in Chromium (tidelog pre-bundled, no optimizeDeps.exclude)`, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [vite, "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    { cwd: viteDir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_cache: path.join(tmp, "npm-cache") } });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  try {
    for (const deadline = Date.now() + 20_000; ;) {
      if (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false)) break;
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`vite did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await pageResult(`http://127.0.0.1:${port}/`);
    assert.equal(result.error, undefined, result.error);
    checkScenario(result.page, { storage: "indexeddb", label: "vite" });
    checkScenario(result.worker, { storage: "indexeddb", label: "vite-worker" });
    // The lazily loaded wasm files were found from the pre-bundled copy (what made Vite 7
    // need the exclude).
    assert.ok(existsSync(path.join(viteDir, "node_modules/.vite/deps/tidelog.js")), "tidelog was pre-bundled");
  } finally {
    await stopChild(child);
  }
});

/** Non-null assertions and casts in a TypeScript file, as `line: text` (none allowed in the typed app). */
function assertionsIn(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    const cast = ts.isAsExpression(node) && !(ts.isTypeReferenceNode(node.type) && node.type.typeName.getText(source) === "const");
    if (ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node) || cast) {
      found.push(`${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${node.getText(source)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test("tsc --strict --exactOptionalPropertyTypes: the typed app of tests/types/ against the installed declarations", async (t) => {
  const dir = path.join(plainDir, "types");
  for (const file of ["consumer.ts", "misuse.ts", "server.ts"]) cpSync(path.join(root, "tests/types", file), path.join(dir, file));
  // The app uses every API without `!` or a cast; misuse.ts holds the @ts-expect-error lines.
  assert.deepEqual(assertionsIn(path.join(dir, "consumer.ts")), [], "no non-null assertion or cast in consumer.ts");
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  const common = ["--noEmit", "--strict", "--exactOptionalPropertyTypes", "--noUnusedLocals", "--skipLibCheck", "false",
    "--target", "es2022", "--lib", "es2022,dom", "consumer.ts", "misuse.ts", "server.ts"];
  // A bundler app, and Node's own ESM resolution (which follows the `types` condition).
  await run(process.execPath, [tsc, ...common, "--module", "esnext", "--moduleResolution", "bundler"], { cwd: dir });
  await run(process.execPath, [tsc, ...common, "--module", "nodenext", "--moduleResolution", "nodenext"], { cwd: dir });
  // tsc fails on a @ts-expect-error line that is not an error ("Unused directive").
  const directives = readFileSync(path.join(dir, "misuse.ts"), "utf8").match(/^\s*\/\/ @ts-expect-error/gm).length;
  t.diagnostic(`misuse.ts: ${directives} @ts-expect-error lines, each an error`);
});

/** Starts the installed bin (node_modules/.bin/tidelog-server, what `npx tidelog-server`
 * runs) in the project; resolves once it listens. */
async function startBin(env) {
  const port = await freePort();
  const child = spawn(path.join(plainDir, "node_modules/.bin/tidelog-server"), [], {
    cwd: plainDir,
    env: { ...process.env, npm_config_cache: path.join(tmp, "npm-cache"), PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const deadline = Date.now() + 30_000;
  while (!output.includes("tidelog-server: http://")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`tidelog-server did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const base = `http://127.0.0.1:${port}/v1/shop`;
  return {
    base,
    output: () => output,
    stop: () => stopChild(child),
  };
}

/** Pushes two events, reads them back through the feed; returns the feed. */
async function roundTrip(base) {
  const events = [1, 2].map((n) => ({ id: `bin-${n}`, type: "T", data: { n }, recordedAt: 1 }));
  const push = await fetch(`${base}/streams/cart`, {
    method: "POST",
    headers: { "content-type": "application/json", "if-none-match": "*" },
    body: JSON.stringify({ events }),
  });
  assert.equal(push.status, 201, await push.clone().text());
  return (await fetch(`${base}/events`)).json();
}

test("npx tidelog-server: the installed bin serves the protocol on its log file, then on PostgreSQL with DATABASE_URL", async () => {
  const resolved = (await run(process.execPath, ["--input-type=module", "-e", "console.log(import.meta.resolve('tidelog/server'))"], { cwd: plainDir })).trim();
  assert.ok(resolved.endsWith("/node_modules/tidelog/server/index.js"), resolved);
  const dataDir = path.join(tmp, "server-data");
  let server = await startBin({ TIDELOG_DATA_DIR: dataDir });
  const feed = await roundTrip(server.base);
  assert.deepEqual(feed.events.map((e) => [e.id, e.position]), [["bin-1", 1], ["bin-2", 2]]);
  assert.equal(await server.stop(), 0, "SIGTERM ends it cleanly");
  assert.ok(!existsSync(path.join(dataDir, "lock")), "the data directory is unlocked again");
  server = await startBin({ TIDELOG_DATA_DIR: dataDir });
  assert.deepEqual(await (await fetch(`${server.base}/events`)).json(), feed, "the log file kept everything");
  await server.stop();

  // PostgreSQL: npm pg installed beside tidelog (the version the repo pins).
  const { postgres } = await import("./postgres.mjs");
  const pg = await postgres();
  const pgVersion = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).devDependencies.pg;
  await npmInstall(plainDir, [`pg@${pgVersion}`]);
  server = await startBin({ DATABASE_URL: pg.database(`package-${Date.now()}`) });
  assert.match(server.output(), /on PostgreSQL/);
  assert.deepEqual((await roundTrip(server.base)).events.map((e) => [e.id, e.position]), [["bin-1", 1], ["bin-2", 2]]);
  assert.equal(await server.stop(), 0);
});
