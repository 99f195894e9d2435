// @ts-check
// The one module the wasm glue imports (every `raw_module = "./js/index.js"` block of
// src/web/glue.rs): the client's JS in one module, so loading the library costs one
// request and one module instantiation for all of it. scripts/build-pkg bundles this
// file with esbuild into pkg/js/index.js; in the repo (and under wasm-bindgen-test) the
// re-exports below load the source files. The sync worker's Durable Object storage
// mapping stays apart (js/do_storage.js).
//
// At most four modules here: the wasm-bindgen test runner's server (tiny_http) stops
// answering when Chromium fetches more modules at once than it keeps connections open
// (a browser_store run hung at "Loading scripts..." with five or six). More JS goes into
// one of these, or behind one (batch.js re-exports the IndexedDB query walk). The
// decision helpers (js/decision.js) are not used by the wasm: the package exports them
// itself (scripts/build-pkg).

/** The one event record type (batch.js and fold.js share it). @typedef {import("./batch.js").EventRecord} EventRecord */

export * from "./errors.js";
export * from "./batch.js";
export * from "./util.js";
export * from "./fold.js";
