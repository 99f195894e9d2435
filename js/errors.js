// @ts-check
// The public error classes. Every error tidelog throws or reports is an instance of one
// of these (so `instanceof` works) with a stable `name` and `code`. The Rust side
// (src/bindings/errors.rs) creates them with `makeError` and then sets `code` and the
// fields of each kind (listed there and in tidelog.d.ts). The package re-exports the
// classes from this module, so each class exists once however the package is imported.
//
// The classes declare no fields on purpose: a class field would be an own property of
// every instance, even where it does not apply.

/** The base class of every tidelog error. */
export class TidelogError extends Error {}
/** An argument was not valid: `code` "invalid_input", `field` names it (e.g. `events[2].type`). */
export class InvalidInputError extends TidelogError {}
/** An append's expected version did not hold: "version_conflict", `stream`, `expectedVersion`, `actualVersion`. */
export class VersionConflictError extends TidelogError {}
/**
 * An append's condition matched an event stored after its `after` position (the decision
 * was made on stale state): "append_condition_failed", `stream`, `position` (the first
 * matching event's), `eventId`, `after`.
 */
export class AppendConditionError extends TidelogError {}
/** The storage quota or a size limit was reached: "quota_exceeded". */
export class QuotaExceededError extends TidelogError {}
/** The storage failed: "storage", `cause` is `{ name, message }` of the host's exception. */
export class StorageError extends TidelogError {}
/** The store is closed: "closed". */
export class ClosedError extends TidelogError {}
/**
 * `EventStore.deleteStore` refused: the store holds events the sync server does not have:
 * "unsynced_events", `pendingCount`.
 */
export class UnsyncedEventsError extends TidelogError {}
/** A reducer or upcaster threw: "replay_failed", `position`, `eventId`, `stream`, `version`, `type`, `cause`. */
export class ReplayError extends TidelogError {}
/**
 * A read asked for events retention dropped from the local log (the open option `retain`):
 * "not_retained", `from` (the lowest position held), `stream` and `retainedVersion` (its
 * lowest version held) for a stream read, else `null`.
 */
export class NotRetainedError extends TidelogError {}
/** A sync round failed (reported by the sync driver). */
export class SyncError extends TidelogError {}

/** Every class by its `name`. */
const ERROR_CLASSES = {
  TidelogError, InvalidInputError, VersionConflictError, AppendConditionError, QuotaExceededError,
  StorageError, ClosedError, UnsyncedEventsError, ReplayError, NotRetainedError, SyncError,
};
// Names as strings, not `constructor.name`: minifiers rename classes. A writable
// prototype property, as Error.prototype.name is.
for (const [name, cls] of Object.entries(ERROR_CLASSES)) {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

/**
 * A new error of the class called `name` (a TidelogError for any other name).
 * @param {string} name
 * @param {string} message
 * @returns {TidelogError}
 */
export function makeError(name, message) {
  const cls = Object.prototype.hasOwnProperty.call(ERROR_CLASSES, name)
    ? ERROR_CLASSES[/** @type {keyof typeof ERROR_CLASSES} */ (name)]
    : TidelogError;
  return new cls(message);
}
