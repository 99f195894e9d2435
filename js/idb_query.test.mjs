// The index walk of query reads without a browser: intersecting key lists. (The walk over
// real IndexedDB runs in tests/browser_store.rs and tests/js/decision.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspectQuery, intersectKeys } from "./idb_query.js";

test("intersectKeys keeps the keys every list has, ascending", () => {
  assert.deepEqual(intersectKeys([]), []);
  assert.deepEqual(intersectKeys([[1, 3, 5]]), [1, 3, 5]);
  assert.deepEqual(intersectKeys([[1, 2, 3, 5, 8], [2, 3, 8, 9], [3, 8]]), [3, 8]);
  assert.deepEqual(intersectKeys([[1, 2], []]), []);
});

test("inspectQuery copies the shape and names the first bad field", () => {
  assert.equal(inspectQuery("all", "query"), null);
  assert.deepEqual(inspectQuery([{ types: ["A"] }, { tags: ["t"], types: ["B", "C"] }], "query"), [
    { types: ["A"], tags: null }, { types: ["B", "C"], tags: ["t"] },
  ]);
  assert.deepEqual(inspectQuery([{}], "q"), [{ types: null, tags: null }], "the Rust side refuses the empty item");
  const problem = (value) => {
    try {
      inspectQuery(value, "c.failIfEventsMatch");
    } catch (e) {
      return [e.field, e.message];
    }
    assert.fail("expected a problem");
  };
  assert.deepEqual(problem("some"), ["c.failIfEventsMatch", 'must be "all" or an array of { types, tags } items, got a string']);
  assert.deepEqual(problem([null]), ["c.failIfEventsMatch[0]", "must be an object like { types, tags }"]);
  assert.deepEqual(problem([{ tags: ["a"], kinds: [] }]), ["c.failIfEventsMatch[0].kinds", "is not a query item field (allowed: types, tags)"]);
  assert.deepEqual(problem([{ tags: "a" }]), ["c.failIfEventsMatch[0].tags", "must be an array of strings, got a string"]);
  assert.deepEqual(problem([{ tags: ["a", 1] }]), ["c.failIfEventsMatch[0].tags[1]", "must be a string, got a number"]);
  assert.deepEqual(problem([{ types: ["\ud800"] }]), ["c.failIfEventsMatch[0].types[0]", "contains a lone surrogate (not valid Unicode)"]);
  assert.equal(problem(new Array(65).fill({ types: ["A"] }))[0], "c.failIfEventsMatch");
});
