#!/usr/bin/env node
// @ts-check
// The package's weight, against the budget in bench/size-budget.json (the one place the
// numbers live). Reads pkg/ as `make pkg` built it; builds nothing.
//
//   node bench/size.mjs --check    `make test`: the browser wasm (gzip), the entry a
//                                  page loads with the wasm inside (gzip), the sync and the
//                                  memory wasm (gzip) against the budget; exits 1 over
//                                  budget
//   node bench/size.mjs            `make size`: raw/gzip/brotli of every shipped artifact,
//                                  the top contributors (twiggy, by function and by crate,
//                                  on target/size/tidelog_bg.named.wasm: the shipped wasm
//                                  before its names are stripped)
//   node bench/size.mjs --record   the same, then appends a row to "Size history" in
//                                  BENCHMARKS.md (refused on a tree with uncommitted changes
//                                  to what builds the package: every row names its commit)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gitState, packageSizes, root } from "./sizes.mjs";

/** @typedef {{ browserWasmGzip: number, browserTotalGzip: number, browserSyncWasmGzip?: number, browserMemoryWasmGzip?: number }} Budget */

const budgetFile = path.join(root, "bench/size-budget.json");
/** @type {Budget & { goal?: Budget }} */
const budget = JSON.parse(readFileSync(budgetFile, "utf8"));

for (const f of ["pkg/tidelog_bg.wasm", "pkg/tidelog_sync_bg.wasm", "pkg/tidelog_memory_bg.wasm", "pkg/tidelog.js"]) {
  if (!existsSync(path.join(root, f))) {
    console.error(`size: ${f} is missing: run \`make pkg\` first`);
    process.exit(2);
  }
}
const sizes = packageSizes();
const wasm = sizes.wasm;
const total = sizes.total;
const syncWasm = /** @type {{ raw: number, gzip: number, brotli: number }} */ (sizes.syncWasm);
const memoryWasm = /** @type {{ raw: number, gzip: number, brotli: number }} */ (sizes.memoryWasm);

/** @param {number} n */
const fmt = (n) => n.toLocaleString("en-US");

if (process.argv.includes("--check")) {
  const checks = [
    ["browser wasm (pkg/tidelog_bg.wasm), gzip -9", wasm.gzip, budget.browserWasmGzip],
    ["browser entry with its wasm inside (pkg/tidelog.js: what a page loads), gzip -9", total.gzip, budget.browserTotalGzip],
    ["sync wasm (pkg/tidelog_sync_bg.wasm, loaded by stores that sync), gzip -9", syncWasm.gzip, budget.browserSyncWasmGzip ?? 0],
    ["memory wasm (pkg/tidelog_memory_bg.wasm, loaded by memory stores), gzip -9", memoryWasm.gzip, budget.browserMemoryWasmGzip ?? 0],
  ];
  let over = false;
  for (const [what, got, limit] of /** @type {[string, number, number][]} */ (checks)) {
    const ok = got <= limit;
    over ||= !ok;
    console.log(`size: ${what}: ${fmt(got)} B, budget ${fmt(limit)} B: ${ok ? "ok" : `OVER by ${fmt(got - limit)} B`}`);
  }
  if (over) {
    console.error("size: over budget (bench/size-budget.json). `make size` shows where the bytes are.");
    process.exit(1);
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------
// The report

console.log("Artifact | raw | gzip -9 | brotli q11");
console.log("---|---:|---:|---:");
for (const [name, a] of Object.entries(sizes)) {
  const files = "files" in a ? ` (${/** @type {{files: string[]}} */ (a).files.join(" + ")})` : "";
  console.log(`${name}${files} | ${fmt(a.raw)} | ${fmt(a.gzip)} | ${fmt(a.brotli)}`);
}
console.log(`\nbudget (bench/size-budget.json): wasm ${fmt(budget.browserWasmGzip)} B gzip, wasm + glue ${fmt(budget.browserTotalGzip)} B gzip, ` +
  `sync wasm ${fmt(budget.browserSyncWasmGzip ?? 0)} B gzip, memory wasm ${fmt(budget.browserMemoryWasmGzip ?? 0)} B gzip` +
  (budget.goal ? `; goal ${fmt(budget.goal.browserWasmGzip)} / ${fmt(budget.goal.browserTotalGzip)}` : ""));

for (const [label, file] of [["the client's wasm", "tidelog_bg.named.wasm"], ["the sync wasm", "tidelog_sync_bg.named.wasm"],
  ["the memory wasm", "tidelog_memory_bg.named.wasm"]]) {
  contributors(label, path.join(root, "target/size", file));
}

/**
 * The top functions and crates of one wasm (twiggy, on its named copy).
 * @param {string} label
 * @param {string} named
 */
function contributors(label, named) {
  /** @type {{ name: string, shallow_size: number }[] | null} */
  let items = null;
  try {
    if (existsSync(named)) {
      items = JSON.parse(execFileSync("twiggy", ["top", "-n", "1000000", "--format", "json", named], { maxBuffer: 1 << 28 }).toString());
    }
  } catch (e) {
    console.log(`\n(no contributors: twiggy failed: ${/** @type {Error} */ (e).message.split("\n")[0]})`);
  }
  if (items) {
    const code = items.filter((i) => !/subsection"?$/.test(i.name));
    const sum = code.reduce((n, i) => n + i.shallow_size, 0);
    const pct = (/** @type {number} */ n) => `${((100 * n) / sum).toFixed(1)}%`;
    console.log(`\n${label}: top functions (twiggy, shallow bytes after wasm-opt, before compression; ${fmt(sum)} B of code and data):`);
    for (const i of code.slice(0, 15)) console.log(`${String(i.shallow_size).padStart(7)} ${pct(i.shallow_size).padStart(6)}  ${clean(i.name).slice(0, 140)}`);
    /** @type {Map<string, number>} */
    const byCrate = new Map();
    for (const i of code) byCrate.set(bucket(i.name), (byCrate.get(bucket(i.name)) ?? 0) + i.shallow_size);
    console.log(`\n${label}: by crate (tidelog by module):`);
    for (const [k, n] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${String(n).padStart(7)} ${pct(n).padStart(6)}  ${k}`);
  } else if (!existsSync(named)) {
    console.log(`\n(no contributors: ${path.relative(root, named)} is missing; scripts/build-pkg writes it)`);
  }
}

/** A symbol without its crate hashes. @param {string} name */
function clean(name) {
  return name.replace(/\[[0-9a-f]{16}\]/g, "");
}

/**
 * The crate a symbol's code belongs to; tidelog's by module (`tidelog::web::indexeddb`);
 * the promise adapters of exported async methods as their own bucket.
 * @param {string} name
 */
function bucket(name) {
  const n = clean(name);
  if (n.includes("future_to_promise")) return "async adapters (future_to_promise bodies)";
  if (/^data segment/.test(n)) return "data segments";
  if (/^(code|elem|table|type|global|func)\[\d+\]|^(import|export) /.test(n)) return "wasm sections (imports, exports, unnamed code)";
  if (/shim|^[a-z]+_[a-zA-Z]+$/.test(n)) return "wasm-bindgen export shims";
  // `<u64 as core::fmt::Display>::fmt`: a primitive's impl counts for the trait's crate.
  const m = /^<*(?:(?:[a-z0-9]+|str|\[[^\]]*\]) as )?([A-Za-z_][A-Za-z0-9_]*)::((?:[a-z_][a-z0-9_]*::){0,2})/.exec(n);
  if (!m) return "other";
  if (m[1] !== "tidelog") return m[1];
  return `tidelog::${m[2].split("::").filter(Boolean).slice(0, 2).join("::")}`;
}

if (process.argv.includes("--record")) {
  const git = gitState();
  if (!git || git.srcDirty) {
    console.error("size: not recorded: the tree has uncommitted changes to what builds the package (each row names its commit)");
    process.exit(1);
  }
  const file = path.join(root, "BENCHMARKS.md");
  const heading = "## Size history";
  let text = readFileSync(file, "utf8");
  if (!text.includes(heading)) {
    text = text.replace(/\n## /, `\n${heading}\n\n\`make size\` appends a row per run (bench/size.mjs; node zlib, gzip level 9 and brotli quality 11). ` +
      "The browser figures are what a page loads: the wasm (pkg/tidelog_bg.wasm), the JS glue (pkg/tidelog.js and the modules it imports, without the wasm), " +
      "and the two together (since the entry carries the wasm, pkg/tidelog.js as shipped: one file, one request).\n\n" +
      "| Date | Commit | wasm raw | wasm gzip | wasm brotli | glue gzip | wasm + glue gzip | wasm + glue brotli | worker wasm gzip | sync wasm gzip | memory wasm gzip |\n" +
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\n## ");
  }
  const w = /** @type {{ gzip: number } | undefined} */ (sizes.workerWasm);
  const m = /** @type {{ gzip: number } | undefined} */ (sizes.memoryWasm);
  const row = `| ${new Date().toISOString().slice(0, 10)} | ${git.commit} | ${fmt(wasm.raw)} | ${fmt(wasm.gzip)} | ${fmt(wasm.brotli)} | ` +
    `${fmt(sizes.glue.gzip)} | ${fmt(total.gzip)} | ${fmt(total.brotli)} | ${w ? fmt(w.gzip) : "—"} | ${fmt(syncWasm.gzip)} | ` +
    `${m ? fmt(m.gzip) : "—"} |`;
  // The row goes after the table's last row.
  const start = text.indexOf(heading);
  const tableEnd = text.indexOf("\n\n", text.indexOf("|---", start));
  text = `${text.slice(0, tableEnd)}\n${row}${text.slice(tableEnd)}`;
  writeFileSync(file, text);
  console.log(`\nrecorded in BENCHMARKS.md (Size history): ${row}`);
}
