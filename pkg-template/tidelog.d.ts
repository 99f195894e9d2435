// Type declarations of tidelog, written by hand against src/bindings/ (the shapes the
// Rust bindings build at run time); wasm-bindgen's generated file types every argument
// as `any`. One file serves every entry (web, node, workerd): they export the same API.

// ---------------------------------------------------------------------------------------
// Loading the wasm
// ---------------------------------------------------------------------------------------

/** What `init` can load the wasm from (default: `tidelog_bg.wasm` next to the module). */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** What `initSync` can instantiate synchronously. */
export type SyncInitInput = BufferSource | WebAssembly.Module;

/** The instantiated wasm module (internal exports are not part of the API). */
export interface InitOutput {
  readonly memory: WebAssembly.Memory;
}

/**
 * Loads and instantiates the wasm. Needed once in browsers and web workers (the web
 * build) before any other call; calling it again returns the same promise. In Node and
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
// Events
// ---------------------------------------------------------------------------------------

/** A JSON value: what event `data` and `meta` may hold (plain objects, arrays, finite numbers...). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A stored event, as `read`, `readAll`, `subscribe` and reducers see it. */
export interface TidelogEvent<T = unknown, M = unknown> {
  /** Unique id: the one given to `append`, or a UUIDv7 made by tidelog. */
  readonly id: string;
  readonly stream: string;
  /** 1-based position within its stream. */
  readonly version: number;
  /** 1-based position in the store's global log (commit order). */
  readonly position: number;
  readonly type: string;
  data: T;
  /** `null` when the event was appended without `meta`. */
  meta: M | null;
  /** Milliseconds since the epoch when it was recorded. */
  readonly recordedAt: number;
  /** Schema of `data` (1 unless given); upcasters raise it. */
  readonly schema: number;
}

/** An event to append. `data`/`meta` must be JSON values (plain objects, no Dates, no undefined in arrays). */
export interface NewEvent<T = unknown, M = unknown> {
  type: string;
  data?: T;
  meta?: M | null;
  /** Give an id to make the append idempotent: re-appending the same ids returns the original result. */
  id?: string | null;
  /** Schema of `data`, a whole number from 1 (default 1). */
  schema?: number;
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

/** Counters since the store was opened. */
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
// Options
// ---------------------------------------------------------------------------------------

/** Options of `EventStore.open`. Unknown keys are rejected with an `InvalidInputError`. */
export interface OpenOptions {
  /** `"auto"` (default): IndexedDB where the host has it, memory elsewhere. */
  storage?: "auto" | "indexeddb" | "memory";
  /** IndexedDB transaction durability for appends (default `"default"`). */
  durability?: "default" | "relaxed" | "strict";
  /** Sync with a tidelog sync server (`tidelog/worker`); needs IndexedDB storage. */
  sync?: SyncOptions;
}

/** The `sync` option of `EventStore.open`. */
export interface SyncOptions {
  /** The space's base URL, without query or fragment, e.g. `https://host/v1/my-space`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; change it later with `sync.setToken`. */
  token?: string;
  /**
   * How a conflict (the server has events the local pending ones did not expect) settles:
   * `"rebase"` (default): local events go after the remote ones; `"quarantine"`: they
   * wait in `sync.conflicts()`; a function: called per conflict, it returns the events
   * to append after the remote ones, `null` or `[]` to drop the local events, or
   * `undefined` to leave it quarantined.
   */
  onConflict?: "rebase" | "quarantine" | ConflictResolver;
  /** Poll interval in ms (default 30000; 4x while the page is hidden). 100 to 86400000. */
  pollMs?: number;
  /** Request timeout in ms (default 15000). 100 to 600000. */
  timeoutMs?: number;
  /** Pending events making no progress this long (ms) mark the status `stalled` (default 60000). */
  stallMs?: number;
  /** Events per push request (default 100). 1 to 1000. */
  batchSize?: number;
  /** Start paused (e.g. to honour a remembered "offline" switch); `sync.resume()` starts it. */
  paused?: boolean;
}

/** Settles one conflict (see `SyncOptions.onConflict`); may be async. */
export type ConflictResolver = (
  conflict: Conflict,
) => NewEvent[] | null | undefined | Promise<NewEvent[] | null | undefined>;

/** Options of `append`. */
export interface AppendOptions {
  /** Default `"any"`. A mismatch rejects with a `VersionConflictError` and writes nothing. */
  expectedVersion?: ExpectedVersion;
}

/** Options of `read`. */
export interface ReadOptions {
  /** First version to read (inclusive). */
  fromVersion?: number;
  limit?: number;
  direction?: "forward" | "backward";
  /** Hand out events raised to their latest schema by the registered upcasters (default false). */
  upcast?: boolean;
}

/** Options of `readAll`. */
export interface ReadAllOptions {
  /** First position to read (inclusive; positions start at 1, 0 means the start). */
  fromPosition?: number;
  limit?: number;
  upcast?: boolean;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Deliver from this position (inclusive) instead of only new events. */
  fromPosition?: number;
}

/** Options of `replay`. */
export interface ReplayOptions {
  /** Stream replays: first version (inclusive). */
  fromVersion?: number;
  /** Stream replays: last version (inclusive): time travel. */
  toVersion?: number;
  /** Whole-log replays: first position (inclusive). */
  fromPosition?: number;
  /** Last position (inclusive): time travel. */
  toPosition?: number;
  /** Events reach the reducer at their latest schema (default true). */
  upcast?: boolean;
  /** `"throw"` (default): reject with a `ReplayError`; `"skip"`: skip failing events and report them. */
  onError?: "throw" | "skip";
  /** Events per read (default 2000; 1 to 100000). */
  pageSize?: number;
  /** Resolve to a `ReplayReport` instead of the state. */
  report?: boolean;
}

/** What `replay(..., { report: true })` resolves to. */
export interface ReplayReport<S> {
  state: S;
  /** Events applied. */
  events: number;
  skipped: { count: number; ids: string[] };
  lastPosition: number;
  /** The last version applied in a stream replay; `null` for whole-log replays. */
  lastVersion: number | null;
  pages: number;
}

/** A reducer: `(state, event) => state`; it must be synchronous. */
export type Reducer<S, E = TidelogEvent> = (state: S, event: E) => S;

/** Options of `store.projection(name, options)`. */
export interface ProjectionOptions<S, E = TidelogEvent> {
  /** The state before any event; must be structured-cloneable (snapshots store it). */
  initial: S;
  reducer: Reducer<S, E>;
  /** Bump it when the reducer changes: a snapshot of another version is dropped (default 1). */
  version?: number;
  /** Only these streams (default: the whole log). */
  streams?: string[];
  /** Events between snapshots (default 1000; 0: never). */
  snapshotEvery?: number;
}

/** Options of `store.execute(stream, command, options)` (decide/evolve). */
export interface ExecuteOptions<S, C, E = TidelogEvent> {
  initial: S;
  /** Evolve: folds the stream into the state. */
  reducer: Reducer<S, E>;
  /** Returns the events to append for `command` (none: nothing is appended); may be async. */
  decide: (command: C, state: S) => NewEvent[] | null | undefined | Promise<NewEvent[] | null | undefined>;
  /** Attempts on a `VersionConflictError` (default 3; 1 to 100). */
  maxAttempts?: number;
  upcast?: boolean;
}

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

/** An upcaster: raises `data` of one event type from one schema to the next. */
export type Upcaster<From = any, To = unknown> = (data: From, event: TidelogEvent<From>) => To;

// ---------------------------------------------------------------------------------------
// The event store
// ---------------------------------------------------------------------------------------

/** An append-only event log: IndexedDB in browsers, memory elsewhere. */
export class EventStore {
  private constructor();
  /** Opens (or creates) the event store `name` (1 to 256 bytes). */
  static open(name: string, options?: OpenOptions): Promise<EventStore>;
  /** The store's name. */
  readonly name: string;
  /** Where the events live. */
  readonly storage: "indexeddb" | "memory";
  /** The sync side; `undefined` unless opened with a `sync` option. */
  readonly sync: Sync | undefined;
  /** Appends `events` to `stream`, all or nothing. */
  append(stream: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  /** Reads one stream. */
  read<T = unknown, M = unknown>(stream: string, options?: ReadOptions): Promise<TidelogEvent<T, M>[]>;
  /** Reads the global log in position order. */
  readAll<T = unknown, M = unknown>(options?: ReadAllOptions): Promise<TidelogEvent<T, M>[]>;
  /** The stream's version: its number of events (0 when it has none). */
  version(stream: string): Promise<number>;
  /** Every stream with events. */
  streams(): Promise<StreamInfo[]>;
  /**
   * Calls `callback(event)` for every event appended from now on (or from
   * `options.fromPosition`), in position order, including other tabs' and workers'
   * appends to the same database. Returns a function that stops it.
   */
  subscribe<T = unknown, M = unknown>(
    callback: (event: TidelogEvent<T, M>) => void,
    options?: SubscribeOptions,
  ): () => void;
  /** Counters since this store was opened. */
  metrics(): Metrics;
  /** Closes the store: subscriptions and sync stop; later calls reject with a `ClosedError`. */
  close(): void;
  /**
   * Folds `stream` (or the whole log with `null`) with `reducer` from `initial` and
   * resolves to the final state (or a `ReplayReport` with `{ report: true }`).
   */
  replay<S, E = TidelogEvent>(
    stream: string | null,
    reducer: Reducer<S, E>,
    initial: S,
    options: ReplayOptions & { report: true },
  ): Promise<ReplayReport<S>>;
  replay<S, E = TidelogEvent>(
    stream: string | null,
    reducer: Reducer<S, E>,
    initial: S,
    options?: ReplayOptions & { report?: false },
  ): Promise<S>;
  replay<S, E = TidelogEvent>(
    stream: string | null,
    reducer: Reducer<S, E>,
    initial: S,
    options?: ReplayOptions,
  ): Promise<S | ReplayReport<S>>;
  /**
   * Registers an upcaster raising events of `type` from schema `fromSchema` to
   * `fromSchema + 1`. Steps chain; stored events never change.
   */
  upcast<From = any, To = unknown>(type: string, fromSchema: number, upcaster: Upcaster<From, To>): void;
  /** A named, snapshotted projection over the log. */
  projection<S, E = TidelogEvent>(name: string, options: ProjectionOptions<S, E>): Projection<S>;
  /**
   * Handles `command` on `stream` with decide/evolve, appending with the expected
   * version and retrying on a `VersionConflictError`.
   */
  execute<S, C = unknown, E = TidelogEvent>(
    stream: string,
    command: C,
    options: ExecuteOptions<S, C, E>,
  ): Promise<ExecuteResult<S>>;
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
  stats(): ProjectionStats;
  /** Stops the live feed and drops the subscribers. */
  close(): void;
  free(): void;
}

/** `projection.stats()`. */
export interface ProjectionStats {
  /** Events this object folded (after a reload: only the tail after the snapshot). */
  replayedEvents: number;
  /** The last position the state covers. */
  position: number;
  /** Where the loaded snapshot ended; `null` when none was used. */
  snapshotPosition: number | null;
  snapshotsWritten: number;
  /** A snapshot of another projection version was dropped. */
  invalidatedSnapshot: boolean;
  rebuilds: number;
  version: number;
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
  pending: number;
  /** Approximate JSON bytes of the pending events' `data` and `meta`. */
  pendingBytes: number;
  pendingStreams: number;
  /** Milliseconds since the oldest pending event was recorded; `null` when none is pending. */
  oldestPendingAge: number | null;
  inFlight: boolean;
  conflicts: number;
  deadLetters: number;
  /** `Date.now()` of the last round without error; `null` before the first one. */
  lastSyncedAt: number | null;
  lastError: SyncFailure | null;
  /** When the next retry is due (ms since the epoch), if backing off. */
  nextRetryAt: number | null;
  /** Pending events made no progress for `stallMs` while online and not paused. */
  stalled: boolean;
  /** The auth failure that stopped sync until `setToken`/`resume`/`now`; `null` otherwise. */
  auth: SyncFailure | null;
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
export interface PushedEvent<T = unknown, M = unknown> {
  id: string;
  type: string;
  data: T;
  meta: M | null;
  recordedAt: number;
  schema: number;
}

/** One stream's outbox entry (`sync.pending()`). */
export interface OutboxEntry {
  stream: string;
  /** Events of the stream not yet on the server. */
  pending: number;
  /** Approximate JSON bytes of their `data` and `meta`. */
  pendingBytes: number;
  /** `recordedAt` of the stream's oldest pending event. */
  oldestPendingAt: number | null;
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: SyncFailure | null;
}

/** A quarantined conflict (`sync.conflicts()`, `onConflict`). */
export interface Conflict {
  /** Pass it to `resolveConflict` / `discardConflict`. */
  id: number;
  stream: string;
  /** The local events that were not yet on the server. */
  local: PushedEvent[];
  /** The server's events they collided with (already in the local log). */
  remote: TidelogEvent[];
  at: number;
}

/** Events the server refused for good (`sync.deadLetters()`). */
export interface DeadLetter {
  /** Pass it to `retryDeadLetter` / `discardDeadLetter`. */
  id: number;
  stream: string;
  events: PushedEvent[];
  failure: SyncFailure;
  at: number;
}

/** The events `sync.on` emits and what their listeners receive. */
export interface SyncEventMap {
  status: SyncStatus;
  synced: SyncReport;
  conflict: SyncReport;
  /**
   * A `SyncError` for network, auth and stall failures; a tidelog error (e.g. a
   * `StorageError`) from the local side; or the value an `onConflict` function threw.
   */
  error: SyncError | TidelogError;
}

/** `store.sync`: the sync side of a store opened with a `sync` option. */
export class Sync {
  private constructor();
  /** Runs a round now (other tabs wake the syncing one) and resolves with the status afterwards. */
  now(): Promise<SyncStatus>;
  status(): SyncStatus;
  /** Listens to `"status"`, `"synced"`, `"conflict"` or `"error"`; returns a function that stops listening. */
  on<K extends keyof SyncEventMap>(event: K, callback: (detail: SyncEventMap[K]) => void): () => void;
  /** Pauses syncing (the outbox keeps filling). */
  pause(): void;
  /** Resumes syncing and runs a round. */
  resume(): void;
  /** Replaces the bearer token (`null` for none) and resumes after an auth failure. */
  setToken(token: string | null): void;
  /** Resolves once the event `id` is stored on the server. */
  acknowledged(id: string): Promise<void>;
  /** The outbox: streams with pending events. */
  pending(): Promise<OutboxEntry[]>;
  conflicts(): Promise<Conflict[]>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Puts a dead letter's events back in the outbox (same ids); false when there is no such id. */
  retryDeadLetter(id: number): Promise<boolean>;
  /** Drops a dead letter for good. */
  discardDeadLetter(id: number): Promise<boolean>;
  /** Settles a conflict: `events` (default: its local events) go after the remote ones and sync. */
  resolveConflict(id: number, events?: NewEvent[]): Promise<boolean>;
  /** Drops a conflict's local events for good. */
  discardConflict(id: number): Promise<boolean>;
  free(): void;
}

// ---------------------------------------------------------------------------------------
// Errors: instances of exported classes (`e instanceof VersionConflictError`, all
// `instanceof TidelogError` and `Error`) with a stable `name` and `code`.
// ---------------------------------------------------------------------------------------

/** Constructor type of an error class. */
export interface TidelogErrorClass<T> {
  new (message?: string): T;
  readonly prototype: T;
}
/** Base class of every tidelog error. */
export declare const TidelogError: TidelogErrorClass<TidelogError | SyncError>;
export declare const InvalidInputError: TidelogErrorClass<InvalidInputError>;
export declare const VersionConflictError: TidelogErrorClass<VersionConflictError>;
export declare const QuotaExceededError: TidelogErrorClass<QuotaExceededError>;
export declare const StorageError: TidelogErrorClass<StorageError>;
export declare const ClosedError: TidelogErrorClass<ClosedError>;
export declare const ReplayError: TidelogErrorClass<ReplayError>;
export declare const SyncError: TidelogErrorClass<SyncError>;

/** An argument or option is invalid; `field` names it (e.g. `events[0].data.when`). */
export interface InvalidInputError extends Error {
  name: "InvalidInputError";
  code: "invalid_input";
  field: string;
}

/** The stream was not at the expected version; nothing was written. */
export interface VersionConflictError extends Error {
  name: "VersionConflictError";
  code: "version_conflict";
  stream: string;
  expectedVersion: ExpectedVersion;
  actualVersion: number;
}

/** The browser's storage quota is exhausted; nothing was written. */
export interface QuotaExceededError extends Error {
  name: "QuotaExceededError";
  code: "quota_exceeded";
}

/** IndexedDB failed; `cause` has the DOMException's name and message. */
export interface StorageError extends Error {
  name: "StorageError";
  code: "storage";
  cause: { name: string; message: string };
}

/** The store was closed. */
export interface ClosedError extends Error {
  name: "ClosedError";
  code: "closed";
}

/** A reducer or upcaster threw; the fields name the event, `cause` is what it threw. */
export interface ReplayError extends Error {
  name: "ReplayError";
  code: "replay_failed";
  position: number;
  eventId: string;
  stream: string;
  version: number;
  type: string;
  cause: unknown;
}

/** Sync could not reach the server, was refused (auth), or stalled. */
export interface SyncError extends Error {
  name: "SyncError";
  code: "network" | "auth" | "stalled";
  /** The HTTP status, `null` for network errors, timeouts and stalls. */
  status: number | null;
}

/** Every error tidelog's store API rejects with (discriminate on `name`). */
export type TidelogError =
  | InvalidInputError
  | VersionConflictError
  | QuotaExceededError
  | StorageError
  | ClosedError
  | ReplayError;
