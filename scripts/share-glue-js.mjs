#!/usr/bin/env node
// @ts-check
// Points a lazily imported wasm-bindgen glue at the JS modules of the package's entry.
//
//   node scripts/share-glue-js.mjs <glue.js> <entry>
//
// The browser entry (tidelog.js) is one bundle: the client's glue with js/index.js inside
// it, and `export * as __js from "./js/index.js"`. A glue the entry imports only when it
// is needed (the sync side's: `import("./tidelog_sync.js")`) imports its JS modules from
// `./js/index.js` like every glue; shipped that way it would load a second copy of them,
// with error classes of its own (`instanceof SyncError` would fail for its errors) and a
// request more. This rewrites those imports to the entry's copy:
//   import { a, b } from './js/index.js';   ->  import { __js } from "./<entry>";
//                                                 const { a, b } = __js;
//   import * as import1 from "./js/index.js" ->  const import1 = __js;
// The entry has finished evaluating before it imports the glue, so the circular import is
// safe. Fails the build if the glue imports any other module or has no such import (a
// wasm-bindgen release that writes its imports otherwise).
import { readFileSync, writeFileSync } from "node:fs";

const [glue, entry] = process.argv.slice(2);
if (!glue || !entry) {
  console.error("usage: share-glue-js.mjs <glue.js> <entry>");
  process.exit(2);
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`share-glue-js: ${glue}: ${message}`);
  process.exit(1);
}

const source = readFileSync(glue, "utf8");
let rewritten = 0;
const lines = source.split("\n").map((line) => {
  const named = /^import \{([^}]*)\} from (['"])\.\/js\/index\.js\2;?$/.exec(line);
  if (named) {
    rewritten += 1;
    return `const {${named[1]}} = __js;`;
  }
  const namespace = /^import \* as (\w+) from (['"])\.\/js\/index\.js\2;?$/.exec(line);
  if (namespace) {
    rewritten += 1;
    return `const ${namespace[1]} = __js;`;
  }
  if (/^import\b/.test(line) || /^export .* from /.test(line)) fail(`an import this script does not know: ${line}`);
  return line;
});
if (rewritten === 0) fail("no import of ./js/index.js found");
writeFileSync(glue, `import { __js } from "./${entry}";\n${lines.join("\n")}`);
console.log(`share-glue-js: ${glue}: ${rewritten} imports of ./js/index.js now read ./${entry}'s`);
