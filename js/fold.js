// @ts-check
// The fold of tidelog's replay engine: the one implementation of folding, upcasting and
// skip mode that `store.replay`, `replayAll`, `replayReport`, `execute`, projections and
// `read(..., { upcast: true })` use. The Rust bindings (src/bindings/replay.rs and
// projection.rs) plan the pages (ReplayCursor), read them and hand each page to
// `foldPage` in ONE call, so a reducer runs in a plain JS loop: no boundary crossing and
// no serde per event.

/** A stored event as reads return it (one definition, in batch.js). @typedef {import("./batch.js").EventRecord} EventRecord */

/**
 * Raises an event's `data` from schema n to n + 1.
 * @typedef {(data: any, event: EventRecord) => unknown} Upcaster
 */

/**
 * A store's upcaster registry: event type -> (from schema -> step).
 * @typedef {Map<string, Map<number, Upcaster>>} Upcasters
 */

/**
 * `(state, event) => state`, synchronous.
 * @typedef {(state: any, event: EventRecord) => unknown} Reducer
 */

/**
 * The state and bookkeeping of one replay, command or projection.
 * @typedef {object} Fold
 * @property {Reducer} reducer
 * @property {unknown} state the folded state so far
 * @property {Upcasters | null} upcasters applied before the reducer (null: none)
 * @property {number} toPosition records past this position end the fold (time travel)
 * @property {number} after records at or below this position are already folded
 * @property {Set<string> | null} streams only records of these streams are applied
 * @property {boolean} skip a failing record is skipped and listed, not an error
 * @property {string[]} skipped ids of the skipped records, in order
 * @property {number} applied records applied
 * @property {number} lastPosition position of the last record consumed (0: none)
 * @property {number} lastVersion version of the last record consumed (0: none)
 * @property {{ event: EventRecord, cause: unknown } | null} failure the failing record
 *   and what was thrown, after `foldPage` returned -1
 * @property {Promise<unknown>} tail the queue of `serialize`d tasks
 */

/** @returns {Upcasters} an empty registry */
export function newUpcasters() {
  return new Map();
}

/**
 * Registers one step; the caller has checked its arguments (src/bindings/replay.rs,
 * `registerUpcaster`, the one place that validates a registration).
 * @param {Upcasters} registry
 * @param {string} type
 * @param {number} fromSchema
 * @param {Upcaster} fn
 * @returns {boolean} false when that step is already registered (nothing changes)
 */
export function addUpcaster(registry, type, fromSchema, fn) {
  let steps = registry.get(type);
  if (steps === undefined) registry.set(type, (steps = new Map()));
  if (steps.has(fromSchema)) return false;
  steps.set(fromSchema, fn);
  return true;
}

/**
 * The event raised through every registered step from its schema on: a copy when a step
 * applies (the input is never changed), the event itself otherwise.
 * @param {Upcasters} registry
 * @param {EventRecord} event
 * @returns {EventRecord}
 */
export function upcastEvent(registry, event) {
  const steps = registry.get(event.type);
  if (steps === undefined) return event;
  let fn = steps.get(event.schema);
  if (fn === undefined) return event;
  const out = { ...event };
  while (fn !== undefined) {
    out.data = fn(out.data, out);
    out.schema += 1;
    fn = steps.get(out.schema);
  }
  return out;
}

/**
 * Upcasts read records in place (reads hand out fresh copies of the stored events).
 * A throwing step throws `{ replayIndex, cause }`: the record's index and the thrown value.
 * @param {Upcasters} registry
 * @param {EventRecord[]} records
 * @returns {EventRecord[]} `records`
 */
export function upcastRecords(registry, records) {
  if (registry.size === 0) return records;
  for (let i = 0; i < records.length; i++) {
    try {
      records[i] = upcastEvent(registry, records[i]);
    } catch (cause) {
      throw { replayIndex: i, cause };
    }
  }
  return records;
}

/**
 * A fold starting at `state`.
 * @param {Reducer} reducer
 * @param {unknown} state
 * @param {Upcasters | null} upcasters
 * @param {number} toPosition `Infinity` for no bound
 * @param {number} after records at or below this position are not applied
 * @param {string[] | null} streams `null`: every stream
 * @param {boolean} skip
 * @returns {Fold}
 */
export function newFold(reducer, state, upcasters, toPosition, after, streams, skip) {
  return {
    reducer, state, upcasters, toPosition, after, skip,
    streams: streams === null ? null : new Set(streams),
    skipped: [], applied: 0, lastPosition: 0, lastVersion: 0, failure: null, tail: Promise.resolve(),
  };
}

/**
 * Folds `records` (in position order) into `ctx.state`: upcasts each, then calls the
 * reducer. Records past `ctx.toPosition` end the page; records at or below `ctx.after`
 * or outside `ctx.streams` are consumed without being applied. A reducer that returns a
 * Promise fails with a TypeError.
 * @param {Fold} ctx
 * @param {EventRecord[]} records
 * @returns {number} the records consumed (fewer than `records.length` when the page
 *   reached `ctx.toPosition`), or -1 when a record failed and `ctx.skip` is false: then
 *   `ctx.failure` holds the record as stored and the thrown value, and `ctx.state` the
 *   state before it
 */
export function foldPage(ctx, records) {
  const { reducer, upcasters, toPosition, after, streams, skip } = ctx;
  const upcast = upcasters !== null && upcasters.size !== 0;
  let state = ctx.state;
  let applied = 0;
  let i = 0;
  const n = records.length;
  for (; i < n; i++) {
    let event = records[i];
    const position = event.position;
    if (position > toPosition) break;
    if (position <= after) continue;
    if (streams !== null && !streams.has(event.stream)) continue;
    try {
      if (upcast) event = upcastEvent(/** @type {Upcasters} */ (upcasters), event);
      const next = reducer(state, event);
      if (next !== null && typeof next === "object" && typeof (/** @type {any} */ (next).then) === "function") {
        throw new TypeError("the reducer returned a Promise; reducers must be synchronous (state, event) => state");
      }
      state = next;
      applied++;
    } catch (cause) {
      if (!skip) {
        ctx.state = state;
        ctx.applied += applied;
        ctx.failure = { event: records[i], cause };
        return -1;
      }
      ctx.skipped.push(event.id);
    }
  }
  ctx.state = state;
  ctx.applied += applied;
  if (i > 0) {
    const last = records[i - 1];
    ctx.lastPosition = last.position;
    ctx.lastVersion = last.version;
    if (last.position > ctx.after) ctx.after = last.position;
  }
  return i;
}

/**
 * The live feed of a projection: a store subscriber that folds an event directly
 * following what `ctx` covers and reports `onPage(applied)` (-1: the fold failed, see
 * `ctx.failure`); an event
 * past a gap (e.g. during a rebuild) calls `onGap()` for a catch-up instead; an event
 * already covered is ignored.
 * @param {Fold} ctx
 * @param {(applied: number) => void} onPage
 * @param {() => void} onGap
 * @returns {(event: EventRecord) => void}
 */
export function liveFeeder(ctx, onPage, onGap) {
  return (event) => {
    if (event.position <= ctx.after) return;
    if (event.position !== ctx.after + 1) return onGap();
    const before = ctx.applied;
    const consumed = foldPage(ctx, [event]);
    onPage(consumed < 0 ? -1 : ctx.applied - before);
  };
}

/**
 * Runs `task` after every task queued before on `holder`, whether those succeeded or not.
 * @template T
 * @param {{ tail: Promise<unknown> }} holder
 * @param {() => Promise<T>} task
 * @returns {Promise<T>} the task's outcome
 */
export function serialize(holder, task) {
  const run = holder.tail.then(() => task(), () => task());
  holder.tail = run.catch(() => {});
  return run;
}

/**
 * A thrown value as text, whatever it is (the message of a ReplayError).
 * @param {unknown} value
 * @returns {string}
 */
export function describeThrown(value) {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
