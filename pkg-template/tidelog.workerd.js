// tidelog for edge workers (the `workerd` and `worker` export conditions: Cloudflare
// Workers, workerd): importing a .wasm file gives a `WebAssembly.Module` there, which is
// instantiated at import time, so no init call is needed (`init()` resolves at once).
// Storage "auto" is the memory store (workers have no IndexedDB): the store is the
// browser package's memory wasm (the client with the memory store; the browser's client
// wasm has none and is not instantiated here), the rest of the API the browser entry's.
import { initSync } from "./tidelog_memory.js";
import module from "./tidelog_memory_bg.wasm";

initSync({ module });

export * from "./tidelog.js";
export { default, initSync, EventStore, Projection, version } from "./tidelog_memory.js";
