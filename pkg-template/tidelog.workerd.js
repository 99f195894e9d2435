// tidelog for edge workers (the `workerd` and `worker` export conditions: Cloudflare
// Workers, workerd): importing a .wasm file gives a `WebAssembly.Module` there, which is
// instantiated at import time, so no init call is needed (`init()` resolves at once).
// Storage "auto" is the memory store (workers have no IndexedDB).
import { initSync } from "./tidelog.js";
import module from "./tidelog_bg.wasm";

initSync({ module });

export * from "./tidelog.js";
export { default } from "./tidelog.js";
