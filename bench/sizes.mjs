// @ts-check
// What the package weighs and which tree it was built from: one implementation for
// `make bench` (bench/run.mjs, section 6), `make size` and the budget check in `make test`
// (bench/size.mjs). Sizes are node zlib: gzip level 9, brotli quality 11.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import zlib from "node:zlib";
import { WASM_NAME } from "../scripts/embed-wasm.mjs";

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** @typedef {{ raw: number, gzip: number, brotli: number }} Weight */
/** @typedef {Weight & { files: string[] }} Artifact */

/** @param {Buffer} data @returns {Weight} */
export function weigh(data) {
  return {
    raw: data.length,
    gzip: zlib.gzipSync(data, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

/** One file, or several loaded together (weighed as one concatenated stream). @param {string[]} files absolute paths @returns {Artifact} */
export function artifact(files) {
  return { files: files.map((f) => path.relative(root, f)), ...weigh(Buffer.concat(files.map((f) => readFileSync(f)))) };
}

/**
 * The JS a browser loads for a module: `entry` and every module it imports (relative
 * specifiers, transitively), e.g. pkg/tidelog.js and pkg/js/index.js.
 * @param {string} entry absolute path
 */
export function moduleGraph(entry) {
  const files = [entry];
  for (let i = 0; i < files.length; i++) {
    for (const [, specifier] of readFileSync(files[i], "utf8").matchAll(/\bfrom\s*["'](\.\.?\/[^"']+)["']/g)) {
      const file = path.resolve(path.dirname(files[i]), specifier);
      if (/\.m?js$/.test(file) && !files.includes(file)) files.push(file);
    }
  }
  return files;
}

/** The JS of a browser module without the wasm it carries (the line scripts/embed-wasm.mjs adds). @param {Buffer} js */
function withoutWasm(js) {
  const text = js.toString("utf8");
  const at = text.indexOf(`\nvar ${WASM_NAME}=`);
  return at < 0 ? js : Buffer.from(text.slice(0, at) + text.slice(text.indexOf("\n", at + 1)));
}

/**
 * Every artifact the package ships, weighed: the browser wasm (`wasm`, the bytes the
 * entry carries), the JS a page loads without it (`glue`: pkg/tidelog.js, the wasm's
 * line taken out, and the modules it imports), and what a page loads to open a store
 * (`total`: the entry as shipped, the wasm inside, one request), the sync wasm and its
 * glue a page loads once a store opens with `sync` (`syncTotal`: the three), the memory
 * wasm and its glue a page loads once a store opens with memory storage, the sync
 * worker's wasm and glue, the Node/Deno/Bun build's wasm and glue, the self-hosted
 * server's JS (it runs the worker's wasm), and Dexie's bundle for comparison.
 */
export function packageSizes() {
  const pkg = (/** @type {string} */ f) => path.join(root, "pkg", f);
  const wasm = artifact([pkg("tidelog_bg.wasm")]);
  const graph = moduleGraph(pkg("tidelog.js"));
  const glue = { files: graph.map((f) => path.relative(root, f)), ...weigh(Buffer.concat(graph.map((f) => withoutWasm(readFileSync(f))))) };
  const total = artifact(graph);
  /** @type {Record<string, Artifact | Weight>} */
  const out = { wasm, glue, total };
  if (existsSync(pkg("tidelog_sync_bg.wasm"))) {
    const sync = artifact([pkg("tidelog_sync_bg.wasm")]);
    out.syncWasm = sync;
    const parts = [total, sync];
    if (existsSync(pkg("tidelog_sync.js"))) parts.push((out.syncGlue = artifact([pkg("tidelog_sync.js")])));
    /** @param {"raw" | "gzip" | "brotli"} k */
    const sum = (k) => parts.reduce((n, a) => n + a[k], 0);
    out.syncTotal = { raw: sum("raw"), gzip: sum("gzip"), brotli: sum("brotli") };
  }
  if (existsSync(pkg("tidelog_memory_bg.wasm"))) {
    // What a page loads once a store opens with memory storage: the memory wasm and its
    // glue (which imports the entry, already loaded).
    out.memoryWasm = artifact([pkg("tidelog_memory_bg.wasm")]);
    out.memoryGlue = artifact([pkg("tidelog_memory.js")]);
  }
  if (existsSync(pkg("worker/tidelog_bg.wasm"))) {
    out.workerWasm = artifact([pkg("worker/tidelog_bg.wasm")]);
    out.workerGlue = artifact(moduleGraph(pkg("worker/index.js")));
  }
  if (existsSync(pkg("node/tidelog_bg.wasm"))) {
    out.nodeWasm = artifact([pkg("node/tidelog_bg.wasm")]);
    out.nodeGlue = artifact(moduleGraph(pkg("node/tidelog.js")));
  }
  if (existsSync(pkg("server/index.js"))) out.serverJs = artifact(moduleGraph(pkg("server/index.js")));
  const dexie = path.join(root, "node_modules/dexie/dist/dexie.min.js");
  if (existsSync(dexie)) out.dexie = artifact([dexie]);
  return out;
}

/** The commit HEAD names, and whether what builds the package (src/, js/, Cargo, pkg-template/, scripts/) has local changes. */
export function gitState() {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "js", "Cargo.toml", "Cargo.lock", "pkg-template", "scripts"], { cwd: root })
      .toString().trim() !== "";
    return { commit, srcDirty: dirty };
  } catch {
    return null;
  }
}
