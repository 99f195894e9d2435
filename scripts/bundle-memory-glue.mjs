#!/usr/bin/env node
// @ts-check
// Bundles the browser package's memory wasm glue (pkg/tidelog_memory.js: wasm-bindgen's,
// its names already minified by scripts/minify-wasm-names.mjs) with the JS modules it
// imports (./js/index.js) into one minified module, in place, with a source map beside it.
//
// The page loads it with a dynamic import() the first time a store opens with memory
// storage (scripts/build-pkg, setMemoryLoader). It has its own copy of the JS modules (the
// entry, pkg/tidelog.js, has them bundled in and exports none of them) except the error
// classes: its js/errors.js is a stand-in whose `makeError` makes the classes the entry
// exports (imported from ./tidelog.js, the same module instance on the page), so an error
// of a memory store is an instance of the package's `VersionConflictError` like any other.
//
//   node scripts/bundle-memory-glue.mjs pkg/tidelog_memory.js
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [glue] = process.argv.slice(2);
if (!glue) {
  console.error("usage: bundle-memory-glue.mjs <glue.js>");
  process.exit(2);
}
const errors = path.join(root, "js/errors.js");
const STAND_IN = "tidelog-memory:errors";
/** The classes' names, as js/errors.js has them (the entry exports each). */
const names = Object.keys((await import(errors)).ERROR_CLASSES).join(", ");

/** @type {import("esbuild").Plugin} */
const plugin = {
  name: "tidelog-memory-glue",
  setup(b) {
    // The glue's modules are the repo's js/ (build-pkg bundles the same for the entry).
    b.onResolve({ filter: /^\.\/js\/index\.js$/ }, () => ({ path: path.join(root, "js/index.js") }));
    // js/errors.js, wherever a module imports it from, is the stand-in: the entry's
    // classes, and makeError over them; the stand-in itself reads the real one (for
    // makeErrorOf).
    b.onResolve({ filter: /(^|\/)errors\.js$/ }, (args) =>
      args.importer === STAND_IN ? { path: errors } : { path: STAND_IN, namespace: "stand-in" });
    b.onLoad({ filter: /.*/, namespace: "stand-in" }, () => ({
      resolveDir: path.join(root, "js"),
      loader: "js",
      contents: `import { ${names} } from "./tidelog.js";
import { makeErrorOf } from "./errors.js";
export { ${names}, makeErrorOf };
export const ERROR_CLASSES = { ${names} };
export function makeError(name, message) { return makeErrorOf(ERROR_CLASSES, name, message); }
`,
    }));
    // The package entry stays an import: the page's one instance of it.
    b.onResolve({ filter: /^\.\/tidelog\.js$/ }, () => ({ path: "./tidelog.js", external: true }));
  },
};

await build({
  entryPoints: [glue],
  outfile: glue,
  allowOverwrite: true,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: "es2022",
  logLevel: "error",
  plugins: [plugin],
});
