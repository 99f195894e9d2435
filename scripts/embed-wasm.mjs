#!/usr/bin/env node
// @ts-check
// Puts the client's wasm inside the browser entry, so a page loads the library in one
// request instead of two (the wasm's fetch could only start once the JS had run).
//
//   node scripts/embed-wasm.mjs <entry.js> <wasm>
//
// The bytes become one JS string literal with one character per byte (char codes 0 to
// 255), written as UTF-8: bytes under 0x80 stay one byte, the others take two. That keeps
// gzip working on the wasm's own byte patterns: the client's 58,805 B of gzip become
// 61,541 B as a literal (+4.7%), where base64 costs 75,459 B (+28%). At run time js/util.js
// (latin1Bytes, embeddedInit) turns the string back into bytes and compiles them.
//
// The literal goes on a line of its own, `var __tidelog_wasm='...';`, between the
// bundle and its `//# sourceMappingURL` comment (so the source map's lines still hold);
// the bundle reads it through a function (`() => __tidelog_wasm`, scripts/build-pkg), as
// the line runs after the bundle's code. Fails the build if the entry does not read it,
// defines it already, or has no sourceMappingURL comment.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The name the entry reads the wasm from. */
export const WASM_NAME = "__tidelog_wasm";

/**
 * `bytes` as a single-quoted JS string literal with one character per byte: escapes
 * for the backslash, the quote, the two line terminators a byte can be (LF, CR) and NUL
 * (`\0`, or `\x00` before a digit, which would make it an octal escape); every other byte
 * is the character of the same code.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function latin1Literal(bytes) {
  const chars = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x5c) chars[i] = "\\\\";
    else if (b === 0x27) chars[i] = "\\'";
    else if (b === 0x0a) chars[i] = "\\n";
    else if (b === 0x0d) chars[i] = "\\r";
    else if (b === 0) chars[i] = bytes[i + 1] >= 0x30 && bytes[i + 1] <= 0x39 ? "\\x00" : "\\0";
    else chars[i] = String.fromCharCode(b);
  }
  return `'${chars.join("")}'`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, wasm] = process.argv.slice(2);
  if (!entry || !wasm) {
    console.error("usage: embed-wasm.mjs <entry.js> <wasm>");
    process.exit(2);
  }
  /** @param {string} message @returns {never} */
  const fail = (message) => {
    console.error(`embed-wasm: ${entry}: ${message}`);
    process.exit(1);
  };
  const js = readFileSync(entry, "utf8");
  if (!js.includes(WASM_NAME)) fail(`does not read ${WASM_NAME}`);
  if (new RegExp(`\\b(var|let|const) ${WASM_NAME}\\b`).test(js)) fail(`defines ${WASM_NAME} already`);
  const at = js.lastIndexOf("\n//# sourceMappingURL=");
  if (at < 0) fail("has no //# sourceMappingURL comment to put the wasm before");
  const line = `\nvar ${WASM_NAME}=${latin1Literal(readFileSync(wasm))};`;
  writeFileSync(entry, js.slice(0, at) + line + js.slice(at));
}
