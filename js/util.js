// @ts-check
// Small utilities the Rust bindings import (src/bindings/js.rs).

/**
 * Calls `callback(value)`. What the callback throws is reported (`reportError` where the
 * host has it, else `console.error`), never swallowed, and never propagates: one
 * failing subscriber does not stop delivery to the others.
 * @template T
 * @param {(value: T) => unknown} callback
 * @param {T} value
 * @returns {void}
 */
export function deliver(callback, value) {
  try {
    callback(value);
  } catch (error) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(error);
    else console.error("tidelog: a subscriber threw", error);
  }
}

/**
 * `structuredClone(value)` where the host has it (all current browsers, Node 17+,
 * workerd), else `value` itself. Throws what structuredClone throws (a DataCloneError).
 * @template T
 * @param {T} value
 * @returns {T}
 */
export function cloneValue(value) {
  return typeof globalThis.structuredClone === "function" ? globalThis.structuredClone(value) : value;
}
