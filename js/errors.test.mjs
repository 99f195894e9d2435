// The public error classes without wasm: names, the instanceof chain, makeError.
// (`code` and the fields of each kind are set by src/bindings/errors.rs; tests/js/api.test.mjs
// checks them on errors the API throws.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as errors from "./errors.js";

const NAMES = ["TidelogError", "InvalidInputError", "VersionConflictError", "AppendConditionError", "QuotaExceededError",
  "StorageError", "ClosedError", "UnsyncedEventsError", "ReplayError", "NotRetainedError", "SyncError"];

test("the module exports exactly the ten classes and makeError", () => {
  assert.deepEqual(Object.keys(errors).sort(), [...NAMES, "makeError"].sort());
});

test("each class: its name as a string, an Error and a TidelogError, message and stack kept", () => {
  for (const name of NAMES) {
    const cls = errors[name];
    const error = new cls("went wrong");
    assert.equal(error.name, name);
    assert.equal(String(error), `${name}: went wrong`);
    assert.equal(error.message, "went wrong");
    assert.ok(error instanceof cls && error instanceof errors.TidelogError && error instanceof Error, name);
    assert.match(error.stack, /went wrong/);
    // The name lives on the prototype (not minifiable, not an own property of each error).
    assert.deepEqual(Object.getOwnPropertyDescriptor(cls.prototype, "name"),
      { value: name, writable: true, enumerable: false, configurable: true });
    assert.deepEqual(Object.keys(error), [], `${name} has no own enumerable fields until tidelog sets them`);
  }
});

test("the subclasses are not instances of each other", () => {
  const conflict = new errors.VersionConflictError("x");
  for (const name of NAMES.filter((n) => n !== "TidelogError" && n !== "VersionConflictError")) {
    assert.equal(conflict instanceof errors[name], false, name);
  }
  assert.equal(new errors.TidelogError("x") instanceof errors.InvalidInputError, false);
});

test("an error's name and fields can be set, as on any Error", () => {
  const error = new errors.VersionConflictError("conflict");
  Object.assign(error, { code: "version_conflict", stream: "s", expectedVersion: 1, actualVersion: 2 });
  assert.deepEqual({ ...error }, { code: "version_conflict", stream: "s", expectedVersion: 1, actualVersion: 2 });
  error.name = "Renamed";
  assert.equal(error.name, "Renamed");
  assert.equal(new errors.VersionConflictError("y").name, "VersionConflictError");
});

test("makeError builds the class named, with the message", () => {
  for (const name of NAMES) {
    const error = errors.makeError(name, `a ${name}`);
    assert.equal(Object.getPrototypeOf(error), errors[name].prototype, name);
    assert.equal(error.message, `a ${name}`);
  }
});

test("makeError: any other name, inherited keys included, gives a plain TidelogError", () => {
  for (const name of ["Nope", "", "Error", "toString", "constructor", "__proto__", "hasOwnProperty"]) {
    const error = errors.makeError(name, "m");
    assert.equal(Object.getPrototypeOf(error), errors.TidelogError.prototype, JSON.stringify(name));
    assert.equal(error.name, "TidelogError");
    assert.equal(error.message, "m");
  }
});
