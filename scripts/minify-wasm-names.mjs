#!/usr/bin/env node
// @ts-check
// Short import and export names for a browser wasm and its wasm-bindgen glue (issue 14).
//
//   node scripts/minify-wasm-names.mjs <wasm> <glue.js> <mapping.json> [<wasm.d.ts>]
//
// <wasm> has just been through `wasm-opt --minify-imports-and-exports-and-modules`, and
// <mapping.json> is what that printed: every import as [module, old name, new name] and
// every export as [old name, new name] (all imports are moved to one module with a short
// name). This script makes the rest agree with it, and fails the build when they cannot:
// - the wasm: the `memory` export gets its name back (`init()` returns the exports, and
//   tidelog.d.ts declares their `memory`); checked against the mapping after that;
// - the glue: the keys of its import object (`__wbg_get_imports`) and every `wasm.<export>`
//   use. Imports the glue passes through from a JS module (`"./js/index.js": import1`,
//   wasm-bindgen's raw_module imports) become `<new name>: import1.<old name>` entries.
//   Fails on a mapped import the glue does not define, an export of the API (not
//   wasm-bindgen's own `__*`) it does not use, and a `wasm.<name>` or an import key the
//   minified wasm does not have;
// - the wasm's declarations (<wasm.d.ts>, shipped beside it), renamed the same way.
// The glue is wasm-bindgen's `--target web` output as 0.2.130 writes it; a release that
// writes it otherwise fails here rather than shipping a glue that cannot instantiate.
import { readFileSync, writeFileSync } from "node:fs";

/** Exports that keep their name. */
const KEPT_EXPORTS = new Set(["memory"]);

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`minify-wasm-names: ${message}`);
  process.exit(1);
}

/** @param {string} s */
const escape = (s) => s.replace(/[$]/g, "\\$&");

// ---- The wasm: the export section with kept names restored ----------------------------

/** @param {Uint8Array} bytes @param {number} at @returns {[number, number]} value, next offset */
function readU32(bytes, at) {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [value, at];
  }
}

/** @param {number} n */
function u32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * The module with its export names renamed.
 * @param {Uint8Array} bytes
 * @param {Map<string, string>} renames
 */
function renameExports(bytes, renames) {
  const parts = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, start] = readU32(bytes, at + 1);
    const end = start + size;
    if (id !== 7) {
      parts.push(bytes.subarray(at, end));
    } else {
      let [count, p] = readU32(bytes, start);
      const body = [...u32(count)];
      for (; count > 0; count--) {
        const [len, nameAt] = readU32(bytes, p);
        const name = new TextDecoder().decode(bytes.subarray(nameAt, nameAt + len));
        const kind = bytes[nameAt + len];
        const [, next] = readU32(bytes, nameAt + len + 1);
        const newName = new TextEncoder().encode(renames.get(name) ?? name);
        body.push(...u32(newName.length), ...newName, kind, ...bytes.subarray(nameAt + len + 1, next));
        p = next;
      }
      if (p !== end) fail("the wasm's export section did not parse");
      parts.push(Uint8Array.from([7, ...u32(body.length), ...body]));
    }
    at = end;
  }
  return Buffer.concat(parts);
}

// ---- Main ------------------------------------------------------------------------------

const [wasmPath, gluePath, mappingPath, dtsPath] = process.argv.slice(2);
if (!mappingPath) fail("usage: minify-wasm-names.mjs <wasm> <glue.js> <mapping.json> [<wasm.d.ts>]");
/** @type {{ imports: [string, string, string][], exports: [string, string][] }} */
const mapping = JSON.parse(readFileSync(mappingPath, "utf8"));

// Exports: old -> new, with the kept ones restored in the wasm.
const exportNames = new Map(mapping.exports);
const restore = new Map();
for (const name of KEPT_EXPORTS) {
  const short = exportNames.get(name);
  if (short === undefined) fail(`the wasm has no export \`${name}\``);
  restore.set(short, name);
  exportNames.set(name, name);
}
const wasm = renameExports(readFileSync(wasmPath), restore);

// The wasm agrees with the mapping: one import module, the mapped names exactly.
const module = new WebAssembly.Module(wasm);
const imports = WebAssembly.Module.imports(module);
const importModule = imports[0]?.module;
if (imports.some((i) => i.module !== importModule)) fail("the wasm imports from more than one module");
/** @param {Iterable<string>} names */
const sorted = (names) => [...names].sort().join(" ");
if (sorted(imports.map((i) => i.name)) !== sorted(mapping.imports.map(([, , n]) => n))) {
  fail("the wasm's imports are not the mapping's");
}
const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
if (sorted(exports) !== sorted(exportNames.values())) fail("the wasm's exports are not the mapping's");

// ---- The glue --------------------------------------------------------------------------

let glue = readFileSync(gluePath, "utf8");
const importsFn = /^function __wbg_get_imports\(\) \{\n    const import0 = \{\n([^]*?)\n    \};\n    return \{\n([^]*?)\n    \};\n\}\n/m.exec(glue);
if (!importsFn) fail(`${gluePath}: no __wbg_get_imports() of the expected shape`);
let own = importsFn[1];
// The import object's modules: "./tidelog_bg.js": import0, "./js/index.js": import1, ...
/** @type {Map<string, string>} */
const modules = new Map();
for (const line of importsFn[2].split("\n")) {
  const entry = /^ {8}(?:"([^"]+)"|__proto__): (\w+),$/.exec(line);
  if (!entry) fail(`${gluePath}: unexpected line in the import object: ${line}`);
  if (entry[1]) modules.set(entry[1], entry[2]);
}
/** @type {string[]} */
const passed = [];
for (const [from, name, short] of mapping.imports) {
  const object = modules.get(from);
  if (object === undefined) fail(`${gluePath} has no imports for module ${from}`);
  if (object === "import0") {
    const key = new RegExp(`^( {8})${escape(name)}:`, "m");
    if (!key.test(own)) fail(`${gluePath} does not define the import ${from} ${name}`);
    own = own.replace(key, (_, indent) => `${indent}${short}:`);
  } else {
    passed.push(`        ${short}: ${object}.${name},`);
  }
}
// Every key left in the glue's own import object is a minified import.
const shortImports = new Set(mapping.imports.map(([, , n]) => n));
for (const [, key] of own.matchAll(/^ {8}([\w$]+):/gm)) {
  if (key !== "__proto__" && !shortImports.has(key)) fail(`${gluePath} defines the import ${key}, which the wasm does not have`);
}
glue = glue.replace(importsFn[0], () =>
  `function __wbg_get_imports() {\n    const import0 = {\n${own}\n${passed.join("\n")}\n    };\n` +
  `    return { __proto__: null, ${JSON.stringify(importModule)}: import0 };\n}\n`);

// Exports: every `wasm.<name>`.
const used = new Set();
glue = glue.replace(/\bwasm\.([\w$]+)/g, (_, name) => {
  const short = exportNames.get(name);
  if (short === undefined) fail(`${gluePath} uses wasm.${name}, which the wasm does not export`);
  used.add(name);
  return `wasm.${short}`;
});
for (const name of exportNames.keys()) {
  // wasm-bindgen's own exports (`__wbindgen_free`, `__abort_handler`, ...) may go unused by
  // a glue; one of the API's unused means the glue reaches it some other way.
  if (!used.has(name) && !name.startsWith("__")) fail(`${gluePath} does not use the export ${name}`);
}

// ---- The declarations ------------------------------------------------------------------

let dts = dtsPath ? readFileSync(dtsPath, "utf8") : "";
dts = dts.replace(/^export const ([\w$]+):/gm, (_, name) => {
  const short = exportNames.get(name);
  if (short === undefined) fail(`${dtsPath} declares ${name}, which the wasm does not export`);
  return `export const ${short}:`;
});

writeFileSync(wasmPath, wasm);
writeFileSync(gluePath, glue);
if (dtsPath) writeFileSync(dtsPath, dts);
console.log(`minify-wasm-names: ${wasmPath}: ${mapping.imports.length} imports, ${exportNames.size} exports renamed`);
