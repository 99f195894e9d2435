// A small typed app on tidelog, compiled (never run) with `tsc --strict
// --exactOptionalPropertyTypes --noEmit` against the installed tarball
// (tests/js/package.test.mjs) or pkg-template's declarations (`npx tsc -p tests/types`).
// It names its events once and uses every API without a non-null assertion or a cast
// (package.test.mjs checks that too). Misuse that must not compile: misuse.ts.
import init, {
  type FileRecovery,
  AppendConditionError, ClosedError, EventStore, InvalidInputError, initSync, NotRetainedError, QuotaExceededError, ReplayError, StorageError, SyncError,
  TidelogError, UnsyncedEventsError, version, VersionConflictError, type ClosedEvent, type DeleteStoreOptions,
  type AnyTidelogError, type AppendCondition, type AppendResult, type Query, decisionModel, specification, type SpecOutcome, type DecisionStore, type Conflict, type ConflictResolution, type DeadLetter, type ExpectedVersion,
  type Json, type Metrics, type MovedNotice, type NewEvent, type OutboxEntry, type Projection, type ProjectionMetrics, type PullScope, type ReplayReport,
  type StorageFigures, type StreamInfo, type Sync, type SyncedEventStore, type SyncProgress, type SyncReport, type SyncStatus, type TidelogEvent,
} from "tidelog";
// A service worker's up-front load of the sync side (no exports).
import "tidelog/sync";
import worker, { parseSpacePath, TidelogSpace, type TidelogWorkerEnv } from "tidelog/worker";
import { frontConfig, gate, finish, logLine, type AuthorizeHook } from "tidelog/worker/front";

// ---- the domain, named once ---------------------------------------------------------
type Sku = string;
export type CartEvent =
  | { type: "ItemAdded"; data: { sku: Sku; qty: number }; meta: { user: string } }
  | { type: "ItemRemoved"; data: { sku: Sku } }
  | { type: "CartCleared"; data?: { reason: string } }
  | { type: "CheckedOut" };
type Cart = Record<Sku, number>;
type Command = { add: Sku; qty: number } | { remove: Sku };

function evolve(cart: Cart, event: TidelogEvent<CartEvent>): Cart {
  switch (event.type) {
    case "ItemAdded": {
      const by: string | undefined = event.meta?.user;
      void by;
      return { ...cart, [event.data.sku]: (cart[event.data.sku] ?? 0) + event.data.qty };
    }
    case "ItemRemoved": {
      const { [event.data.sku]: _gone, ...rest } = cart;
      return rest;
    }
    case "CartCleared": {
      const reason: string | null = event.data === null ? null : event.data.reason;
      void reason;
      return {};
    }
    case "CheckedOut": {
      const none: null = event.data;
      void none;
      return cart;
    }
  }
}

function decide(command: Command, cart: Cart): NewEvent<CartEvent>[] {
  if ("add" in command) return [{ type: "ItemAdded", data: { sku: command.add, qty: command.qty }, meta: { user: "me" } }];
  return cart[command.remove] === undefined ? [] : [{ type: "ItemRemoved", data: { sku: command.remove } }];
}

// ---- errors: by class ------------------------------------------------------------------
export function explain(caught: unknown): string {
  if (caught instanceof VersionConflictError) {
    const at: [string, ExpectedVersion, number] = [caught.stream, caught.expectedVersion, caught.actualVersion];
    return `conflict on ${at[0]}: expected ${at[1]}, at ${at[2]}`;
  }
  if (caught instanceof AppendConditionError) {
    const at: [string, number, string, number | null] = [caught.stream, caught.position, caught.eventId, caught.after];
    return `condition on ${at[0]} failed at ${at[1]} (${at[2]}, after ${at[3] ?? "start"})`;
  }
  if (caught instanceof InvalidInputError) return `bad input at ${caught.field}`;
  if (caught instanceof StorageError) return `${caught.cause.name}: ${caught.cause.message}`;
  if (caught instanceof ReplayError) return `${caught.type} #${caught.position} (${caught.eventId} ${caught.stream}@${caught.version}) ${String(caught.cause)}`;
  if (caught instanceof NotRetainedError) {
    const held: [number, string | null, number | null] = [caught.from, caught.stream, caught.retainedVersion];
    return `${caught.code}: held from ${held[0]} (${held[1] ?? "log"} v${held[2] ?? "-"})`;
  }
  if (caught instanceof SyncError) {
    const code: "network" | "auth" | "forbidden_origin" | "not_found" | "stalled" = caught.code;
    return `${code} ${caught.status ?? "no status"}`;
  }
  if (caught instanceof UnsyncedEventsError) {
    const pending: number = caught.pendingCount;
    const code: "unsynced_events" = caught.code;
    return `${code}: ${pending} events not on the server`;
  }
  if (caught instanceof QuotaExceededError || caught instanceof ClosedError) return caught.name;
  if (caught instanceof TidelogError) {
    const code: string = caught.code;
    return code;
  }
  return caught instanceof Error ? caught.message : String(caught);
}

// ---- errors: one union, discriminated on `name` -------------------------------------------
export function describe(e: AnyTidelogError): string {
  switch (e.name) {
    case "VersionConflictError": return String(e.actualVersion);
    case "AppendConditionError": return String(e.position);
    case "InvalidInputError": return e.field;
    case "StorageError": return e.cause.name;
    case "ReplayError": return e.eventId;
    case "NotRetainedError": return String(e.from);
    case "SyncError": return e.code;
    case "UnsyncedEventsError": return String(e.pendingCount);
    case "QuotaExceededError": case "ClosedError": return e.code;
  }
}

// ---- the app ------------------------------------------------------------------------------
export async function app(): Promise<void> {
  // Retention: the local log keeps the newest 1000 events (and a day's worth).
  const retained = await EventStore.open("retained", { retain: { events: 1000, ms: 86_400_000 } });
  const compacted: { dropped: number; from: number } = await retained.compact();
  await retained.readAll({ fromPosition: compacted.from });
  retained.close();
  await init();
  await init({ module_or_path: new URL("https://example.com/tidelog_bg.wasm") });
  initSync({ module: new Uint8Array(8) });
  const v: string = version();

  const onConflict = async (conflict: Conflict<CartEvent>): Promise<ConflictResolution<CartEvent>> => {
    const mine = conflict.local.filter((e) => e.type === "ItemAdded");
    const at: number = conflict.detectedAt;
    void at;
    if (conflict.condition) {
      const rule: Query = conflict.condition.failIfEventsMatch;
      const after: number | undefined = conflict.condition.after;
      const matched: string[] = conflict.remote.map((e) => e.id);
      void rule, after, matched;
      return "quarantine";
    }
    if (mine.length === 0) return "quarantine";
    return mine.map((e) => (e.type === "ItemAdded" ? { type: e.type, data: e.data, meta: { user: "rebased" } } : { type: "CartCleared" }));
  };
  const token: string | undefined = undefined; // e.g. not signed in: an explicit undefined is accepted
  const store: SyncedEventStore<CartEvent> = await EventStore.open<CartEvent>("shop", {
    storage: "auto",
    durability: "relaxed",
    maxEventBytes: 64 * 1024,
    sync: { url: "https://example.com/v1/shop", token, auth: async () => "fresh-token", onConflict, pollMs: 5000, timeoutMs: 10000, stallMs: 60000, batchSize: 50, paused: false },
  });
  // Partial sync: some streams, by id and by prefix; `{}` pulls nothing.
  const scope: PullScope = { streams: ["order-7"], prefixes: ["cart-"] };
  await EventStore.open<CartEvent>("carts", { sync: { url: "https://example.com/v1/shop", pull: scope } });
  await EventStore.open("push-only", { sync: { url: "https://example.com/v1/shop", pull: {} } });
  // Storage the browser may evict: ask to keep it, and watch the figures.
  const kept = await EventStore.open("kept", { persist: true, sync: { url: "https://example.com/v1/shop" } });
  const persisted: boolean | null = await kept.persisted;
  const figures: StorageFigures | null = kept.sync.status().storage;
  const rebuilding: boolean = kept.sync.status().rebuilding;
  console.log(persisted, figures?.usage, figures?.quota, figures?.persisted, rebuilding);
  const name: string = store.name;
  const where: "indexeddb" | "memory" | "file" = store.storage;

  // Append: the data must match the type.
  const appended: AppendResult = await store.append("cart-1", [
    { type: "ItemAdded", data: { sku: "A1", qty: 2 }, meta: { user: "ann" }, id: "e1", schema: 1 },
    { type: "ItemRemoved", data: { sku: "A1" }, meta: null, id: undefined },
    { type: "CartCleared" },
    { type: "CheckedOut", data: null },
    { type: "CheckedOut" },
  ], { expectedVersion: "any" });
  const positions: number[] = [appended.firstPosition, appended.lastPosition, appended.firstVersion, appended.lastVersion];
  await store.append("cart-2", decide({ add: "B2", qty: 1 }, {}), { expectedVersion: undefined });

  // Read: a stored event narrows on `type`.
  const events = await store.read("cart-1", { fromVersion: 1, limit: 10, direction: "backward", upcast: true });
  let qty = 0;
  for (const e of events) {
    if (e.type === "ItemAdded") qty += e.data.qty;
    const fields: [string, string, number, number, number, number] = [e.id, e.stream, e.version, e.position, e.recordedAt, e.schema];
    void fields;
  }
  const all: TidelogEvent<CartEvent>[] = await store.readAll({ fromPosition: 1, limit: 100, upcast: undefined });
  const head: number = await store.version("cart-1");
  const streams: StreamInfo[] = await store.streams();
  const synced: number | undefined = streams[0]?.syncedVersion;
  const stop: () => void = store.subscribe((e) => {
    if (e.type === "ItemRemoved") console.log(e.data.sku);
  }, { fromPosition: 1 });
  stop();
  const stopMoved: () => void = store.subscribe(() => {}, {
    onMoved: (notice: MovedNotice | null) => {
      if (notice) console.log(notice.stream, notice.id, notice.from.version, notice.from.position, notice.to.version, notice.to.position);
    },
  });
  stopMoved();
  const badges: (boolean | undefined)[] = (await store.readAll()).map((e) => e.pending);
  void badges;
  const m: Metrics = store.metrics();
  const counters: number[] = [m.appends, m.eventsWritten, m.bytesWritten, m.idempotentAppends, m.conflicts, m.reads, m.eventsRead];

  // Replay: `{ reducer, initial }` everywhere; the report is its own call.
  const cart: Cart = await store.replay("cart-1", { reducer: evolve, initial: {}, toVersion: 2, fromVersion: 1 });
  const items: number = await store.replay("cart-1", {
    reducer: (n, e) => (e.type === "ItemAdded" ? n + e.data.qty : n),
    initial: 0,
    toPosition: 10,
    onError: "throw",
  });
  const total: number = await store.replayAll({ reducer: (n: number) => n + 1, initial: 0, fromPosition: 1, toPosition: 100, upcast: true, pageSize: 500 });
  const report: ReplayReport<string[]> = await store.replayReport("cart-1", { reducer: (ids: string[], e) => [...ids, e.id], initial: [], onError: "skip" });
  const counts: number[] = [report.appliedCount, report.skippedCount, report.pageCount, report.lastPosition];
  const skipped: string[] = report.skippedIds;
  const lastVersion: number | null = report.lastVersion;
  const whole: ReplayReport<Cart> = await store.replayAllReport({ reducer: evolve, initial: {} });

  // Upcasters: declare the old shape; the result is the current one.
  store.registerUpcaster("ItemAdded", 1, (data: { sku: Sku }, event) => ({ sku: data.sku, qty: event.schema }));
  store.registerUpcaster<"ItemRemoved", { id: Sku }, { code: Sku }>("ItemRemoved", 1, (data) => ({ code: data.id }));
  store.registerUpcaster("ItemRemoved", 2, (data: { code: Sku }) => ({ sku: data.code }));

  // A projection.
  const totals: Projection<Cart> = store.projection("cart-totals", { reducer: evolve, initial: {}, revision: 2, streams: ["cart-1"], snapshotEvery: 100 });
  const state: Cart = await totals.state();
  const rebuilt: Cart = await totals.rebuild();
  const unsubscribe: () => void = totals.subscribe((s) => console.log(Object.keys(s)));
  unsubscribe();
  const pm: ProjectionMetrics = totals.metrics();
  const snap: number | null = pm.snapshotPosition;
  const pmFields: [number, number, number, boolean, number, number] = [pm.replayedEvents, pm.position, pm.snapshotsWritten, pm.invalidatedSnapshot, pm.rebuilds, pm.revision];
  const pname: string = totals.name;
  totals.close();

  // Decide/evolve.
  const executed = await store.execute("cart-1", { add: "C3", qty: 1 } satisfies Command, {
    reducer: evolve,
    initial: {},
    decide: async (command, current) => decide(command, current),
    maxAttempts: 5,
    upcast: true,
  });
  const appendedOrNull: AppendResult | null = executed.appended;
  const built: number = executed.version + executed.attempts + Object.keys(executed.state).length;
  await store.execute("cart-1", { remove: "C3" } satisfies Command, { reducer: evolve, initial: {}, decide: () => null });

  // Sync: typed `Sync`, no `!`.
  const sync: Sync<CartEvent> = store.sync;
  const status: SyncStatus = await sync.now();
  const s: SyncStatus = sync.status();
  const statusFields = [s.online, s.paused, s.leader, s.pendingCount, s.pendingBytes, s.pendingStreamCount, s.oldestPendingAt, s.inFlight,
    s.conflictCount, s.deadLetterCount, s.lastSyncedAt, s.lastError?.status, s.lastError?.message, s.nextAttemptAt, s.stalled, s.auth];
  const offs: Array<() => void> = [
    sync.on("status", (st) => console.log(st.pendingCount)),
    sync.on("synced", (r: SyncReport) => console.log(r.pushed, r.pulled, r.requests)),
    sync.on("conflict", (r) => console.log(r.conflicted, r.deadLettered)),
    sync.on("error", (e) => console.log(explain(e))),
    sync.on("progress", (p: SyncProgress) => console.log(p.received, p.position / p.head)),
    sync.on("rebuild", (p) => console.log(`rebuilding from the server: ${p.head} events`)),
  ];
  sync.pause();
  sync.resume();
  sync.setToken("new");
  sync.setToken(null);
  await sync.acknowledged("e1");
  const outbox: OutboxEntry[] = await sync.outbox();
  for (const entry of outbox) {
    const due: number = entry.nextAttemptAt;
    const entryFields = [entry.stream, entry.pendingCount, entry.pendingBytes, entry.oldestPendingAt, entry.attempts, entry.leaseUntil, entry.lastError];
    void due, entryFields;
  }
  const conflicts: Conflict<CartEvent>[] = await sync.conflicts();
  for (const c of conflicts) {
    for (const r of c.remote) if (r.type === "ItemAdded") console.log(r.data.qty, r.meta?.user);
    await sync.resolveConflict(c.id, [{ type: "ItemRemoved", data: { sku: "A1" } }]);
    await sync.resolveConflict(c.id);
    const gone: boolean = await sync.discardConflict(c.id);
    void gone;
  }
  const letters: DeadLetter<CartEvent>[] = await sync.deadLetters();
  for (const l of letters) {
    const why: string = `${l.failure.status ?? "network"}: ${l.failure.message} at ${l.failedAt}`;
    if (!(await sync.retryDeadLetter(l.id))) await sync.discardDeadLetter(l.id);
    for (const e of l.events) if (e.type === "ItemAdded") console.log(e.data.sku, e.recordedAt, e.id, e.schema);
    void why;
  }

  // A file store (Node, Deno, Bun): a directory, each append fsynced unless relaxed; what
  // opening cut off a log a crash tore.
  const files = await EventStore.open<CartEvent>("carts", { storage: "file", directory: "./data", durability: "strict" });
  const cut: FileRecovery | null | undefined = files.recovery;
  if (cut) console.log(cut.offset, cut.bytes, cut.events ?? "unknown");

  // A store without sync, and an untyped one (JSON data, any type name).
  const local = await EventStore.open<CartEvent>("local", { storage: "memory" });
  const none: undefined = local.sync;
  const maybe = await EventStore.open("maybe", Math.random() > 0.5 ? { sync: { url: "https://example.com/v1/s" } } : {});
  await maybe.sync?.now();
  const untyped = await EventStore.open("untyped");
  await untyped.append("s", [{ type: "Anything", data: { any: ["json", 1, true, null] } }, { type: "NoData" }]);
  const json: Json = (await untyped.read("s"))[0]?.data ?? null;
  const plain: number = await untyped.replay("s", { reducer: (n, e) => (e.type === "Anything" ? n + 1 : n), initial: 0 });

  // Errors from a call.
  try {
    await store.append("cart-1", [{ type: "CartCleared", data: { reason: "retry" } }], { expectedVersion: 0 });
  } catch (caught) {
    console.log(explain(caught));
  }

  // Sign-out: every handle of the store closes, in every tab.
  const off: () => void = store.on("closed", (event: ClosedEvent) => {
    const reason: "close" | "deleted" | "versionchange" = event.reason;
    if (reason === "deleted") console.log("signed out elsewhere");
  });
  const options: DeleteStoreOptions = { force: false, storage: "indexeddb" };
  try {
    await EventStore.deleteStore("shop", options);
  } catch (caught) {
    if (caught instanceof UnsyncedEventsError) await EventStore.deleteStore("shop", { force: true });
  }
  await EventStore.deleteStore("logs", { storage: "file", directory: "/var/lib/app" });
  const wasClosed: boolean = store.closed;
  void wasClosed;
  off();

  store.close();
  store.free();

  // The sync server worker.
  const env: TidelogWorkerEnv = {
    TIDELOG_SPACES: { idFromName: (space: string) => space, get: () => ({ fetch: async () => new Response("{}") }) },
    TIDELOG_SYNC_TOKEN: undefined,
  };
  const response: Response = await worker.fetch(new Request("https://example.com/v1/s/events"), env);
  const parsed = parseSpacePath("/v1/s/events");
  const space: string = "space" in parsed ? `${parsed.space} ${parsed.base}` : String(parsed.response.status);
  const object = new TidelogSpace({ storage: {}, blockConcurrencyWhile: (body) => body() }, env);
  void object.fetch;

  // The front door a self-hosted server shares with the worker (tidelog/worker/front).
  const front = frontConfig({ TIDELOG_JWT_SECRET: "s".repeat(32), TIDELOG_CORS_ORIGINS: "https://app.example" });
  const hook: AuthorizeHook = async (_request, requested, access) =>
    requested === "mine" && access === "read" ? { ok: true, sub: "me" } : { ok: false, status: 403, response: new Response(null, { status: 403 }) };
  const admitted = await gate(new Request("https://example.com/v1/mine/events"), front, hook);
  const answered: Response = admitted.response ?? finish(new Response("{}"), admitted.cors);
  const line: string = logLine({ method: "GET", path: "/v1/mine/events", status: answered.status, ms: 1, sub: admitted.sub });

  void v, name, where, positions, qty, all, head, synced, counters, cart, items, total, counts, skipped, lastVersion, whole,
    state, rebuilt, snap, pmFields, pname, appendedOrNull, built, status, statusFields, offs, none, json, plain, response, space, line,
    describe;
}

// ---- tags, query reads and conditional appends -------------------------------------------
type UserEvent =
  | { type: "UsernameClaimed"; data: { username: string } }
  | { type: "UsernameReleased"; data: { username: string } };

export async function claimUsername(username: string, account: string): Promise<AppendResult | "taken"> {
  const store = await EventStore.open<UserEvent>("users", { storage: "memory" });
  const rule: Query = [{ types: ["UsernameClaimed", "UsernameReleased"], tags: [`username:${username}`] }];
  const seen = await store.query(rule);
  const last = seen.at(-1);
  const tags: readonly string[] = last === undefined ? [] : last.tags;
  void tags;
  if (last?.type === "UsernameClaimed") return "taken";
  const newest = await store.query("all", { backwards: true, limit: 1 });
  const condition: AppendCondition = { failIfEventsMatch: rule, after: newest.at(-1)?.position ?? 0 };
  try {
    return await store.append(
      `account-${account}`,
      [{ type: "UsernameClaimed", data: { username }, tags: [`username:${username}`, `account:${account}`] }],
      { condition },
    );
  } catch (e) {
    if (e instanceof AppendConditionError) return "taken";
    throw e;
  }
}

// ---- decisions as code, and their given/when/then tests ----------------------------------
type Claim = { username: string; account: string };

export async function claimWithModel(store: DecisionStore<UserEvent>, command: Claim): Promise<void> {
  const { state, condition } = await decisionModel(store, {
    taken: {
      query: [{ types: ["UsernameClaimed", "UsernameReleased"], tags: [`username:${command.username}`] }],
      initial: false,
      evolve: (_taken: boolean, e: TidelogEvent) => e.type === "UsernameClaimed",
    },
  });
  const taken: boolean = state.taken;
  if (taken) throw new Error("taken");
  const after: number = condition.after;
  void after;
  await store.append(`account-${command.account}`, [
    { type: "UsernameClaimed", data: { username: command.username }, tags: [`username:${command.username}`] },
  ], { condition });
}

export async function claimSpec(): Promise<void> {
  const given = specification<Claim, UserEvent>({
    store: () => EventStore.open<UserEvent>(`spec-${Math.random()}`, { storage: "memory" }),
    handle: (store, command) => claimWithModel(store, command),
  });
  const outcome: SpecOutcome<UserEvent> = await given([]).when({ username: "ada", account: "1" })
    .then([{ type: "UsernameClaimed", tags: ["username:ada"] }]);
  void outcome;
  await given([{ stream: "account-2", type: "UsernameClaimed", data: { username: "ada" }, tags: ["username:ada"] }])
    .when({ username: "ada", account: "1" })
    .then({ message: /taken/ });
  await given([]).when({ username: "bob", account: "1" }).then(AppendConditionError);
}
