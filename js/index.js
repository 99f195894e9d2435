// @ts-check
// The one module the wasm glue imports (every `raw_module = "./js/index.js"` block of
// src/web/glue.rs): the client's JS in one module, so loading the library costs one
// request and one module instantiation for all of it. scripts/build-pkg bundles this
// file with esbuild into pkg/js/index.js; in the repo (and under wasm-bindgen-test) the
// re-exports below load the source files. The sync worker's Durable Object storage
// mapping stays apart (js/do_storage.js).

/** The one event record type (batch.js and fold.js share it). @typedef {import("./batch.js").EventRecord} EventRecord */

export * from "./errors.js";
export * from "./batch.js";
export * from "./util.js";
export * from "./fold.js";
export * from "./decision.js";
export * from "./idb_query.js";
