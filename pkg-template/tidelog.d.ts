// Type declarations of tidelog, written by hand against src/bindings/ and js/ (the shapes
// the package builds at run time); wasm-bindgen's generated file types every argument as
// `any`. One file serves every entry (web, node, workerd): they export the same API.
// tests/types/ compiles a strict app against it (with `@ts-expect-error` lines for
// misuse) and tests/js/shapes.test.mjs checks that the runtime objects have exactly the
// keys declared here.

// ---------------------------------------------------------------------------------------
// Loading the wasm
// ---------------------------------------------------------------------------------------

/** What `init` can load the wasm from (default: the wasm `tidelog.js` carries). */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** What `initSync` can instantiate synchronously. */
export type SyncInitInput = BufferSource | WebAssembly.Module;

/** The instantiated wasm module (internal exports are not part of the API). */
export interface InitOutput {
  readonly memory: WebAssembly.Memory;
}

/**
 * Loads and instantiates the wasm. In browsers and web workers (the web build) that is
 * the wasm `tidelog.js` carries, compiled on the first call, and `EventStore.open` and
 * `EventStore.deleteStore` do it too when it is not loaded yet; call `init()` first
 * before a synchronous call (`version()`) when no store was opened yet, or to load the
 * wasm from elsewhere (`module_or_path`). Calling it again loads nothing more. In Node and
 * edge workers the package loads the wasm at import time and `init()` resolves at once.
 */
export default function init(
  options?: { module_or_path: InitInput | Promise<InitInput> },
): Promise<InitOutput>;

/** Instantiates the wasm synchronously from bytes or a compiled `WebAssembly.Module`. */
export function initSync(options: { module: SyncInitInput }): InitOutput;

/** The tidelog version (the crate's, which is also the npm package's). */
export function version(): string;

// ---------------------------------------------------------------------------------------
// Events: an app names its events once, as a union of `{ type, data }` shapes, and opens
// its store with it (`EventStore.open<CartEvent>("shop")`):
//
//   type CartEvent =
//     | { type: "ItemAdded"; data: { sku: string; qty: number } }
//     | { type: "ItemRemoved"; data: { sku: string } };
//
// `append` then takes only those types with their data, and every event the store hands
// out (reads, subscriptions, reducers, conflicts) narrows on `type`. A member may also
// declare `meta`; `data` may be optional or left out (stored as `null`).
// ---------------------------------------------------------------------------------------

/** A JSON value: what event `data` and `meta` may hold (plain objects, arrays, finite numbers...). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** The shape of one kind of event: its `type` name, its `data` and (optionally) its `meta`. */
export interface EventShape {
  type: string;
  data?: unknown;
  meta?: unknown;
}

/** The events of a store opened without a type argument: any type name, JSON data and meta. */
export interface AnyEvent {
  type: string;
  data?: Json;
  meta?: Json;
}

/** The `type` names of `E`. */
export type EventType<E extends EventShape> = E["type"];

/** The stored `data` of an event shape (stored as `null` when left out: optional or undeclared). */
export type EventData<E extends EventShape> = E extends EventShape
  ? "data" extends keyof E ? (E extends { data: infer D } ? D : Exclude<E["data"], undefined> | null) : null
  : never;

/** The `meta` of one event shape (`Json` when it declares none); stored events add `null`. */
export type EventMeta<E extends EventShape> = E extends { meta?: infer M } ? (unknown extends M ? Json : Exclude<M, undefined>) : Json;

/**
 * A stored event, as `read`, `readAll`, `subscribe` and reducers see it: one member per
 * event shape of `E`, so checking `type` narrows `data`.
 */
export type TidelogEvent<E extends EventShape = AnyEvent> = E extends EventShape ? StoredEvent<E["type"], EventData<E>, EventMeta<E>> : never;

/** The fields of every stored event (see `TidelogEvent`). */
export interface StoredEvent<T extends string = string, D = unknown, M = unknown> {
  /** Unique id: the one given to `append`, or a UUIDv7 made by tidelog. */
  readonly id: string;
  readonly stream: string;
  /** 1-based position within its stream. */
  readonly version: number;
  /** 1-based position in the store's global log (commit order). */
  readonly position: number;
  readonly type: T;
  /**
   * What the event is about across streams (e.g. `"username:ada"`), as appended; `[]`
   * when none. (Events an IndexedDB store wrote before tags existed have no `tags`.)
   */
  readonly tags: readonly string[];
  readonly data: D;
  /** `null` when the event was appended without `meta`. */
  readonly meta: M | null;
  /** Milliseconds since the epoch when it was recorded. */
  readonly recordedAt: number;
  /**
   * In a store opened with `sync`, on the events of `read`, `readAll` and `subscribe`:
   * `true` while the event is not on the sync server yet (a badge per item needs no
   * join with the outbox). Absent in stores without sync and in reducers' events.
   */
  readonly pending?: boolean;
  /** Schema of `data` (1 unless given); upcasters raise it. */
  readonly schema: number;
}

/**
 * An event to append: `type` and `data` as one of the shapes of `E` (data and meta must
 * be JSON values: plain objects, no Dates, no `undefined` in arrays).
 */
export type NewEvent<E extends EventShape = AnyEvent> = E extends EventShape
  ? NewEventFields<E["type"], EventMeta<E>> & NewEventData<E>
  : never;

/** `data` of a `NewEvent`: required when the shape requires it; left out (or `null`) when it declares none. */
export type NewEventData<E extends EventShape> = "data" extends keyof E
  ? (E extends { data: infer D } ? { data: D } : { data?: E["data"] | undefined })
  : { data?: null | undefined };

/** The fields of `NewEvent` besides `data`. */
export interface NewEventFields<T extends string = string, M = unknown> {
  type: T;
  meta?: M | null | undefined;
  /** Give an id to make the append idempotent: re-appending the same ids returns the original result. */
  id?: string | null | undefined;
  /** Schema of `data`, a whole number from 1 (default 1). */
  schema?: number | undefined;
  /**
   * Tags for queries and append conditions (e.g. `["username:ada", "account:1"]`): at
   * most 32, each 1 to 256 UTF-8 bytes without control characters, none twice.
   */
  tags?: readonly string[] | null | undefined;
}

/** A number (the stream's current version; 0 for a new stream) or a keyword. */
export type ExpectedVersion = number | "any" | "no_stream" | "exists";

/** What `append` resolves to once the events are committed. */
export interface AppendResult {
  stream: string;
  firstVersion: number;
  lastVersion: number;
  firstPosition: number;
  lastPosition: number;
}

/** One entry of `streams()`. */
export interface StreamInfo {
  stream: string;
  /** The stream's number of events. */
  version: number;
  lastPosition: number;
  /** Events after this version are pending (not yet on the sync server); 0 without sync. */
  syncedVersion: number;
}

/** `store.metrics()`: counters since the store was opened. */
export interface Metrics {
  appends: number;
  eventsWritten: number;
  bytesWritten: number;
  idempotentAppends: number;
  conflicts: number;
  reads: number;
  eventsRead: number;
}

// ---------------------------------------------------------------------------------------
// Options. Unknown keys are rejected at run time with an `InvalidInputError`; an option
// set to `undefined` counts as left out.
// ---------------------------------------------------------------------------------------

/** A torn tail a file store cut when it opened: the append a crash interrupted, never acknowledged as durable. */
export interface FileRecovery {
  /** File offset where the cut frame started (the log's new length). */
  offset: number;
  /** Bytes cut. */
  bytes: number;
  /** Events the cut append held; `null` when its header was torn too. */
  events: number | null;
}

/** Options of `EventStore.deleteStore`. */
export interface DeleteStoreOptions {
  /**
   * Delete even while the store holds events the sync server does not have (they are
   * lost). Without it (default `false`), `deleteStore` refuses with an
   * `UnsyncedEventsError` while any are there: pending in the outbox, or set aside as
   * conflicts or dead letters, counted in the database itself (other tabs' appends
   * count). A store that does not sync has no event on a server: every event counts.
   */
  force?: boolean | undefined;
  /**
   * Which store, as in `OpenOptions.storage`: IndexedDB (the database, which every tab
   * of the origin shares); `"memory"`: this realm's open memory stores of that name (each
   * handle has its own events; they are closed); `"file"` (the `node` entry): the
   * directory `<directory>/<name>/` (refused with a `StorageError` `"Locked"` while
   * another process has it open; left in place only if it holds files that are not the
   * store's).
   */
  storage?: "auto" | "indexeddb" | "memory" | "file" | undefined;
  /** With `storage: "file"`: the directory the store's own directory is in. */
  directory?: string | undefined;
}

/** What `store.on("closed", ...)` hands its callback. */
export interface ClosedEvent {
  /** `"close"`: `close()`; `"deleted"`: a delete of the store, in any tab; `"versionchange"`: another tab's schema upgrade. */
  reason: "close" | "deleted" | "versionchange";
}

/** Options of `EventStore.open`. */
export interface OpenOptions<E extends EventShape = AnyEvent> {
  /**
   * `"auto"` (default): IndexedDB where the host has it, memory elsewhere. `"file"`
   * (Node, Deno and Bun: the package's `node` entry): an append-only log file in
   * `<directory>/<name>/`, locked against a second process; `name` must then be letters,
   * digits, `.`, `_` and `-`, and payloads JSON.
   */
  storage?: "auto" | "indexeddb" | "memory" | "file" | undefined;
  /** With `storage: "file"` (and only then): the directory the store's own directory goes in (created when missing). */
  directory?: string | undefined;
  /**
   * How sure an append's success is that the events are on disk. IndexedDB: the
   * transaction durability (default `"default"`: the browser's). File: `"strict"` (and
   * `"default"`) fsyncs each append before it resolves (survives power loss);
   * `"relaxed"` does not (survives a crash of the process).
   */
  durability?: "default" | "relaxed" | "strict" | undefined;
  /**
   * `append` refuses (with an `InvalidInputError` naming the event, nothing written or
   * queued) an event whose JSON, as the sync server stores it (with its id, stream,
   * version and position), is larger than this many bytes. Default: the server's limit,
   * 102400 (100 KiB), when the store syncs; no limit otherwise. 1 to 2^30.
   */
  maxEventBytes?: number | undefined;
  /** Sync with a tidelog sync server (`tidelog/worker`); needs IndexedDB storage. */
  sync?: SyncOptions<E> | undefined;
  /**
   * Ask the browser to keep this origin's storage under storage pressure
   * (`navigator.storage.persist()`); the answer is `store.persisted`.
   */
  persist?: boolean | undefined;
  /**
   * What the local log keeps; the rest is dropped at open and by `compact()`. `events`:
   * at least the newest N events; `ms`: every event recorded (`recordedAt`, the appending
   * device's clock) less than this many milliseconds ago; with both, an event is kept
   * when either keeps it. In a store that syncs only events the server has are dropped
   * (never pending ones; conflicts and dead letters are kept apart); in a store without
   * sync the oldest events are simply gone. Reads that start below what is held reject
   * with `NotRetainedError`. Whole numbers from 1.
   */
  retain?: RetainOptions | undefined;
}

/** The `retain` option of `EventStore.open`. */
export interface RetainOptions {
  /** Keep at least the newest this many events. */
  events?: number | undefined;
  /** Keep every event recorded less than this many milliseconds ago. */
  ms?: number | undefined;
}

/** What `compact()` did. */
export interface Compacted {
  /** Events dropped now. */
  dropped: number;
  /** The lowest global position still held (the next position when none is). */
  from: number;
}

/** The `sync` option of `EventStore.open`. */
export interface SyncOptions<E extends EventShape = AnyEvent> {
  /**
   * The space's base URL: absolute `http://` or `https://` with a host, without query,
   * fragment or credentials, e.g. `https://host/v1/my-space`. Anything else (`"not a
   * url"`, `"ftp://x/"`, a relative path) is refused at open with an `InvalidInputError`
   * (`field: "options.sync.url"`).
   */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; change it later with `sync.setToken`. */
  token?: string | undefined;
  /**
   * Where tokens come from (e.g. your session endpoint): called before the first
   * request, and again once when the server answers `401`, after which the request is
   * retried; a second `401` (or a throw, a rejection, no token) pauses sync and emits a
   * `SyncError` with code `auth`. tidelog keeps the token in memory only: never
   * persisted, never in a URL, never logged. `setToken` still works beside it.
   */
  auth?: (() => string | Promise<string>) | undefined;
  /**
   * How a conflict (the server has events the local pending ones did not expect) settles:
   * `"rebase"` (default): local events go after the remote ones; `"quarantine"`: they
   * wait in `sync.conflicts()`; a function: called per conflict (see `ConflictResolver`).
   * A conditional append the server refused (an event it had not seen matches its
   * condition) is re-checked under `"rebase"`, never re-appended blindly; if the rule
   * still fails it is a conflict with `condition` set.
   */
  onConflict?: "rebase" | "quarantine" | ConflictResolver<E> | undefined;
  /** Poll interval in ms (default 30000; 4x while the page is hidden). 100 to 86400000. */
  pollMs?: number | undefined;
  /** Request timeout in ms (default 15000). 100 to 600000. */
  timeoutMs?: number | undefined;
  /** Pending events making no progress this long (ms) mark the status `stalled` (default 60000). 1000 to 86400000. */
  stallMs?: number | undefined;
  /** Events per push request (default 100). 1 to 1000. */
  batchSize?: number | undefined;
  /** Start paused (e.g. to honour a remembered "offline" switch); `sync.resume()` starts it. */
  paused?: boolean | undefined;
  /**
   * What this device pulls (partial sync); absent: every stream of the space. Pushes are
   * never filtered. Change it on a later `open`: newly included streams are pulled from
   * their start, the rest goes on from where it was.
   */
  pull?: PullScope | undefined;
}

/**
 * `SyncOptions.pull`: the streams named, plus every stream whose id starts with one of the
 * prefixes (at most 100 together; each follows the rules of a stream id). `{}` pulls nothing.
 */
export interface PullScope {
  /** Stream ids pulled. */
  streams?: readonly string[] | undefined;
  /** Stream-id prefixes pulled, e.g. `"cart-"`. */
  prefixes?: readonly string[] | undefined;
}

/**
 * Settles one conflict (see `SyncOptions.onConflict`); may be async. Returns the events to
 * append after the remote ones (`[]` drops the local events), or `"quarantine"` to leave
 * it in `sync.conflicts()`. Any other answer leaves it quarantined and emits an `error`
 * (an `InvalidInputError` with `field: "onConflict"`); so do events `append` would refuse
 * (over `maxEventBytes`, bad tags: an `InvalidInputError` naming `events[i]`).
 */
export type ConflictResolver<E extends EventShape = AnyEvent> = (
  conflict: Conflict<E>,
) => ConflictResolution<E> | Promise<ConflictResolution<E>>;

/** What a `ConflictResolver` answers. */
export type ConflictResolution<E extends EventShape = AnyEvent> = readonly NewEvent<E>[] | "quarantine";

/** One item of a `Query`: events of one of `types` (if given) carrying every one of `tags` (if given); give at least one. */
export interface QueryItem {
  types?: readonly string[] | undefined;
  tags?: readonly string[] | undefined;
}

/** Which events `query` reads and a condition looks for: `"all"`, or items ORed together (1 to 64). */
export type Query = "all" | readonly QueryItem[];

/** Options of `query`. */
export interface QueryOptions {
  /** Only events at positions greater than this. */
  after?: number | undefined;
  /** Newest first (the last `limit` matching events after `after`). Default false. */
  backwards?: boolean | undefined;
  limit?: number | undefined;
}

/**
 * An append's consistency rule across streams: the append fails with an
 * `AppendConditionError` (and writes nothing) when an event at a position greater than
 * `after` (any event, without `after`) matches `failIfEventsMatch`. Typically `after` is
 * the last position the decision read (`query` results, or the log head).
 */
export interface AppendCondition {
  failIfEventsMatch: Query;
  after?: number | undefined;
}

/** Options of `append`. */
export interface AppendOptions {
  /** Default `"any"`. A mismatch rejects with a `VersionConflictError` and writes nothing. */
  expectedVersion?: ExpectedVersion | undefined;
  /** Checked atomically with the write (after `expectedVersion`); see `AppendCondition`. */
  condition?: AppendCondition | undefined;
}

/** Options of `read`. */
export interface ReadOptions {
  /** First version to read (inclusive). */
  fromVersion?: number | undefined;
  limit?: number | undefined;
  direction?: "forward" | "backward" | undefined;
  /** Hand out events raised to their latest schema by the registered upcasters (default false). */
  upcast?: boolean | undefined;
}

/** Options of `readAll`. */
export interface ReadAllOptions {
  /** First position to read (inclusive; positions start at 1, 0 means the start). */
  fromPosition?: number | undefined;
  limit?: number | undefined;
  /** As in `read` (default false). */
  upcast?: boolean | undefined;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Deliver from this position (inclusive) instead of only new events. */
  fromPosition?: number | undefined;
  /**
   * Called for each event the callback already had that sync then moved to a new place
   * (a rebase puts remote events first: same id, new version and position). The event
   * is not delivered again. `null`: moves were dropped from the store's move log (over
   * 1000 behind); re-read what matters.
   */
  onMoved?: ((notice: MovedNotice | null) => void) | undefined;
}

/** An event sync moved (see `SubscribeOptions.onMoved`): where it was, where it is now. */
export interface MovedNotice {
  /** The move's number in this store (1, 2, ...: one per sync transaction that moved events). */
  epoch: number;
  stream: string;
  id: string;
  from: { version: number; position: number };
  to: { version: number; position: number };
}

/** A reducer: `(state, event) => state`; it must be synchronous. */
export type Reducer<S, E extends EventShape = AnyEvent> = (state: S, event: TidelogEvent<E>) => S;

/** What folds state: the `{ reducer, initial }` pair of `replay`, `projection` and `execute`. */
export interface Fold<S, E extends EventShape = AnyEvent> {
  reducer: Reducer<S, E>;
  /** The state before any event. */
  initial: S;
}

/** What every replay takes besides its bounds. */
export interface ReplayKnobs {
  /** Events reach the reducer at their latest schema (default true). */
  upcast?: boolean | undefined;
  /** `"throw"` (default): reject with a `ReplayError`; `"skip"`: skip failing events (see `replayReport`). */
  onError?: "throw" | "skip" | undefined;
  /** Events per read (default 2000; 1 to 100000). */
  pageSize?: number | undefined;
}

/** Options of `replay(stream, ...)` and `replayReport(stream, ...)`. */
export interface ReplayOptions<S, E extends EventShape = AnyEvent> extends Fold<S, E>, ReplayKnobs {
  /** First version (inclusive). */
  fromVersion?: number | undefined;
  /** Last version (inclusive): time travel. */
  toVersion?: number | undefined;
  /** Last global position (inclusive): time travel. */
  toPosition?: number | undefined;
}

/** Options of `replayAll` and `replayAllReport` (the whole log). */
export interface ReplayAllOptions<S, E extends EventShape = AnyEvent> extends Fold<S, E>, ReplayKnobs {
  /** First position (inclusive). */
  fromPosition?: number | undefined;
  /** Last position (inclusive): time travel. */
  toPosition?: number | undefined;
}

/** What `replayReport` and `replayAllReport` resolve to. */
export interface ReplayReport<S> {
  state: S;
  /** Events the reducer applied. */
  appliedCount: number;
  /** Events skipped with `onError: "skip"` (their reducer or upcaster threw). */
  skippedCount: number;
  skippedIds: string[];
  lastPosition: number;
  /** The last version applied in a stream replay; `null` for whole-log replays. */
  lastVersion: number | null;
  /** Reads the replay made. */
  pageCount: number;
}

/** Options of `store.projection(name, options)`. */
export interface ProjectionOptions<S, E extends EventShape = AnyEvent> extends Fold<S, E> {
  /** The state before any event; must be structured-cloneable (snapshots store it). */
  initial: S;
  /** Bump it when the reducer changes: a snapshot of another revision is dropped (default 1). */
  revision?: number | undefined;
  /** Only these streams (default: the whole log). */
  streams?: readonly string[] | undefined;
  /** Events between snapshots (default 1000; 0: never). */
  snapshotEvery?: number | undefined;
}

/** Options of `store.execute(stream, command, options)` (decide/evolve). */
export interface ExecuteOptions<S, C, E extends EventShape = AnyEvent> extends Fold<S, E> {
  /** Returns the events to append for `command` (none: nothing is appended); may be async. */
  decide: (command: C, state: S) => Decision<E> | Promise<Decision<E>>;
  /** Attempts on a `VersionConflictError` (default 3; 1 to 100). */
  maxAttempts?: number | undefined;
  /** Events reach the reducer at their latest schema (default true). */
  upcast?: boolean | undefined;
}

/** What `decide` answers: the events to append; `[]`, `null` or `undefined` for none. */
export type Decision<E extends EventShape = AnyEvent> = readonly NewEvent<E>[] | null | undefined;

/** What `execute` resolves to. */
export interface ExecuteResult<S> {
  /** `null` when `decide` returned no events. */
  appended: AppendResult | null;
  /** The state `decide` saw (before the appended events). */
  state: S;
  /** The stream version that state was built at. */
  version: number;
  attempts: number;
}

/**
 * An upcaster: raises `data` of one event type from one schema to the next. `From` is
 * the old shape (declare it on the parameter); the result is the next schema's data.
 */
export type Upcaster<From = Json, To = unknown> = (data: From, event: StoredEvent<string, From>) => To;

// ---------------------------------------------------------------------------------------
// The event store
// ---------------------------------------------------------------------------------------

/** An event store opened with a `sync` option: its `sync` is always there. */
export type SyncedEventStore<E extends EventShape = AnyEvent> = EventStore<E, Sync<E>>;

/**
 * An append-only event log: IndexedDB in browsers, memory elsewhere. `E` is the union of
 * its event shapes (see `EventShape`); `Y` is the type of `sync`.
 */
export class EventStore<E extends EventShape = AnyEvent, Y extends Sync<E> | undefined = Sync<E> | undefined> {
  private constructor();
  /**
   * Opens (or creates) the event store `name` (1 to 256 bytes), syncing with `options.sync`.
   * In a browser the first open loads the wasm (see `init`); if it cannot be compiled (a
   * Content-Security-Policy without `'wasm-unsafe-eval'`), the open rejects with a
   * `StorageError` and the next one tries again.
   */
  static open<E extends EventShape = AnyEvent>(name: string, options: OpenOptions<E> & { sync: SyncOptions<E> }): Promise<SyncedEventStore<E>>;
  /** Opens (or creates) the event store `name` (1 to 256 bytes), without sync. */
  static open<E extends EventShape = AnyEvent>(name: string, options?: OpenOptions<E> & { sync?: undefined }): Promise<EventStore<E, undefined>>;
  /** Opens (or creates) the event store `name` (1 to 256 bytes). */
  static open<E extends EventShape = AnyEvent>(name: string, options?: OpenOptions<E>): Promise<EventStore<E>>;
  /**
   * Deletes the store `name` (sign-out on a shared device) and closes every handle on it,
   * in this tab and in every other: they reject every call with a `ClosedError` from
   * then on and emit `closed` with reason `"deleted"`. Refuses with an
   * `UnsyncedEventsError` while the store holds events the sync server does not have,
   * unless `force: true`; a refusal deletes and closes nothing. No such store: resolves,
   * creating nothing. See `DeleteStoreOptions` and the README, "Sign-out".
   */
  static deleteStore(name: string, options?: DeleteStoreOptions): Promise<void>;
  /** The store's name. */
  readonly name: string;
  /** Where the events live. */
  readonly storage: "indexeddb" | "memory" | "file";
  /** Whether the store is closed (by `close()`, a `deleteStore` in any tab, another tab's schema upgrade). */
  readonly closed: boolean;
  /**
   * Calls `callback` once, when the store closes: `reason` `"close"` (`close()`),
   * `"deleted"` (`EventStore.deleteStore`, or any delete of its IndexedDB database, in
   * any tab) or `"versionchange"` (another tab upgraded the database's schema). Returns
   * the function that stops listening. A listener added once the store is closed is
   * never called (check `closed`).
   */
  on(event: "closed", callback: (event: ClosedEvent) => void): () => void;
  /**
   * Resolves to the browser's answer to `persist: true` (`true`: it keeps this origin's
   * data under storage pressure); to `null` when not asked, or where the host has no
   * storage manager. Firefox asks the user first, so it may take a while (or never settle
   * in a headless browser); `open` does not wait for it.
   */
  readonly persisted: Promise<boolean | null>;
  /**
   * What opening a file store cut off the end of its log (the append a crash
   * interrupted), or `null`: nothing was cut, or not a file store. Only in the `node`
   * entry (the browser build has no file store).
   */
  readonly recovery?: FileRecovery | null;
  /** The sync side (the same object on every access); `undefined` unless opened with a `sync` option. */
  readonly sync: Y;
  /** Appends `events` to `stream`, all or nothing. */
  append(stream: string, events: readonly NewEvent<E>[], options?: AppendOptions): Promise<AppendResult>;
  /** Reads one stream. */
  read(stream: string, options?: ReadOptions): Promise<TidelogEvent<E>[]>;
  /** Reads the global log in position order. */
  readAll(options?: ReadAllOptions): Promise<TidelogEvent<E>[]>;
  /**
   * The events of the whole log matching `query`, in position order (newest first with
   * `backwards`), through the store's tag and type indexes.
   */
  query(query: Query, options?: QueryOptions): Promise<TidelogEvent<E>[]>;
  /** The stream's version: its number of events (0 when it has none). */
  version(stream: string): Promise<number>;
  /** Every stream with events. */
  streams(): Promise<StreamInfo[]>;
  /**
   * Calls `callback(event)` for every event appended from now on (or from
   * `options.fromPosition`), in position order, including other tabs' and workers'
   * appends to the same database. A subscription whose start is below what `retain` holds
   * ends at once, reporting a `NotRetainedError` (`reportError`). Returns a function that
   * stops it.
   */
  subscribe(callback: (event: TidelogEvent<E>) => void, options?: SubscribeOptions): () => void;
  /** Counters since this store was opened. */
  metrics(): Metrics;
  /**
   * Applies the open option `retain` now (it also runs at open): drops the oldest events
   * it lets go. Without `retain`, drops nothing.
   */
  compact(): Promise<Compacted>;
  /** Closes the store: subscriptions and sync stop; later calls reject with a `ClosedError`. */
  close(): void;
  /** Folds `stream` with `reducer` from `initial` and resolves to the final state. */
  replay<S>(stream: string, options: ReplayOptions<S, E>): Promise<S>;
  /** Folds the whole log with `reducer` from `initial` and resolves to the final state. */
  replayAll<S>(options: ReplayAllOptions<S, E>): Promise<S>;
  /** `replay`, resolving to a report: the state, counts, skipped ids, where it ended. */
  replayReport<S>(stream: string, options: ReplayOptions<S, E>): Promise<ReplayReport<S>>;
  /** `replayAll`, resolving to a report. */
  replayAllReport<S>(options: ReplayAllOptions<S, E>): Promise<ReplayReport<S>>;
  /**
   * Registers an upcaster raising events of `type` from schema `fromSchema` to
   * `fromSchema + 1`. Steps chain; stored events never change. Replays, projections,
   * `execute` and reads with `upcast: true` apply them. Declare the old shape on the
   * upcaster's parameter; it returns `type`'s data as `E` declares it (for a step that
   * is not the last, give the type arguments: `registerUpcaster<"T", V1, V2>(...)`).
   */
  registerUpcaster<T extends EventType<E>, From = Json, To = EventData<Extract<E, { type: T }>>>(
    type: T,
    fromSchema: number,
    upcaster: Upcaster<From, NoInfer<To>>,
  ): void;
  /** A named, snapshotted projection over the log. */
  projection<S>(name: string, options: ProjectionOptions<S, E>): Projection<S>;
  /**
   * Handles `command` on `stream` with decide/evolve, appending with the expected
   * version and retrying on a `VersionConflictError`.
   */
  execute<S, C>(stream: string, command: C, options: ExecuteOptions<S, C, E>): Promise<ExecuteResult<S>>;
  /** Releases the wasm-side handle (call `close()` first). */
  free(): void;
}

/** A named projection (made by `store.projection`). */
export class Projection<S = unknown> {
  private constructor();
  readonly name: string;
  /** The current state: the snapshot plus the events after it, up to the log's head. */
  state(): Promise<S>;
  /** Drops the snapshot, folds the whole log again and resolves to the state. */
  rebuild(): Promise<S>;
  /** Calls `callback(state)` after each change (live, other tabs too); returns a function that unsubscribes. */
  subscribe(callback: (state: S) => void): () => void;
  /** Counters of this projection object. */
  metrics(): ProjectionMetrics;
  /** Stops the live feed and drops the subscribers. */
  close(): void;
  free(): void;
}

/** `projection.metrics()`. */
export interface ProjectionMetrics {
  /** Events this object folded (after a reload: only the tail after the snapshot). */
  replayedEvents: number;
  /** The last position the state covers. */
  position: number;
  /** Where the loaded snapshot ended; `null` when none was used. */
  snapshotPosition: number | null;
  snapshotsWritten: number;
  /** A snapshot of another projection revision was dropped. */
  invalidatedSnapshot: boolean;
  rebuilds: number;
  /** The `revision` option. */
  revision: number;
}

// ---------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------

/** A failed request: HTTP `status` (`null` for a network error or timeout) and message. */
export interface SyncFailure {
  status: number | null;
  message: string;
}

/** `sync.status()`: a snapshot kept up to date after every round and append. */
export interface SyncStatus {
  /** `navigator.onLine` (true where the host does not say). */
  online: boolean;
  paused: boolean;
  /** This tab holds the sync lock (one tab syncs; the others take over when it closes). */
  leader: boolean;
  /** Events not yet on the server. */
  pendingCount: number;
  /** Approximate JSON bytes of the pending events' `data` and `meta`. */
  pendingBytes: number;
  /** Streams with pending events. */
  pendingStreamCount: number;
  /** `recordedAt` of the oldest pending event (ms since the epoch); `null` when none is pending. */
  oldestPendingAt: number | null;
  inFlight: boolean;
  /** Quarantined conflicts (`sync.conflicts()` lists them). */
  conflictCount: number;
  /** Dead letters (`sync.deadLetters()` lists them). */
  deadLetterCount: number;
  /** `Date.now()` of the last round without error; `null` before the first one. */
  lastSyncedAt: number | null;
  lastError: SyncFailure | null;
  /** When the next attempt is due (ms since the epoch), if backing off. */
  nextAttemptAt: number | null;
  /** Pending events made no progress for `stallMs` while online and not paused. */
  stalled: boolean;
  /**
   * The refusal that stopped sync until `setToken`/`resume`/`now` (a 401/403, a
   * disallowed origin, a wrong URL: the `error` event's `SyncError` says which); `null`
   * otherwise.
   */
  auth: SyncFailure | null;
  /**
   * This open created the local database (a new device, or the browser evicted the data,
   * or the user deleted it) and it has not caught up with the server yet.
   */
  rebuilding: boolean;
  /** `navigator.storage.estimate()` after the last round, in bytes; `null` where the host has none (or before the first round). */
  storage: StorageFigures | null;
}

/** `SyncStatus.storage`. */
export interface StorageFigures {
  /** Bytes this origin uses. */
  usage: number;
  /** Bytes it may use. */
  quota: number;
  /** `navigator.storage.persisted()`; `null` where the host cannot tell. */
  persisted: boolean | null;
}

/** What a round did (the detail of `"synced"` and `"conflict"` events). */
export interface SyncReport {
  requests: number;
  pushed: number;
  pulled: number;
  conflicted: number;
  deadLettered: number;
}

/** A stored event as pushed to the server (no stream, version or position). */
export type PushedEvent<E extends EventShape = AnyEvent> = E extends EventShape ? PushedEventFields<E["type"], EventData<E>, EventMeta<E>> : never;

/** The fields of `PushedEvent`. */
export interface PushedEventFields<T extends string = string, D = unknown, M = unknown> {
  id: string;
  type: T;
  /** Present when the event has tags (as on the wire). */
  tags?: readonly string[];
  data: D;
  meta: M | null;
  recordedAt: number;
  schema: number;
}

/** One stream's outbox entry (`sync.outbox()`). */
export interface OutboxEntry {
  stream: string;
  /** Events of the stream not yet on the server. */
  pendingCount: number;
  /** Approximate JSON bytes of their `data` and `meta`. */
  pendingBytes: number;
  /** `recordedAt` of the stream's oldest pending event. */
  oldestPendingAt: number | null;
  attempts: number;
  /** When the next push of this stream is due (ms since the epoch). */
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: SyncFailure | null;
}

/** A quarantined conflict (`sync.conflicts()`, `onConflict`). */
export interface Conflict<E extends EventShape = AnyEvent> {
  /** Pass it to `resolveConflict` / `discardConflict`. */
  id: number;
  stream: string;
  /** The local events that were not yet on the server (for a refused condition: the conditional append's events). */
  local: PushedEvent<E>[];
  /**
   * The server's events they collided with (already in the local log); for a refused
   * condition, the events that match it and that the decision had not seen.
   */
  remote: TidelogEvent<E>[];
  /**
   * Present when the server refused a conditional append (`412 condition_failed`) and the
   * rule still fails against the merged log: the append's condition as it was given.
   */
  condition?: AppendCondition;
  /** When it was found (ms since the epoch). */
  detectedAt: number;
}

/** Events the server refused for good (`sync.deadLetters()`). */
export interface DeadLetter<E extends EventShape = AnyEvent> {
  /** Pass it to `retryDeadLetter` / `discardDeadLetter`. */
  id: number;
  stream: string;
  events: PushedEvent<E>[];
  failure: SyncFailure;
  /** When the server refused them (ms since the epoch). */
  failedAt: number;
}

/** The events `sync.on` emits and what their listeners receive. */
export interface SyncEventMap {
  status: SyncStatus;
  synced: SyncReport;
  conflict: SyncReport;
  /**
   * A `SyncError` for network, auth and stall failures; another `TidelogError` (e.g. a
   * `StorageError`, or an `InvalidInputError` for a bad `onConflict` answer) from the
   * local side; or whatever an `onConflict` function threw (hence `unknown`: narrow it
   * with `instanceof`).
   */
  error: unknown;
  /** A page of the server's feed was written locally (a first sync of a big space shows its progress). */
  progress: SyncProgress;
  /**
   * Once per open, before the first `progress`: the local database was created by this open
   * (new device, evicted or deleted data) while the server holds the space, and it is being
   * rebuilt from the server. Events that were pending (never synced) before the data was
   * lost cannot be recovered.
   */
  rebuild: SyncProgress;
}

/**
 * `sync.on("progress")`: after every page of the feed that brought events. `position / head`
 * is how far the pull has come; the cursor is kept after each page, so a pull cut short
 * (a reload, a closed tab) goes on from there next time.
 */
export interface SyncProgress {
  /** Remote events written locally so far in this round. */
  received: number;
  /** The server feed position pulled through. */
  position: number;
  /** The server feed's last position. */
  head: number;
}

/** `store.sync`: the sync side of a store opened with a `sync` option. */
export class Sync<E extends EventShape = AnyEvent> {
  private constructor();
  /**
   * Runs a round now (other tabs wake the syncing one) and resolves with the status
   * afterwards. Once the store is closed (`close()`, a delete in any tab, another tab's
   * upgrade), rejects with a `ClosedError` at once, also when it closes during the round.
   */
  now(): Promise<SyncStatus>;
  /** The current status (live state; `store.metrics()` has the store's counters). */
  status(): SyncStatus;
  /** Listens to `"status"`, `"synced"`, `"conflict"`, `"error"`, `"progress"` or `"rebuild"`; returns a function that stops listening. */
  on<K extends keyof SyncEventMap>(event: K, callback: (detail: SyncEventMap[K]) => void): () => void;
  /** Pauses syncing (the outbox keeps filling). */
  pause(): void;
  /** Resumes syncing and runs a round. */
  resume(): void;
  /** Replaces the bearer token (`null` for none) and resumes after an auth failure. */
  setToken(token: string | null): void;
  /** Resolves once the event `id` is stored on the server; rejects with a `ClosedError` once the store is closed. */
  acknowledged(id: string): Promise<void>;
  /** The outbox: one entry per stream with pending events. */
  outbox(): Promise<OutboxEntry[]>;
  /** Quarantined conflicts. */
  conflicts(): Promise<Conflict<E>[]>;
  /** Batches the server refused for good. */
  deadLetters(): Promise<DeadLetter<E>[]>;
  /** Puts a dead letter's events back in the outbox (same ids); false when there is no such id. */
  retryDeadLetter(id: number): Promise<boolean>;
  /** Drops a dead letter for good. */
  discardDeadLetter(id: number): Promise<boolean>;
  /**
   * Settles a conflict: `events` (default: its local events) go after the remote ones and
   * sync. Events `append` would refuse (over `maxEventBytes`, bad tags) reject with an
   * `InvalidInputError`, and the conflict stays.
   */
  resolveConflict(id: number, events?: readonly NewEvent<E>[]): Promise<boolean>;
  /** Drops a conflict's local events for good. */
  discardConflict(id: number): Promise<boolean>;
  free(): void;
}

// ---------------------------------------------------------------------------------------
// Errors: every error tidelog rejects with or emits is an instance of one of these
// classes (all `instanceof TidelogError` and `Error`), with a stable `name` and `code`.
// Narrow with `instanceof` (`e instanceof VersionConflictError`); after
// `e instanceof TidelogError`, `e.code` tells them apart.
// ---------------------------------------------------------------------------------------

/** The `code` of every tidelog error. */
export type TidelogErrorCode =
  | "invalid_input" | "version_conflict" | "append_condition_failed" | "quota_exceeded" | "storage" | "closed" | "unsynced_events" | "replay_failed" | "not_retained"
  | "network" | "auth" | "forbidden_origin" | "not_found" | "stalled";

/** Base class of every tidelog error. */
export class TidelogError extends Error {
  constructor(message?: string);
  /** Stable, machine-readable (see each class). */
  readonly code: TidelogErrorCode;
}

/** An argument or option is invalid; `field` names it (e.g. `events[0].data.when`). */
export class InvalidInputError extends TidelogError {
  readonly name: "InvalidInputError";
  readonly code: "invalid_input";
  readonly field: string;
}

/** The stream was not at the expected version; nothing was written. */
export class VersionConflictError extends TidelogError {
  readonly name: "VersionConflictError";
  readonly code: "version_conflict";
  readonly stream: string;
  readonly expectedVersion: ExpectedVersion;
  readonly actualVersion: number;
}

// ---------------------------------------------------------------------------------------
// Decisions across streams (js/decision.js): a decision model folded from query-scoped
// projections, and a given/when/then helper for command handlers.
// ---------------------------------------------------------------------------------------

/** What the decision helpers use of a store (an `EventStore` has it all). */
export interface DecisionStore<E extends EventShape = AnyEvent> {
  query(query: Query, options?: QueryOptions): Promise<TidelogEvent<E>[]>;
  append(stream: string, events: readonly NewEvent<E>[], options?: AppendOptions): Promise<unknown>;
  readAll(options?: ReadAllOptions): Promise<TidelogEvent<E>[]>;
  close?(): void;
}

/** One projection of a decision model: the events `query` selects, folded by `evolve` from `initial`. */
export interface DecisionProjection<S, E extends EventShape = AnyEvent> {
  query: Query;
  initial: S;
  evolve: (state: S, event: TidelogEvent<E>) => S;
}

/** The condition a decision implies: fail if an event its queries select came after what it read. */
export interface DecisionCondition {
  failIfEventsMatch: Query;
  after: number;
}

/**
 * Reads the events of every projection's query in one query (their union), folds each
 * projection over its own, and returns the states with the condition to append under
 * (`append(stream, events, { condition })`): a writer that changed any of the inputs
 * since makes the append fail with an `AppendConditionError`. Projections see events of
 * any type unless `E` is given.
 */
export function decisionModel<P extends Record<string, DecisionProjection<any, E>>, E extends EventShape = AnyEvent>(
  store: DecisionStore<any>,
  projections: P,
): Promise<{ state: { [K in keyof P]: P[K]["initial"] }; condition: DecisionCondition }>;

/** A given event: its stream and the event as `append` takes it. */
export type GivenEvent<E extends EventShape = AnyEvent> = NewEvent<E> & { stream: string };

/** An expected event: the fields to compare (those left out are not compared). */
export interface ExpectedEvent {
  stream?: string;
  type: string;
  data?: unknown;
  meta?: unknown;
  tags?: readonly string[];
}

/** An expected failure: an error class, or fields of the error (`message` a string or a RegExp). */
export type ExpectedError = (abstract new (...args: any[]) => Error) | { name?: string; code?: string; message?: string | RegExp };

/** What a command led to: the events it appended, or what it threw (`undefined` if nothing). */
export interface SpecOutcome<E extends EventShape = AnyEvent> {
  events: TidelogEvent<E>[];
  error: unknown;
}

/**
 * A given/when/then helper for a command handler (like Emmett's `DeciderSpecification`):
 * `given(events).when(command).then(expected)` opens a fresh store with `store()`, appends
 * the given events, runs `handle(store, command)` and checks what it appended (only the
 * fields of each expected event are compared) or that it failed as expected having
 * appended nothing; rejects with an `Error` saying what differs. Awaiting
 * `when(command)` without `then(...)` gives the outcome unchecked.
 */
export function specification<C, E extends EventShape = AnyEvent>(options: {
  store: () => DecisionStore<E> | Promise<DecisionStore<E>>;
  handle: (store: DecisionStore<E>, command: C) => unknown;
}): (events: readonly GivenEvent<E>[]) => {
  when(command: C): { then(expected: readonly ExpectedEvent[] | ExpectedError): Promise<SpecOutcome<E>> };
};

/** An append's `condition` matched a stored event after its `after` position; nothing was written. */
export class AppendConditionError extends TidelogError {
  readonly name: "AppendConditionError";
  readonly code: "append_condition_failed";
  readonly stream: string;
  /** Global position of the first event that matched. */
  readonly position: number;
  readonly eventId: string;
  /** The condition's `after`; `null` when it had none. */
  readonly after: number | null;
}

/** The browser's storage quota, or a file store's disk, is full; nothing was written. */
export class QuotaExceededError extends TidelogError {
  readonly name: "QuotaExceededError";
  readonly code: "quota_exceeded";
}

/**
 * The storage failed; `cause` has the engine's error name and message: IndexedDB's
 * DOMException name, or `"Blocked"` (`deleteStore`: the database is still there 5 s after
 * the request, kept open by a connection that is not tidelog's; the browser deletes it
 * once that connection closes); for a file store
 * the node:fs code (`"EACCES"`), `"Locked"` (another process, or this one, has the store
 * open) or `"Corrupted"` (the log is damaged before its end; nothing was opened). In a
 * browser, opening a store whose wasm could not be loaded (the one `tidelog.js` carries,
 * or a memory store's `tidelog_memory_bg.wasm`): the host's error (e.g. `"TypeError"` for
 * a failed fetch, `"CompileError"` for a compile the page's Content-Security-Policy refused).
 */
export class StorageError extends TidelogError {
  readonly name: "StorageError";
  readonly code: "storage";
  readonly cause: { name: string; message: string };
}

/** The store was closed. */
export class ClosedError extends TidelogError {
  readonly name: "ClosedError";
  readonly code: "closed";
}

/**
 * `EventStore.deleteStore` refused (nothing was deleted or closed): the store holds
 * `pendingCount` events the sync server does not have. Sync first, or pass `force: true`
 * to lose them.
 */
export class UnsyncedEventsError extends TidelogError {
  readonly name: "UnsyncedEventsError";
  readonly code: "unsynced_events";
  /** Events pending in the outbox, plus those of conflicts and dead letters (every event, in a store that does not sync). */
  readonly pendingCount: number;
}

/** A reducer or upcaster threw; the fields name the event, `cause` is what it threw. */
export class ReplayError extends TidelogError {
  readonly name: "ReplayError";
  readonly code: "replay_failed";
  readonly position: number;
  readonly eventId: string;
  readonly stream: string;
  readonly version: number;
  readonly type: string;
  readonly cause: unknown;
}

/**
 * A read asked for events retention dropped (the open option `retain`). Refused, never
 * served partially: read from `from` on (a stream read: from `retainedVersion` on).
 */
export class NotRetainedError extends TidelogError {
  readonly name: "NotRetainedError";
  readonly code: "not_retained";
  /** The lowest global position still held. */
  readonly from: number;
  /** The stream of a stream read, else `null`. */
  readonly stream: string | null;
  /** The stream's lowest version still held (a stream read), else `null`. */
  readonly retainedVersion: number | null;
}

/**
 * Sync could not reach the server (`network`: retried with backoff), was refused
 * (`auth`: 401/403; `forbidden_origin`: the server does not allow the page's origin;
 * `not_found`: nothing answers the sync protocol at `sync.url`, the message names the
 * URL; these three pause sync until `setToken`/`resume`/`now`), or stalled.
 */
export class SyncError extends TidelogError {
  readonly name: "SyncError";
  readonly code: "network" | "auth" | "forbidden_origin" | "not_found" | "stalled";
  /** The HTTP status, `null` for network errors, timeouts and stalls. */
  readonly status: number | null;
}

/** Any one tidelog error: a union to discriminate on `name` or `code`. */
export type AnyTidelogError =
  | InvalidInputError
  | VersionConflictError
  | AppendConditionError
  | QuotaExceededError
  | StorageError
  | ClosedError
  | UnsyncedEventsError
  | ReplayError
  | NotRetainedError
  | SyncError;
