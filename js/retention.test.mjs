import { test } from "node:test";
import assert from "node:assert/strict";
import { floorOf, oldest } from "./retention.js";

test("floorOf reads a stored floor, 1 when none", () => {
  assert.equal(floorOf(undefined), 1);
  assert.equal(floorOf({ position: 41 }), 41);
  assert.equal(floorOf({ position: 0 }), 1);
  assert.equal(floorOf({ position: "7" }), 1);
});

test("oldest pending position", () => {
  assert.equal(oldest([]), null);
  assert.equal(oldest([9, 4, 12]), 4);
});
