// @ts-check
// Decisions across streams, as code and as tests (the Dynamic Consistency Boundary
// "decision model" pattern): `decisionModel` folds several query-scoped projections out of
// a store and hands back the append condition their reads imply; `specification` makes a
// given/when/then helper for a command handler, over any store (memory in Node, IndexedDB
// in browsers, a file store). Both only use the public store API (`query`, `append`,
// `readAll`), so they work the same on every backend; the package exports them.

/**
 * A query as `store.query` takes it: `"all"` or items ORed together.
 * @typedef {"all" | readonly { types?: readonly string[], tags?: readonly string[] }[]} Query
 */

/**
 * A stored event, as the store hands it out (the fields the helpers read).
 * @typedef {{ position: number, stream: string, type: string, tags?: readonly string[], data: unknown, meta: unknown }} StoredEvent
 */

/**
 * What the helpers need of a store (an `EventStore` has all of it).
 * @typedef {object} DecisionStore
 * @property {(query: Query, options?: { after?: number, backwards?: boolean, limit?: number }) => Promise<StoredEvent[]>} query
 * @property {(stream: string, events: object[], options?: object) => Promise<unknown>} append
 * @property {(options?: { fromPosition?: number }) => Promise<StoredEvent[]>} readAll
 * @property {() => void} [close]
 */

/**
 * One projection of a decision model: the events `query` selects, folded by `evolve`
 * from `initial`.
 * @template S
 * @typedef {{ query: Query, initial: S, evolve: (state: S, event: StoredEvent) => S }} DecisionProjection
 */

/**
 * The append condition a decision implies.
 * @typedef {{ failIfEventsMatch: Query, after: number }} DecisionCondition
 */

/** An `InvalidInputError`-like TypeError for misuse of the helpers (`field` names it). */
class HelperInputError extends TypeError {
  /**
   * @param {string} field
   * @param {string} message
   */
  constructor(field, message) {
    super(`invalid ${field}: ${message}`);
    this.name = "InvalidInputError";
    this.code = "invalid_input";
    this.field = field;
  }
}

/**
 * Builds a decision model: reads every event the projections' queries select with one
 * query (their union), folds each projection over its own events, and returns the states
 * with the condition to append under: fail if any event matching the union was stored
 * after the last one read. So the decision holds across every stream it read, and a
 * concurrent writer (another tab, or, once synced, another device) that changes any of
 * its inputs makes the append fail with an `AppendConditionError` instead of breaking the
 * rule.
 * @template {Record<string, DecisionProjection<any>>} P
 * @param {DecisionStore} store
 * @param {P} projections by name
 * @returns {Promise<{ state: { [K in keyof P]: P[K]["initial"] }, condition: DecisionCondition }>}
 */
export async function decisionModel(store, projections) {
  if (projections === null || typeof projections !== "object") {
    throw new HelperInputError("projections", "must be an object of { query, initial, evolve } by name");
  }
  const names = Object.keys(projections);
  if (names.length === 0) throw new HelperInputError("projections", "must name at least one projection");
  for (const name of names) {
    const p = projections[name];
    if (p === null || typeof p !== "object" || typeof p.evolve !== "function" || !(p.query === "all" || Array.isArray(p.query))) {
      throw new HelperInputError(`projections.${name}`, "must be { query, initial, evolve } with query \"all\" or a list of items");
    }
  }
  /** @type {Query} */
  const union = names.some((n) => projections[n].query === "all")
    ? "all"
    : names.flatMap((n) => /** @type {readonly object[]} */ (projections[n].query));
  const seen = await store.query(union);
  const last = seen.length === 0 ? 0 : seen[seen.length - 1].position;
  const positions = new Set(seen.map((e) => e.position));
  /** @type {Record<string, unknown>} */
  const state = {};
  for (const name of names) {
    const p = projections[name];
    // One projection's events are its own query's, cut to what the union read (events
    // appended in between are the condition's business, not the state's).
    const events = names.length === 1 || p.query === "all"
      ? seen
      : (await store.query(p.query)).filter((e) => positions.has(e.position));
    let folded = p.initial;
    for (const event of events) folded = p.evolve(folded, event);
    state[name] = folded;
  }
  return {
    state: /** @type {{ [K in keyof P]: P[K]["initial"] }} */ (state),
    condition: { failIfEventsMatch: union, after: last },
  };
}

/**
 * A given event: its stream and the event as `append` takes it.
 * @typedef {{ stream: string, type: string, data?: unknown, meta?: unknown, tags?: readonly string[], id?: string, schema?: number }} GivenEvent
 */

/**
 * An expected event: the fields to compare (those left out are not compared).
 * @typedef {{ stream?: string, type: string, data?: unknown, meta?: unknown, tags?: readonly string[] }} ExpectedEvent
 */

/**
 * What `when` led to: the events the command appended, or what it threw.
 * @typedef {{ events: StoredEvent[], error: unknown }} Outcome
 */

/**
 * An expected error: an error class, or the fields to compare (`message` a string or a
 * RegExp).
 * @typedef {(new (...args: any[]) => Error) | { name?: string, code?: string, message?: string | RegExp }} ExpectedError
 */

/**
 * `value` as canonical JSON (object keys sorted), for comparing stored payloads.
 * @param {unknown} value
 * @returns {string}
 */
function canonical(value) {
  return JSON.stringify(value, (_key, v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    /** @type {Record<string, unknown>} */
    const sorted = {};
    for (const key of Object.keys(v).sort()) sorted[key] = v[key];
    return sorted;
  });
}

/**
 * The fields of `actual` that `expected` names, for comparison and messages.
 * @param {StoredEvent} actual
 * @param {ExpectedEvent} expected
 */
function pick(actual, expected) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const key of Object.keys(expected)) out[key] = /** @type {Record<string, unknown>} */ (actual)[key] ?? (key === "tags" ? [] : null);
  return out;
}

/**
 * Whether `value` is an error class (a constructor whose instances are Errors).
 * @param {unknown} value
 * @returns {value is new (...args: any[]) => Error}
 */
function isErrorClass(value) {
  return typeof value === "function" && (value === Error || value.prototype instanceof Error);
}

/**
 * Checks an outcome against `then`'s expectation; throws an Error saying what differs.
 * @param {Outcome} outcome
 * @param {readonly ExpectedEvent[] | ExpectedError} expected
 */
function check(outcome, expected) {
  const { events, error } = outcome;
  if (isEventList(expected)) {
    if (error !== undefined) {
      throw new Error(`expected events ${canonical(expected)}, but the command threw ${describeError(error)}`, { cause: error });
    }
    const actual = events.map((e, i) => pick(e, expected[i] ?? { type: "" }));
    if (actual.length !== expected.length || actual.some((a, i) => canonical(a) !== canonical(expected[i]))) {
      throw new Error(`expected the command to append ${canonical(expected)}, it appended ${canonical(actual)}`);
    }
    return;
  }
  if (error === undefined) {
    throw new Error(`expected the command to fail (${describeExpected(expected)}), it appended ${canonical(events.map((e) => ({ stream: e.stream, type: e.type, data: e.data })))}`);
  }
  if (events.length > 0) {
    throw new Error(`the command failed (${describeError(error)}) but appended ${events.length} event(s) anyway`);
  }
  const matches = isErrorClass(expected)
    ? error instanceof expected
    : typeof expected === "object" && expected !== null && Object.entries(expected).every(([key, want]) => {
      const got = /** @type {Record<string, unknown>} */ (error)[key];
      return want instanceof RegExp ? typeof got === "string" && want.test(got) : got === want;
    });
  if (!matches) {
    throw new Error(`expected the command to fail with ${describeExpected(expected)}, it threw ${describeError(error)}`, { cause: error });
  }
}

/**
 * @param {readonly ExpectedEvent[] | ExpectedError} expected
 * @returns {expected is readonly ExpectedEvent[]}
 */
function isEventList(expected) {
  return Array.isArray(expected);
}

/** @param {unknown} error */
function describeError(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** @param {ExpectedError} expected */
function describeExpected(expected) {
  if (isErrorClass(expected)) return expected.prototype.name || expected.name;
  return Object.entries(expected).map(([k, v]) => `${k} ${v instanceof RegExp ? v : JSON.stringify(v)}`).join(", ");
}

/**
 * Makes a given/when/then helper for a command handler (in the spirit of Emmett's
 * `DeciderSpecification`): `given(events).when(command).then(expected)` opens a fresh
 * store with `store()`, appends the given events (consecutive events of one stream in one
 * append), runs `handle(store, command)`, and checks what it appended (or threw):
 * `expected` is the list of events it must append (only the fields given are compared),
 * or the error it must fail with (an error class, or `{ name, code, message }`), in
 * which case it must have appended nothing. `then` returns a promise of the outcome
 * `{ events, error }`; awaiting `when(command)` itself gives the outcome unchecked.
 * @template C
 * @param {{ store: () => DecisionStore | Promise<DecisionStore>, handle: (store: DecisionStore, command: C) => unknown }} options
 * @returns {(events: readonly GivenEvent[]) => { when(command: C): { then(expected: readonly ExpectedEvent[] | ExpectedError): Promise<Outcome> } }}
 */
export function specification(options) {
  if (options === null || typeof options !== "object" || typeof options.store !== "function" || typeof options.handle !== "function") {
    throw new HelperInputError("options", "must be { store: () => store, handle: (store, command) => ... }");
  }
  const { store: open, handle } = options;
  return (given) => {
    if (!Array.isArray(given)) throw new HelperInputError("given", "must be an array of events, each with its stream");
    given.forEach((e, i) => {
      if (e === null || typeof e !== "object" || typeof e.stream !== "string") {
        throw new HelperInputError(`given[${i}].stream`, "must be the stream to append the event to");
      }
    });
    return {
      when(command) {
        /** @returns {Promise<Outcome>} */
        const run = async () => {
          const store = await open();
          try {
            for (let i = 0; i < given.length;) {
              const stream = given[i].stream;
              /** @type {object[]} */
              const batch = [];
              for (; i < given.length && given[i].stream === stream; i++) {
                const { stream: _stream, ...event } = given[i];
                batch.push(event);
              }
              await store.append(stream, batch);
            }
            const head = (await store.query("all", { backwards: true, limit: 1 }))[0]?.position ?? 0;
            /** @type {unknown} */
            let error;
            try {
              await handle(store, command);
            } catch (thrown) {
              error = thrown === undefined ? new Error("the command threw undefined") : thrown;
            }
            const events = await store.readAll({ fromPosition: head + 1 });
            return { events, error };
          } finally {
            store.close?.();
          }
        };
        return {
          /**
           * @param {readonly ExpectedEvent[] | ExpectedError} expected
           * @returns {Promise<Outcome>}
           */
          then(expected) {
            // `await when(command)`: the promise protocol calls then(resolve, reject);
            // the outcome goes to `resolve` unchecked.
            if (typeof expected === "function" && !isErrorClass(expected)) {
              const [resolve, reject] = /** @type {[(o: Outcome) => void, (e: unknown) => void]} */ (/** @type {unknown[]} */ ([...arguments]));
              const outcome = run();
              outcome.then(resolve, reject);
              return outcome;
            }
            return run().then((outcome) => {
              check(outcome, expected);
              return outcome;
            });
          },
        };
      },
    };
  };
}
