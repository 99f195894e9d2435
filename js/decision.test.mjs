// The decision helpers without wasm: how decisionModel folds and what condition it
// derives, and how a specification checks outcomes. The store here is a few lines of
// arrays (the helpers only call query, append and readAll); the real stores (memory,
// file, IndexedDB in three engines) run the same helpers in tests/js/decision.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decisionModel, specification } from "./decision.js";

/** A log in an array: query by types/tags (items ORed), append, readAll. */
function arrayStore() {
  const log = [];
  const matches = (query, e) => query === "all" || query.some((item) =>
    (!item.types || item.types.includes(e.type)) && (item.tags ?? []).every((t) => e.tags.includes(t)));
  return {
    log,
    closed: false,
    async query(query, options = {}) {
      const found = log.filter((e) => matches(query, e) && e.position > (options.after ?? 0));
      if (options.backwards) found.reverse();
      return found.slice(0, options.limit ?? Infinity);
    },
    async append(stream, events, options = {}) {
      const condition = options.condition;
      if (condition) {
        const hit = log.find((e) => e.position > (condition.after ?? 0) && matches(condition.failIfEventsMatch, e));
        if (hit) throw Object.assign(new Error("condition"), { name: "AppendConditionError", position: hit.position });
      }
      for (const e of events) log.push({ position: log.length + 1, stream, tags: [], data: null, meta: null, ...e });
    },
    async readAll(options = {}) {
      return log.filter((e) => e.position >= (options.fromPosition ?? 1));
    },
    close() {
      this.closed = true;
    },
  };
}

const claimed = (u) => ({ type: "UsernameClaimed", data: { username: u }, tags: [`username:${u}`] });

test("decisionModel folds each projection over its own events and derives the condition", async () => {
  const store = arrayStore();
  await store.append("a1", [claimed("ada")]);
  await store.append("a2", [claimed("bob")]);
  await store.append("a1", [{ type: "UsernameReleased", data: {}, tags: ["username:ada"] }]);
  await store.append("other", [{ type: "Noise", tags: [] }]);
  const { state, condition } = await decisionModel(store, {
    adaTaken: {
      query: [{ types: ["UsernameClaimed", "UsernameReleased"], tags: ["username:ada"] }],
      initial: false,
      evolve: (_taken, e) => e.type === "UsernameClaimed",
    },
    claims: { query: [{ types: ["UsernameClaimed"] }], initial: 0, evolve: (n) => n + 1 },
  });
  assert.deepEqual(state, { adaTaken: false, claims: 2 });
  assert.deepEqual(condition, {
    failIfEventsMatch: [
      { types: ["UsernameClaimed", "UsernameReleased"], tags: ["username:ada"] },
      { types: ["UsernameClaimed"] },
    ],
    after: 3,
  });
  const empty = await decisionModel(arrayStore(), { any: { query: "all", initial: 0, evolve: (n) => n + 1 } });
  assert.deepEqual(empty, { state: { any: 0 }, condition: { failIfEventsMatch: "all", after: 0 } });
});

test("decisionModel refuses malformed projections with the field", async () => {
  await assert.rejects(decisionModel(arrayStore(), {}), { name: "InvalidInputError", field: "projections" });
  await assert.rejects(
    decisionModel(arrayStore(), { p: { query: "some", initial: 0, evolve: () => 0 } }),
    { name: "InvalidInputError", field: "projections.p" },
  );
  await assert.rejects(decisionModel(arrayStore(), null), { field: "projections" });
});

/** The handler under test: claim a username once across all accounts. */
async function claim(store, { username, account }) {
  const { state, condition } = await decisionModel(store, {
    taken: {
      query: [{ types: ["UsernameClaimed", "UsernameReleased"], tags: [`username:${username}`] }],
      initial: false,
      evolve: (_t, e) => e.type === "UsernameClaimed",
    },
  });
  if (state.taken) throw Object.assign(new Error(`${username} is taken`), { name: "UsernameTakenError" });
  await store.append(`account-${account}`, [claimed(username)], { condition });
}

test("specification: then(events) passes on the appended events and fails on others", async () => {
  const stores = [];
  const given = specification({ store: () => { const s = arrayStore(); stores.push(s); return s; }, handle: claim });
  const outcome = await given([]).when({ username: "ada", account: "1" }).then([
    { stream: "account-1", type: "UsernameClaimed", tags: ["username:ada"] },
  ]);
  assert.equal(outcome.events.length, 1);
  assert.ok(stores.every((s) => s.closed), "each run's store is closed");
  await assert.rejects(
    given([]).when({ username: "ada", account: "1" }).then([{ type: "UsernameClaimed", data: { username: "bob" } }]),
    /expected the command to append/,
  );
  await assert.rejects(
    given([{ stream: "account-2", ...claimed("ada") }]).when({ username: "ada", account: "1" }).then([{ type: "UsernameClaimed" }]),
    /but the command threw UsernameTakenError: ada is taken/,
  );
});

test("specification: then(error) by class or fields, and nothing may be appended", async () => {
  const given = specification({ store: arrayStore, handle: claim });
  const taken = given([{ stream: "account-2", ...claimed("ada") }]).when({ username: "ada", account: "1" });
  const outcome = await taken.then({ name: "UsernameTakenError", message: /taken/ });
  assert.equal(outcome.events.length, 0);
  await given([{ stream: "x", ...claimed("ada") }]).when({ username: "ada", account: "1" }).then(Error);
  await assert.rejects(given([]).when({ username: "ada", account: "1" }).then(Error), /expected the command to fail \(Error\), it appended/);
  await assert.rejects(
    given([{ stream: "x", ...claimed("ada") }]).when({ username: "ada", account: "1" }).then(TypeError),
    /expected the command to fail with TypeError, it threw UsernameTakenError/,
  );
  const sloppy = specification({
    store: arrayStore,
    handle: async (store) => { await store.append("s", [{ type: "Half" }]); throw new Error("late"); },
  });
  await assert.rejects(sloppy([]).when(null).then(Error), /appended 1 event\(s\) anyway/);
});

test("specification: awaiting when() gives the outcome unchecked; given events are appended in order", async () => {
  let seen;
  const given = specification({
    store: arrayStore,
    handle: async (store) => { seen = await store.readAll(); },
  });
  const outcome = await given([
    { stream: "a", type: "One" }, { stream: "a", type: "Two" }, { stream: "b", type: "Three" },
  ]).when("go");
  assert.deepEqual(outcome, { events: [], error: undefined });
  assert.deepEqual(seen.map((e) => [e.stream, e.type, e.position]), [["a", "One", 1], ["a", "Two", 2], ["b", "Three", 3]]);
  assert.throws(() => given("nope"), { field: "given" });
  assert.throws(() => given([{ type: "NoStream" }]), { field: "given[0].stream" });
  assert.throws(() => specification({ store: arrayStore }), { field: "options" });
});
