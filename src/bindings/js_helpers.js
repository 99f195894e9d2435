// ---- The replay engine (src/bindings/replay.rs) ----------------------------------------
// A page of events is folded in ONE call: no boundary crossing and no serde per event.

// A store's upcaster registry: type -> (fromSchema -> fn(data, event) -> data).
export function newUpcasters() {
  return new Map();
}

// Registers one step; false when that step is already registered.
export function addUpcaster(registry, type, fromSchema, fn) {
  let steps = registry.get(type);
  if (steps === undefined) registry.set(type, (steps = new Map()));
  if (steps.has(fromSchema)) return false;
  steps.set(fromSchema, fn);
  return true;
}

// The event raised through every registered step from its schema on (a copy when a step
// applies; the input is never changed).
function upcastOne(registry, event) {
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

// Upcasts an array of read records in place (they are fresh copies of the stored events).
// A throwing upcaster throws { replayIndex, cause }.
export function upcastRecords(registry, records) {
  if (registry.size === 0) return records;
  for (let i = 0; i < records.length; i++) {
    try {
      records[i] = upcastOne(registry, records[i]);
    } catch (cause) {
      throw { replayIndex: i, cause };
    }
  }
  return records;
}

// A fold context: the reducer, the state, and the bookkeeping of one replay/projection.
// `after`: events at or below this position are already applied (skipped silently).
export function newFold(reducer, state, upcasters, toPosition, after, streams, skip) {
  return {
    reducer, state, upcasters, toPosition, after, skip,
    streams: streams === null ? null : new Set(streams),
    skipped: [], applied: 0, lastPosition: 0, lastVersion: 0, failure: null, tail: Promise.resolve(),
  };
}

// Folds `records` (in position order) into ctx.state. Returns how many records it
// consumed (fewer than records.length when it reached ctx.toPosition), or -1 when an
// event failed and ctx.skip is false (ctx.failure = { event, cause }).
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
      if (upcast) event = upcastOne(upcasters, event);
      const next = reducer(state, event);
      if (next !== null && typeof next === "object" && typeof next.then === "function") {
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

// The live feed of a projection: applies an event that directly follows what the fold
// covers and reports the outcome with onPage(consumedOrMinusOne, applied); an event past
// a gap (e.g. during a rebuild) asks for a catch-up with onGap() instead.
export function liveFeeder(ctx, onPage, onGap) {
  return (event) => {
    if (event.position <= ctx.after) return;
    if (event.position !== ctx.after + 1) return onGap();
    const before = ctx.applied;
    const consumed = foldPage(ctx, [event]);
    onPage(consumed, ctx.applied - before);
  };
}

// Runs task() (which returns a promise) after every task queued before on `holder`.
export function serialize(holder, task) {
  const run = holder.tail.then(() => task(), () => task());
  holder.tail = run.catch(() => {});
  return run;
}

// A thrown value as text, whatever it is.
export function describeThrown(value) {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
