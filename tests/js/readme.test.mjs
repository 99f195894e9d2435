// Every fenced code block of README.md and pkg-template/README.md (the npm README) runs or
// is checked here, so the examples cannot rot. Needs `make pkg`; one block:
// `make test-js FILE=readme GREP='README.md:42'`.
//
// Each block is classified by its info string and its code; an HTML comment right above
// the fence, `<!-- readme-test: KIND -->`, overrides that, and
// `<!-- readme-test: KIND; given: CODE -->` also runs CODE first (for an excerpt that uses
// names the prose defines). A block that fits no kind fails.
//
// - `js` (also `javascript`, `mjs`): ES module code against the built package, `import
//   ... from "tidelog"` included. Run in Node (the memory store) and in Chromium, Firefox
//   and WebKit on the demo server's origin (through the harness's proxy; IndexedDB;
//   "tidelog" maps to /pkg/tidelog.js), there twice in one profile, as a reader who
//   reloads and pastes again would. Code that needs a browser (location, document,
//   window, navigator, indexedDB, /pkg/ imports) or a sync server (a `sync:` option) runs
//   only in the browsers; code that imports node: modules only in Node. `https://sync.example.com` means the test's own demo server. A line
//   `console.log(...); // text` (text without braces, brackets or "...") must print text.
// - `js` that calls `self.addEventListener` (a service worker): served from the demo
//   origin as a module service worker (bare "tidelog" rewritten to /pkg/tidelog.js and
//   "tidelog/sync" to /pkg/tidelog.sync.js, as a bundler would). A `sync` handler is driven for real: a page fills the outbox of a
//   paused store, Chromium dispatches the Background Sync event `tidelog:<database>`
//   (DevTools protocol), and the events must reach the sync server.
// - `ts` (also `typescript`): type-checked with `tsc --strict --exactOptionalPropertyTypes`
//   against the package's declarations, then run as `js` above.
// - `sh` (also `bash`, `shell`): not run (they install, serve, or run whole suites); each
//   command is checked: `make` targets exist (`make -n`) and their TEST=/FILE= name real
//   tests; scripts and paths exist (node_modules/tidelog/ is pkg/); other programs are on
//   PATH; `cargo --test`/`--features` name real targets and features; `bash -n` parses it.
// - `toml` with `[[durable_objects.bindings]]` (wrangler config): `main` exists in the
//   package, the classes are exported by the worker, the bindings are read by it, and
//   every setting appears in worker/wrangler.toml.example.
// - `text`: a diagram or a file tree, not code: nothing to run.
// Last, .ci/run must run exactly the README's test command.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, constants, accessSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, startServer, startProxy, launchBrowser, selectedEngines, takeAllPageErrors } from "./harness.mjs";

const DOCS = ["README.md", "pkg-template/README.md"];
const BLOCK_TIMEOUT = 60_000;
const EXAMPLE_ORIGIN = "https://sync.example.com";

// ---------------------------------------------------------------- extraction

/** The fenced blocks of a Markdown file: `{ file, line, info, lang, code, marker }`. */
export function extractBlocks(file, text) {
  const lines = text.split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).exec(lines[j]);
      if (close) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    if (j === lines.length) throw new Error(`${file}:${i + 1}: the fence is never closed`);
    // The marker: an HTML comment ending on the last non-blank line above the fence.
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    let marker = null;
    if (k >= 0 && lines[k].trim().endsWith("-->")) {
      let s = k;
      while (s > 0 && !lines[s].includes("<!--")) s--;
      const comment = lines.slice(s, k + 1).join("\n");
      const m = /<!--\s*readme-test:\s*([\w-]+)\s*(?:;\s*given:\s*([\s\S]*?))?\s*-->/.exec(comment);
      if (m) marker = { kind: m[1], given: m[2] ?? "" };
    }
    blocks.push({ file, line: i + 1, info: info.trim(), lang: info.trim().split(/\s+/)[0].toLowerCase(), code: body.join("\n"), marker });
    i = j;
  }
  return blocks;
}

// ---------------------------------------------------------------- classification

const KINDS = ["js", "service-worker", "ts", "shell", "wrangler", "text"];
const LANGS = {
  js: "js", javascript: "js", mjs: "js",
  ts: "ts", typescript: "ts",
  sh: "shell", bash: "shell", shell: "shell",
  text: "text", txt: "text",
};

/** Where a JS block runs: ["node"], ["browser"] or both. */
export function jsHosts(code) {
  const browserOnly = /\b(location|document|window|navigator|indexedDB)\s*[.\[]|import\(\s*["'`]\/pkg\/|\bsync\s*:\s*\{/.test(code);
  const nodeOnly = /from\s+["']node:|import\(\s*["']node:|\bprocess\./.test(code);
  if (browserOnly && nodeOnly) return null;
  return browserOnly ? ["browser"] : nodeOnly ? ["node"] : ["node", "browser"];
}

/** `{ kind, hosts? }` for a block, or `{ error }` when it fits no kind. */
export function classify(block) {
  let kind = block.marker?.kind;
  if (kind && !KINDS.includes(kind)) return { error: `unknown readme-test kind "${kind}" (one of ${KINDS.join(", ")})` };
  if (!kind) {
    kind = LANGS[block.lang];
    if (block.lang === "toml") kind = /^\s*\[\[durable_objects\.bindings\]\]/m.test(block.code) ? "wrangler" : undefined;
    if (!kind) {
      const what = block.lang ? `info string "${block.info}"` : "no info string";
      return { error: `cannot classify a block with ${what}: use js, ts, sh, text or a wrangler toml, or add <!-- readme-test: KIND -->` };
    }
    if (kind === "js" && /\bself\.addEventListener\(/.test(block.code)) kind = "service-worker";
  }
  if (kind === "js" || kind === "ts") {
    const hosts = jsHosts(block.code);
    if (!hosts) return { error: "the block needs both a browser and Node (node: imports next to browser globals)" };
    return { kind, hosts };
  }
  return { kind };
}

// ---------------------------------------------------------------- shared resources

const scratch = mkdtempSync(path.join(tmpdir(), "tidelog-readme-"));
// `import "tidelog"` in Node resolves through the package's own `exports` (the `node`
// condition), as in an app that installed it.
mkdirSync(path.join(scratch, "node_modules"));
symlinkSync(path.join(root, "pkg"), path.join(scratch, "node_modules/tidelog"), "dir");

let serverPromise;
const demo = () => (serverPromise ??= startServer({ TIDELOG_DATA_DIR: mkdtempSync(path.join(scratch, "sync-data-")) }));
/** One browser per engine, launched on first use. */
const browsers = new Map();
const browserFor = (engine) => {
  if (!browsers.has(engine)) browsers.set(engine, launchBrowser(engine));
  return browsers.get(engine);
};
const ENGINE_NAMES = { chromium: "Chromium", firefox: "Firefox", webkit: "WebKit" };
const ENGINES = selectedEngines();

after(async () => {
  for (const browser of browsers.values()) await (await browser).close();
  assert.deepEqual(await takeAllPageErrors(), [], "page errors");
  await (await serverPromise)?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** The lines a block promises to print: `console.log(...); // text`. */
export function expectedOutput(code) {
  const out = [];
  for (const line of code.split("\n")) {
    const m = /^\s*console\.log\(.*\);?\s*\/\/\s*(.+?)\s*$/.exec(line);
    if (m && !/[{}\[\]]|\.\.\.|…/.test(m[1])) out.push(m[1]);
  }
  return out;
}

function checkOutput(block, printed, where) {
  for (const expected of expectedOutput(block.code)) {
    assert.ok(printed.includes(expected), `${where}: the block says it prints "${expected}"; it printed:\n${printed.join("\n")}`);
  }
}

const withExampleOrigin = (code, base) => code.replaceAll(EXAMPLE_ORIGIN, base);

// ---------------------------------------------------------------- js in Node

function run(cmd, args, { cwd = scratch, timeout = BLOCK_TIMEOUT } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => { stderr += `\n(killed after ${timeout} ms)`; child.kill("SIGKILL"); }, timeout);
    child.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

async function runInNode(block, id, code) {
  writeFileSync(path.join(scratch, `${id}.mjs`), code);
  // The block may leave subscriptions or timers behind; once it has run, the runner exits.
  writeFileSync(path.join(scratch, `${id}.run.mjs`), `await import("./${id}.mjs");\nprocess.exit(0);\n`);
  const { code: status, stdout, stderr } = await run(process.execPath, [`${id}.run.mjs`]);
  assert.equal(status, 0, `${block.file}:${block.line} failed in Node:\n${stderr}${stdout}`);
  checkOutput(block, stdout.split("\n"), "Node");
}

// ---------------------------------------------------------------- js in the browsers

const PAGE = `<!doctype html><meta charset="utf-8"><title>readme-test</title>
<script type="importmap">{ "imports": { "tidelog": "/pkg/tidelog.js", "tidelog/sync": "/pkg/tidelog.sync.js" } }</script>`;

/** A fresh profile in `engine` whose origin (a proxy in front of the demo server, `base`)
 * also serves PAGE and the given modules under /readme-test/. */
async function browserContext(files, engine = "chromium") {
  const { base: target } = await demo();
  const net = await startProxy(target);
  net.route("/readme-test/**", (route) => {
    const name = new URL(route.request().url()).pathname.slice("/readme-test/".length);
    if (name === "index.html") return route.fulfill({ status: 200, contentType: "text/html", body: PAGE });
    if (name in files) return route.fulfill({ status: 200, contentType: "text/javascript", body: files[name] });
    return route.fulfill({ status: 404, body: "" });
  });
  const context = await (await browserFor(engine)).newContext();
  return { context, base: net.base, async close() { await context.close(); await net.stop(); } };
}

/** Opens the test page; `printed()` and `failures()` read its console and errors so far. */
async function testPage(context, base) {
  const page = await context.newPage();
  await page.goto(`${base}/readme-test/index.html`);
  const printed = [], failures = [];
  const collect = async () => {
    for (const m of await page.takeConsole()) (m.type === "error" ? failures : printed).push(m.text);
    failures.push(...(await page.takeErrors()));
  };
  return { page, printed: async () => { await collect(); return printed; }, failures: async () => { await collect(); return failures; } };
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${BLOCK_TIMEOUT} ms`)), BLOCK_TIMEOUT)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runInBrowser(block, id, code, engine) {
  const files = {};
  const { context, base, close } = await browserContext(files, engine);
  files[`${id}.mjs`] = withExampleOrigin(code, base);
  try {
    for (const run of [1, 2]) {
      const { page, printed, failures } = await testPage(context, base);
      const where = `${block.file}:${block.line} in ${ENGINE_NAMES[engine]} (run ${run} of 2${run === 2 ? ", over run 1's database" : ""})`;
      await withTimeout(page.evaluate((url) => import(url).then(() => undefined), `/readme-test/${id}.mjs?run=${run}`), where)
        .catch(async (e) => assert.fail(`${where}: ${e.message}\nconsole:\n${[...await printed(), ...await failures()].join("\n")}`));
      await new Promise((r) => setTimeout(r, 100)); // late callbacks (subscriptions) report too
      assert.deepEqual(await failures(), [], `${where}: errors on the page`);
      checkOutput(block, await printed(), where);
      await page.close();
    }
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------- service workers

async function runServiceWorker(block, id, code) {
  const files = {};
  const { context, base, close } = await browserContext(files, "chromium");
  // Service workers have no import maps: bundlers resolve "tidelog" for them.
  files[`${id}-sw.js`] = withExampleOrigin(code, base).replace(/(from\s+|import\(\s*|import\s+)(["'])tidelog(\/sync)?\2/g,
    (_, before, quote, sync) => `${before}${quote}/pkg/tidelog${sync ? ".sync" : ""}.js${quote}`);
  try {
    // Background Sync is Chromium's, dispatched through the DevTools protocol.
    const page = (await testPage(context, base)).page.chromium;
    const cdp = await context.chromium.newCDPSession(page);
    const registrations = [];
    cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
    const swErrors = [];
    cdp.on("ServiceWorker.workerErrorReported", (e) => swErrors.push(e.errorMessage.errorMessage));
    await cdp.send("ServiceWorker.enable");
    await withTimeout(page.evaluate(async (url) => {
      await navigator.serviceWorker.register(url, { type: "module", scope: "/readme-test/" });
      await navigator.serviceWorker.ready;
    }, `/readme-test/${id}-sw.js`), `${block.file}:${block.line}: registering the service worker`);
    assert.deepEqual(swErrors, [], "the service worker failed to start");
    if (!/addEventListener\(\s*["']sync["']/.test(code)) return;

    // A paused store keeps its appends in the outbox; the sync event must push them.
    const database = `readme-${id}-${Date.now()}`;
    await page.evaluate(async ({ database, url }) => {
      const tidelog = await import("tidelog");
      await tidelog.default();
      const store = await tidelog.EventStore.open(database, { sync: { url, paused: true } });
      await store.append("readme", [{ type: "Noted", data: 1 }, { type: "Noted", data: 2 }]);
      store.close();
    }, { database, url: `${base}/v1/readme${id}` });
    const pushes = [];
    context.chromium.on("requestfinished", async (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname.startsWith("/v1/")) {
        pushes.push({ url: request.url(), status: (await request.response())?.status() });
      }
    });
    const registration = registrations.find((r) => !r.isDeleted && r.scopeURL === `${base}/readme-test/`);
    await cdp.send("ServiceWorker.dispatchSyncEvent", { origin: base, registrationId: registration.registrationId, tag: `tidelog:${database}`, lastChance: false });
    let stored = [];
    for (let i = 0; i < 150 && stored.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const push = pushes.find((p) => p.status >= 200 && p.status < 300);
      if (push) stored = (await (await fetch(push.url)).json()).events ?? [];
    }
    assert.deepEqual(stored.map((e) => e.data), [1, 2],
      `${block.file}:${block.line}: the sync event did not push the outbox to the server (pushes: ${JSON.stringify(pushes)}; service worker errors: ${JSON.stringify(swErrors)})`);
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------- TypeScript

async function typeCheck(block, id, code) {
  const dir = path.join(scratch, `${id}-ts`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "block.ts"), `export {};\n${code}\n`);
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false,
      target: "es2022", module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"],
      typeRoots: [], types: [],
    },
    include: ["block.ts"],
  }));
  const { code: status, stdout, stderr } = await run(path.join(root, "node_modules/.bin/tsc"), ["-p", dir], { cwd: scratch });
  assert.equal(status, 0, `${block.file}:${block.line} does not type-check:\n${stdout}${stderr}`);
  const { transform } = await import("esbuild");
  return (await transform(code, { loader: "ts", format: "esm", target: "es2022" })).code;
}

// ---------------------------------------------------------------- shell

/** Splits a shell line into commands of words (quotes kept together, comments dropped). */
export function shellCommands(text) {
  const commands = [];
  for (const rawLine of text.split("\n")) {
    const words = [];
    let word = null, quote = null;
    const line = rawLine.trimEnd();
    const flush = () => { if (word !== null) words.push(word); word = null; };
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote) { if (c === quote) quote = null; else word += c; continue; }
      if (c === "'" || c === '"') { quote = c; word ??= ""; continue; }
      if (c === "#" && word === null) break;
      if (/\s/.test(c)) { flush(); continue; }
      if (c === ";" || c === "|" || c === "&") { flush(); if (words.length) commands.push(words.splice(0)); if (line[i + 1] === c) i++; continue; }
      word = (word ?? "") + c;
    }
    flush();
    if (words.length) commands.push(words);
  }
  return commands;
}

const repoPath = (p) => path.join(root, p.replace(/^node_modules\/tidelog\//, "pkg/"));
const looksLikePath = (w) => !w.startsWith("-") && !w.includes("://") && !w.includes("=") && !/[<>*$]/.test(w) && (w.includes("/") || /\.(rs|mjs|js|ts|toml|json|md)$/.test(w));

function checkCommand(words, where) {
  while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
  if (!words.length) return;
  const [program, ...args] = words;
  if (program === "make") {
    const dry = spawnSync("make", ["-n", "--no-print-directory", ...args], { cwd: root, encoding: "utf8" });
    assert.equal(dry.status, 0, `${where}: \`make ${args.join(" ")}\` does not resolve:\n${dry.stderr}`);
    for (const [variable, target] of [["TEST", "browser-test-arg"], ["FILE", "js-file-arg"]]) {
      const arg = args.find((a) => a.startsWith(`${variable}=`));
      if (!arg) continue;
      const check = spawnSync("make", ["--no-print-directory", target, arg], { cwd: root, encoding: "utf8" });
      assert.equal(check.status, 0, `${where}: ${check.stderr}`);
    }
    return;
  }
  if (program === "source" || program === ".") {
    assert.ok(existsSync(repoPath(args[0])), `${where}: ${args[0]} does not exist`);
    return;
  }
  if (program.includes("/")) {
    const file = repoPath(program);
    assert.ok(existsSync(file) && statSync(file).isFile(), `${where}: ${program} does not exist`);
    accessSync(file, constants.X_OK);
  } else {
    const found = spawnSync("bash", ["-c", `command -v ${program}`], { cwd: root, env: { ...process.env, PATH: `${root}/node_modules/.bin:${process.env.PATH}` } });
    assert.equal(found.status, 0, `${where}: \`${program}\` is not a command here`);
  }
  if (program === "cargo") {
    const manifest = readFileSync(path.join(root, "Cargo.toml"), "utf8");
    args.forEach((a, i) => {
      if (a === "--test") assert.ok(existsSync(path.join(root, `tests/${args[i + 1]}.rs`)), `${where}: no tests/${args[i + 1]}.rs`);
      if (a === "--features") {
        for (const f of args[i + 1].split(",")) assert.match(manifest, new RegExp(`^${f} = `, "m"), `${where}: no feature ${f}`);
      }
    });
  }
  // The destination of cp/mv is made by the command.
  const sources = program === "cp" || program === "mv" ? args.slice(0, -1) : args;
  for (const a of sources) if (looksLikePath(a)) assert.ok(existsSync(repoPath(a)), `${where}: ${a} does not exist`);
}

function checkShell(block) {
  const syntax = spawnSync("bash", ["-n"], { input: block.code, encoding: "utf8" });
  assert.equal(syntax.status, 0, `${block.file}:${block.line}: bash -n: ${syntax.stderr}`);
  for (const words of shellCommands(block.code)) checkCommand(words, `${block.file}:${block.line} \`${words.join(" ")}\``);
}

// ---------------------------------------------------------------- wrangler.toml

/** Flat `[table] key = value` pairs of a small TOML document (strings, string arrays, booleans). */
function tomlPairs(text) {
  const pairs = [];
  let table = "";
  for (const line of text.split("\n")) {
    const t = line.replace(/\s+#.*$|^#.*$/, "").trim();
    if (!t) continue;
    const header = /^\[\[?([\w.]+)\]\]?$/.exec(t);
    if (header) { table = header[1]; continue; }
    const pair = /^([\w.-]+)\s*=\s*(.+)$/.exec(t);
    assert.ok(pair, `not a TOML key = value line: ${t}`);
    pairs.push({ table, key: pair[1], value: JSON.parse(pair[2]) });
  }
  return pairs;
}

function checkWrangler(block) {
  const where = `${block.file}:${block.line}`;
  const worker = readFileSync(path.join(root, "pkg/worker/index.js"), "utf8");
  const example = tomlPairs(readFileSync(path.join(root, "pkg/worker/wrangler.toml.example"), "utf8"));
  for (const { table, key, value } of tomlPairs(block.code)) {
    assert.ok(example.some((p) => p.table === table && p.key === key && JSON.stringify(p.value) === JSON.stringify(value)),
      `${where}: [${table}] ${key} = ${JSON.stringify(value)} is not in worker/wrangler.toml.example`);
    if (key === "main") assert.ok(existsSync(repoPath(value)), `${where}: main = ${value} is not in the package`);
    for (const cls of key === "class_name" ? [value] : key === "new_sqlite_classes" ? value : []) {
      assert.match(worker, new RegExp(`export class ${cls}\\b`), `${where}: the worker exports no class ${cls}`);
    }
    if (table === "durable_objects.bindings" && key === "name") assert.match(worker, new RegExp(`env\\.${value}\\b`), `${where}: the worker never reads env.${value}`);
  }
}

// ---------------------------------------------------------------- the tests

const pkgBuilt = existsSync(path.join(root, "pkg/tidelog.js"));

for (const file of DOCS) {
  const blocks = extractBlocks(file, readFileSync(path.join(root, file), "utf8"));
  test(`${file} has code blocks`, () => assert.ok(blocks.length > 0));
  blocks.forEach((block, n) => {
    const id = `${file.replace(/\W+/g, "_")}_${n}`;
    const c = classify(block);
    const hosts = { node: "Node", browser: ENGINES.map((e) => ENGINE_NAMES[e]).join(" + ") };
    const label = c.error ? `${block.lang || "no info string"}: unclassified` : c.hosts ? `${c.kind} in ${c.hosts.map((h) => hosts[h]).join(" + ")}` : c.kind;
    test(`${file}:${block.line} ${label}`, async () => {
      if (c.error) assert.fail(`${file}:${block.line}: ${c.error}`);
      if (["js", "ts", "service-worker", "wrangler"].includes(c.kind)) assert.ok(pkgBuilt, "run `make pkg` first");
      const given = block.marker?.given ? `${block.marker.given}\n` : "";
      switch (c.kind) {
        case "text":
          return;
        case "shell":
          return checkShell(block);
        case "wrangler":
          return checkWrangler(block);
        case "service-worker":
          return runServiceWorker(block, id, given + block.code);
        case "ts":
        case "js": {
          const code = c.kind === "ts" ? await typeCheck(block, id, given + block.code) : given + block.code;
          if (c.hosts.includes("node")) await runInNode(block, id, code);
          if (c.hosts.includes("browser")) for (const engine of ENGINES) await runInBrowser(block, id, code, engine);
        }
      }
    });
  });
}

test(".ci/run runs exactly the README's test command", () => {
  const ci = readFileSync(path.join(root, ".ci/run"), "utf8").split("\n").map((l) => l.trim());
  const command = ci.filter((l) => l && !l.startsWith("#") && !/^(set|cd) /.test(l));
  assert.deepEqual(command, ["make test"], ".ci/run should run one command: the README's");
  const readme = extractBlocks("README.md", readFileSync(path.join(root, "README.md"), "utf8"));
  assert.ok(readme.some((b) => b.lang === "sh" && shellCommands(b.code).some((w) => w.join(" ") === command[0])),
    `README.md shows no \`${command[0]}\` block`);
});
