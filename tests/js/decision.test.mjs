// Consistency rules across streams, as users write and test them: command handlers built
// with `decisionModel` (tags, query reads, conditional appends) and checked with
// `specification`'s given/when/then, against every store: memory and file in Node (the
// built package's Node entry), IndexedDB in Chromium, Firefox and WebKit (the web build,
// served by the workerd demo server). The rules: a username is unique across all
// accounts; a course holds at most its capacity, and a student takes at most 5 courses.
// Plus the JS API's bad input for tags, queries and conditions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, startServer, engineSuites, tidelogPage } from "./harness.mjs";

/**
 * Every scenario, self-contained (it runs in Node and, as source, in the browser pages):
 * the two domains' command handlers, and their given/when/then checks. Resolves to
 * `[{ name, error }]`, `error` null for a pass.
 * @param {any} tidelog the package
 * @param {() => Promise<any>} open a fresh, empty store
 */
async function scenarios(tidelog, open) {
  const { decisionModel, specification, AppendConditionError } = tidelog;
  const fail = (name, message) => Object.assign(new Error(message), { name });

  // ---- unique usernames across accounts ----
  const usernameRule = (u) => [{ types: ["UsernameClaimed", "UsernameReleased"], tags: [`username:${u}`] }];
  const claimed = (u, account) => ({ type: "UsernameClaimed", data: { username: u }, tags: [`username:${u}`, `account:${account}`] });
  const released = (u, account) => ({ type: "UsernameReleased", data: { username: u }, tags: [`username:${u}`, `account:${account}`] });
  /** Claims `username` for `account`; `meanwhile` runs between the decision and the append (a racing writer). */
  async function claim(store, { username, account, meanwhile }) {
    const { state, condition } = await decisionModel(store, {
      taken: { query: usernameRule(username), initial: false, evolve: (_t, e) => e.type === "UsernameClaimed" },
    });
    if (state.taken) throw fail("UsernameTakenError", `${username} is taken`);
    if (meanwhile) await meanwhile(store);
    await store.append(`account-${account}`, [claimed(username, account)], { condition });
  }

  // ---- courses with a capacity; a student takes at most 5 ----
  const MAX_COURSES = 5;
  const defined = (course, capacity) => ({ type: "CourseDefined", data: { course, capacity }, tags: [`course:${course}`] });
  const subscribed = (student, course) => ({ type: "StudentSubscribed", data: { student, course }, tags: [`course:${course}`, `student:${student}`] });
  async function subscribe(store, { student, course, meanwhile }) {
    const { state, condition } = await decisionModel(store, {
      capacity: {
        query: [{ types: ["CourseDefined", "CourseCapacityChanged"], tags: [`course:${course}`] }],
        initial: null,
        evolve: (_c, e) => e.data.capacity,
      },
      courseSubscriptions: { query: [{ types: ["StudentSubscribed"], tags: [`course:${course}`] }], initial: 0, evolve: (n) => n + 1 },
      studentSubscriptions: { query: [{ types: ["StudentSubscribed"], tags: [`student:${student}`] }], initial: 0, evolve: (n) => n + 1 },
      already: {
        query: [{ types: ["StudentSubscribed"], tags: [`course:${course}`, `student:${student}`] }],
        initial: false,
        evolve: () => true,
      },
    });
    if (state.capacity === null) throw fail("NoSuchCourseError", `no course ${course}`);
    if (state.already) throw fail("AlreadySubscribedError", `${student} already takes ${course}`);
    if (state.courseSubscriptions >= state.capacity) throw fail("CourseFullError", `${course} is full`);
    if (state.studentSubscriptions >= MAX_COURSES) throw fail("TooManyCoursesError", `${student} takes ${MAX_COURSES} courses already`);
    if (meanwhile) await meanwhile(store);
    await store.append(`course-${course}`, [subscribed(student, course)], { condition });
  }

  const users = specification({ store: open, handle: claim });
  const courses = specification({ store: open, handle: subscribe });
  const at = (stream, event) => ({ stream, ...event });
  const fiveCourses = ["c1", "c2", "c3", "c4", "c5"].flatMap((c) => [at(`course-${c}`, defined(c, 10)), at(`course-${c}`, subscribed("s1", c))]);
  const cases = {
    "a free username is claimed": () => users([]).when({ username: "ada", account: "1" })
      .then([{ stream: "account-1", type: "UsernameClaimed", data: { username: "ada" }, tags: ["username:ada", "account:1"] }]),
    "a username taken by another account is refused": () => users([at("account-2", claimed("ada", "2"))])
      .when({ username: "ada", account: "1" }).then({ name: "UsernameTakenError" }),
    "another username does not count": () => users([at("account-2", claimed("bob", "2"))])
      .when({ username: "ada", account: "1" }).then([{ type: "UsernameClaimed", tags: ["username:ada", "account:1"] }]),
    "a released username can be claimed again": () => users([at("account-2", claimed("ada", "2")), at("account-2", released("ada", "2"))])
      .when({ username: "ada", account: "1" }).then([{ stream: "account-1", type: "UsernameClaimed" }]),
    // A racing writer's event is among what `when` appended; the outcome is checked by hand.
    "a claim racing in after the decision fails the append (AppendConditionError)": async () => {
      const { events, error } = await users([])
        .when({ username: "ada", account: "1", meanwhile: (store) => store.append("account-2", [claimed("ada", "2")]) });
      if (!(error instanceof AppendConditionError) || error.position !== events[0].position || error.after !== 0) throw error ?? new Error("no error");
      if (events.length !== 1 || events[0].stream !== "account-2") throw new Error(`appended ${events.length} events`);
    },
    "an unrelated append after the decision does not fail it": () => users([])
      .when({ username: "ada", account: "1", meanwhile: (store) => store.append("account-2", [claimed("bob", "2")]) })
      .then([{ stream: "account-2", data: { username: "bob" }, type: "UsernameClaimed" }, { stream: "account-1", type: "UsernameClaimed", data: { username: "ada" } }]),
    "a student joins a course with room": () => courses([at("course-c1", defined("c1", 2)), at("course-c1", subscribed("s1", "c1"))])
      .when({ student: "s2", course: "c1" })
      .then([{ stream: "course-c1", type: "StudentSubscribed", tags: ["course:c1", "student:s2"] }]),
    "a full course refuses": () => courses([at("course-c1", defined("c1", 2)), at("course-c1", subscribed("s1", "c1")), at("course-c1", subscribed("s2", "c1"))])
      .when({ student: "s3", course: "c1" }).then({ name: "CourseFullError" }),
    "a raised capacity makes room": () => courses([
      at("course-c1", defined("c1", 1)), at("course-c1", subscribed("s1", "c1")),
      at("course-c1", { type: "CourseCapacityChanged", data: { capacity: 2 }, tags: ["course:c1"] }),
    ]).when({ student: "s2", course: "c1" }).then([{ type: "StudentSubscribed" }]),
    "a student in 5 courses is refused a sixth": () => courses([...fiveCourses, at("course-c6", defined("c6", 10))])
      .when({ student: "s1", course: "c6" }).then({ name: "TooManyCoursesError", message: /takes 5 courses/ }),
    "another student's 5 courses do not count": () => courses([...fiveCourses, at("course-c6", defined("c6", 10))])
      .when({ student: "s2", course: "c6" }).then([{ type: "StudentSubscribed", tags: ["course:c6", "student:s2"] }]),
    "no course twice": () => courses([at("course-c1", defined("c1", 5)), at("course-c1", subscribed("s1", "c1"))])
      .when({ student: "s1", course: "c1" }).then({ name: "AlreadySubscribedError" }),
    "an unknown course refuses": () => courses([]).when({ student: "s1", course: "nope" }).then({ name: "NoSuchCourseError" }),
    "the last seat taken after the decision fails the append": async () => {
      const { events, error } = await courses([at("course-c1", defined("c1", 1))])
        .when({ student: "s2", course: "c1", meanwhile: (store) => store.append("course-c1", [subscribed("s1", "c1")]) });
      if (!(error instanceof AppendConditionError) || error.position !== 2 || error.after !== 1) throw error ?? new Error("no error");
      if (events.length !== 1 || events[0].data.student !== "s1") throw new Error("the refused subscription was written");
    },
  };
  const results = [];
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run();
      results.push({ name, error: null });
    } catch (e) {
      results.push({ name, error: `${e?.name}: ${e?.message}` });
    }
  }
  return results;
}

/** The JS API's bad input: each rejects with an InvalidInputError naming the field, and writes nothing. */
async function badInput(tidelog, store) {
  const good = { type: "T", tags: ["a"] };
  const cases = {
    "tag not a string": () => store.append("s", [good, { type: "T", tags: ["ok", 7] }]),
    "tags not an array": () => store.append("s", [{ type: "T", tags: "a" }]),
    "empty tag": () => store.append("s", [{ type: "T", tags: [""] }]),
    "tag with a control character": () => store.append("s", [{ type: "T", tags: ["a\u0000"] }]),
    "too many tags": () => store.append("s", [{ type: "T", tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }]),
    "tag twice": () => store.append("s", [{ type: "T", tags: ["a", "a"] }]),
    "condition: empty item": () => store.append("s", [good], { condition: { failIfEventsMatch: [{}] } }),
    "condition: empty query": () => store.append("s", [good], { condition: { failIfEventsMatch: [] } }),
    "condition: non-string tag": () => store.append("s", [good], { condition: { failIfEventsMatch: [{ tags: [1] }] } }),
    "condition: after not a safe integer": () => store.append("s", [good], { condition: { failIfEventsMatch: "all", after: 2 ** 53 } }),
    "condition: after negative": () => store.append("s", [good], { condition: { failIfEventsMatch: "all", after: -1 } }),
    "condition: unknown key": () => store.append("s", [good], { condition: { failIfEventsMatch: "all", before: 1 } }),
    "condition: unknown item key": () => store.append("s", [good], { condition: { failIfEventsMatch: [{ tags: ["a"], kinds: ["b"] }] } }),
    "condition: missing query": () => store.append("s", [good], { condition: { after: 1 } }),
    "query: not all": () => store.query("everything"),
    "query: empty types": () => store.query([{ types: [] }]),
    "query options: after 1.5": () => store.query("all", { after: 1.5 }),
    "query options: unknown key": () => store.query("all", { from: 1 }),
  };
  const out = {};
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run();
      out[name] = "no error";
    } catch (e) {
      out[name] = `${e.name} ${e.field}`;
    }
  }
  out.written = (await store.readAll()).length;
  return out;
}

const EXPECTED_BAD_INPUT = {
  "tag not a string": "InvalidInputError events[1].tags[1]",
  "tags not an array": "InvalidInputError events[0].tags",
  "empty tag": "InvalidInputError events[0].tags[0]",
  "tag with a control character": "InvalidInputError events[0].tags[0]",
  "too many tags": "InvalidInputError events[0].tags",
  "tag twice": "InvalidInputError events[0].tags[1]",
  "condition: empty item": "InvalidInputError options.condition.failIfEventsMatch[0]",
  "condition: empty query": "InvalidInputError options.condition.failIfEventsMatch",
  "condition: non-string tag": "InvalidInputError options.condition.failIfEventsMatch[0].tags[0]",
  "condition: after not a safe integer": "InvalidInputError options.condition.after",
  "condition: after negative": "InvalidInputError options.condition.after",
  "condition: unknown key": "InvalidInputError options.condition.before",
  "condition: unknown item key": "InvalidInputError options.condition.failIfEventsMatch[0].kinds",
  "condition: missing query": "InvalidInputError options.condition.failIfEventsMatch",
  "query: not all": "InvalidInputError query",
  "query: empty types": "InvalidInputError query[0].types",
  "query options: after 1.5": "InvalidInputError options.after",
  "query options: unknown key": "InvalidInputError options.from",
  written: 0,
};

const failures = (results) => results.filter((r) => r.error !== null);

// ---- Node: memory and file stores --------------------------------------------------------

const tidelog = await import(path.join(root, "pkg/tidelog.node.js"));
const tmp = mkdtempSync(path.join(tmpdir(), "tidelog-decision-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const openIn = {
  memory: () => tidelog.EventStore.open(`decision-${++n}`, { storage: "memory" }),
  file: () => tidelog.EventStore.open(`decision-${++n}`, { storage: "file", directory: tmp }),
};

for (const [storage, open] of Object.entries(openIn)) {
  test(`Node, ${storage} store: the given/when/then scenarios pass`, async () => {
    const results = await scenarios(tidelog, open);
    assert.equal(results.length, 14);
    assert.deepEqual(failures(results), []);
  });

  test(`Node, ${storage} store: bad tags, queries and conditions are refused with the field`, async () => {
    const store = await open();
    assert.deepEqual(await badInput(tidelog, store), EXPECTED_BAD_INPUT);
    store.close();
  });
}

test("Node: a failed condition names the first matching event; tags survive a file store reopen", async () => {
  const open = () => tidelog.EventStore.open("reopened", { storage: "file", directory: tmp });
  let store = await open();
  await store.append("account-1", [{ type: "UsernameClaimed", data: {}, tags: ["username:ada"], id: "claim-1" }]);
  store.close();
  store = await open();
  const [event] = await store.query([{ tags: ["username:ada"] }]);
  assert.deepEqual([event.tags, event.position, event.stream], [["username:ada"], 1, "account-1"]);
  const error = await store.append("account-2", [{ type: "UsernameClaimed", tags: ["username:ada"] }], {
    condition: { failIfEventsMatch: [{ tags: ["username:ada"] }] },
  }).then(() => null, (e) => e);
  assert.ok(error instanceof tidelog.AppendConditionError);
  assert.deepEqual(
    { name: error.name, code: error.code, stream: error.stream, position: error.position, eventId: error.eventId, after: error.after },
    { name: "AppendConditionError", code: "append_condition_failed", stream: "account-2", position: 1, eventId: "claim-1", after: null },
  );
  store.close();
});

// ---- browsers: IndexedDB -----------------------------------------------------------------

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

engineSuites("decision", (suite) => {
  const { test } = suite;
  suite.expectTests(2);
  let context;
  before(async () => {
    context = await suite.browser.newContext();
  });

  test("IndexedDB: the given/when/then scenarios pass", async () => {
    const page = await tidelogPage(context, server.base);
    // The scenarios' source, compiled in the page (every engine's evaluate takes a
    // function and an argument).
    const results = await page.evaluate(async (source) => {
      const run = new Function(`return (${source})`)();
      return run(tidelog, () => {
        const name = "decision-" + Date.now() + "-" + Math.random().toString(36).slice(2);
        return tidelog.EventStore.open(name, { storage: "indexeddb" });
      });
    }, scenarios.toString());
    assert.equal(results.length, 14);
    assert.deepEqual(failures(results), []);
    await page.close();
  });

  test("IndexedDB: bad tags, queries and conditions are refused with the field", async () => {
    const page = await tidelogPage(context, server.base);
    const out = await page.evaluate(async (source) => {
      const run = new Function(`return (${source})`)();
      return run(tidelog, await tidelog.EventStore.open("bad-" + Math.random()));
    }, badInput.toString());
    assert.deepEqual(out, EXPECTED_BAD_INPUT);
    await page.close();
  });
});
