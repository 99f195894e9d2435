// tidelog for Node, Deno and Bun (the `node` export condition): the same API as the web
// build plus the file store (`storage: "file"`), from its own wasm build in ./node/ (the
// file store's code and its node:fs calls stay out of the browser's wasm). The wasm is
// compiled synchronously at import time, so no init call is needed. Storage "auto" is the
// memory store, or IndexedDB where the host provides `globalThis.indexedDB` (e.g. the
// `fake-indexeddb/auto` package). `init()` and `initSync()` stay exported and resolve at
// once.
import { readFileSync } from "node:fs";
import { initSync } from "./node/tidelog.js";

initSync({ module: readFileSync(new URL("./node/tidelog_bg.wasm", import.meta.url)) });

export * from "./node/tidelog.js";
export { default } from "./node/tidelog.js";
