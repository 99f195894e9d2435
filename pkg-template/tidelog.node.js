// tidelog for Node (the `node` export condition): the same API as the web build, with
// the wasm compiled synchronously at import time, so no init call is needed. Storage
// "auto" is the memory store, or IndexedDB where the host provides `globalThis.indexedDB`
// (e.g. the `fake-indexeddb/auto` package). `init()` and `initSync()` stay exported and
// resolve at once.
import { readFileSync } from "node:fs";
import { initSync } from "./tidelog.js";

initSync({ module: readFileSync(new URL("./tidelog_bg.wasm", import.meta.url)) });

export * from "./tidelog.js";
export { default } from "./tidelog.js";
