// @ts-check
// Small utilities the Rust side imports (declared in src/web/glue.rs).

/**
 * Reports an error nobody awaits (a failed background task): `reportError` where the host
 * has it (it reaches `window.onerror` and the console like an uncaught error), else
 * `console.error` with `context`. Never throws.
 * @param {unknown} error
 * @param {string} context
 * @returns {void}
 */
export function report(error, context) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else console.error(`tidelog: ${context}`, error);
}

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
    report(error, "a subscriber threw");
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
