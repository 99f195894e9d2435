// A consumer of every tidelog API, type-checked with `tsc --noEmit --strict` against the
// installed tarball (tests/js/package.test.mjs) or pkg-template/tidelog.d.ts
// (`npx tsc -p tests/types`). Nothing here runs; `@ts-expect-error` lines prove misuse
// is refused.
import init, {
  EventStore, initSync, version,
  type AppendResult, type Conflict, type DeadLetter, type ExpectedVersion, type NewEvent,
  type OutboxEntry, type Projection, type ProjectionStats, type ReplayReport, type StreamInfo,
  type Sync, type SyncError, type SyncReport, type SyncStatus, TidelogError, type TidelogEvent,
  VersionConflictError,
} from "tidelog";
import worker, { TidelogSpace, type TidelogWorkerEnv } from "tidelog/worker";

type Item = { sku: string; qty: number };
type Meta = { user: string };
type CartEvent =
  | (TidelogEvent<Item> & { type: "ItemAdded" })
  | (TidelogEvent<{ sku: string }> & { type: "ItemRemoved" });

export async function everything(): Promise<void> {
  await init();
  await init({ module_or_path: new URL("https://example.com/tidelog_bg.wasm") });
  initSync({ module: new Uint8Array(8) });
  const v: string = version();

  const store = await EventStore.open("shop", { storage: "auto", durability: "relaxed" });
  const name: string = store.name;
  const where: "indexeddb" | "memory" = store.storage;
  // @ts-expect-error: not a storage kind
  await EventStore.open("x", { storage: "disk" });
  // @ts-expect-error: options are checked (a misspelt option is refused at run time too)
  await EventStore.open("x", { durabilty: "strict" });

  const events: NewEvent<Item, Meta>[] = [{ type: "ItemAdded", data: { sku: "A1", qty: 1 }, meta: { user: "u" }, id: "e1", schema: 1 }];
  const expected: ExpectedVersion[] = [0, "any", "no_stream", "exists"];
  const appended: AppendResult = await store.append("cart-1", events, { expectedVersion: expected[0] });
  const last: number = appended.lastPosition + appended.firstPosition + appended.firstVersion + appended.lastVersion;
  // @ts-expect-error: not an expected version
  await store.append("cart-1", events, { expectedVersion: "latest" });

  const read = await store.read<Item, Meta>("cart-1", { fromVersion: 1, limit: 10, direction: "backward", upcast: true });
  const first: TidelogEvent<Item, Meta> | undefined = read[0];
  if (first) {
    const qty: number = first.data.qty;
    const user: string | undefined = first.meta?.user;
    const fields: [string, string, number, number, string, number, number] =
      [first.id, first.stream, first.version, first.position, first.type, first.recordedAt, first.schema];
    void qty, user, fields;
  }
  const all: TidelogEvent[] = await store.readAll({ fromPosition: 1, limit: 100, upcast: false });
  const version1: number = await store.version("cart-1");
  const streams: StreamInfo[] = await store.streams();
  const synced: number | undefined = streams[0]?.syncedVersion;
  const stop: () => void = store.subscribe<Item>((e) => console.log(e.data.sku), { fromPosition: 1 });
  stop();
  const m = store.metrics();
  const counters: number[] = [m.appends, m.eventsWritten, m.bytesWritten, m.idempotentAppends, m.conflicts, m.reads, m.eventsRead];

  // Replay: the state, or a report.
  const count: number = await store.replay("cart-1", (n: number) => n + 1, 0);
  const total: number = await store.replay<number, CartEvent>(null, (n, e) => (e.type === "ItemAdded" ? n + e.data.qty : n), 0, {
    fromPosition: 1, toPosition: 10, upcast: true, onError: "skip", pageSize: 500,
  });
  const report: ReplayReport<string[]> = await store.replay("cart-1", (s: string[], e) => [...s, e.id], [], { report: true, toVersion: 3, fromVersion: 1 });
  const skipped: string[] = report.skipped.ids;
  const lastVersion: number | null = report.lastVersion;
  // @ts-expect-error: the reducer must return the state's type
  await store.replay("cart-1", (n: number) => String(n), 0);

  store.upcast<{ sku: string }, Item>("ItemAdded", 1, (data, event) => ({ sku: data.sku, qty: event.schema }));

  const projection: Projection<Record<string, number>> = store.projection("cart-totals", {
    initial: {} as Record<string, number>,
    reducer: (s, e) => ({ ...s, [e.stream]: (s[e.stream] ?? 0) + 1 }),
    version: 2, streams: ["cart-1"], snapshotEvery: 100,
  });
  const state: Record<string, number> = await projection.state();
  const rebuilt: Record<string, number> = await projection.rebuild();
  const unsubscribe: () => void = projection.subscribe((s) => console.log(Object.keys(s)));
  unsubscribe();
  const stats: ProjectionStats = projection.stats();
  const snap: number | null = stats.snapshotPosition;
  const pname: string = projection.name;
  projection.close();

  const executed = await store.execute<{ items: number }, { add: string }>("cart-1", { add: "B2" }, {
    initial: { items: 0 },
    reducer: (s, e) => (e.type === "ItemAdded" ? { items: s.items + 1 } : s),
    decide: async (command, s) => (s.items < 10 ? [{ type: "ItemAdded", data: { sku: command.add, qty: 1 } }] : []),
    maxAttempts: 5,
    upcast: true,
  });
  const appendedOrNull: AppendResult | null = executed.appended;
  const items: number = executed.state.items + executed.version + executed.attempts;

  // Sync.
  const online = await EventStore.open("synced", {
    sync: {
      url: "https://example.com/v1/space", token: "t", pollMs: 5000, timeoutMs: 10000, stallMs: 60000, batchSize: 50, paused: false,
      onConflict: async (conflict: Conflict) => (conflict.local.length > 1 ? conflict.local.map(({ type, data }) => ({ type, data })) : null),
    },
  });
  await EventStore.open("q", { sync: { url: "https://example.com/v1/space", onConflict: "quarantine" } });
  const sync: Sync | undefined = online.sync;
  if (sync) {
    const status: SyncStatus = await sync.now();
    const s2: SyncStatus = sync.status();
    const fields = [status.online, status.paused, status.leader, status.pending, status.pendingBytes, status.oldestPendingAge, status.pendingStreams, status.inFlight,
      status.conflicts, status.deadLetters, status.lastSyncedAt, status.lastError?.status, status.nextRetryAt, status.stalled, s2.auth];
    const offs: Array<() => void> = [
      sync.on("status", (s: SyncStatus) => console.log(s.pending)),
      sync.on("synced", (r: SyncReport) => console.log(r.pushed, r.pulled, r.requests)),
      sync.on("conflict", (r: SyncReport) => console.log(r.conflicted, r.deadLettered)),
      sync.on("error", (e) => {
        if (e.name === "SyncError") console.log(e.code, e.status);
        else console.log(e.code);
      }),
    ];
    // @ts-expect-error: not a sync event
    sync.on("progress", () => {});
    sync.pause();
    sync.resume();
    sync.setToken("new");
    sync.setToken(null);
    await sync.acknowledged("e1");
    const outbox: OutboxEntry[] = await sync.pending();
    const conflicts: Conflict[] = await sync.conflicts();
    const letters: DeadLetter[] = await sync.deadLetters();
    for (const c of conflicts) {
      const remote: TidelogEvent[] = c.remote;
      await sync.resolveConflict(c.id, [{ type: "Merged", data: remote.length }]);
      await sync.resolveConflict(c.id);
      const gone: boolean = await sync.discardConflict(c.id);
      void gone;
    }
    for (const l of letters) {
      const why: string = l.failure.message;
      if (!(await sync.retryDeadLetter(l.id))) await sync.discardDeadLetter(l.id);
      void why, l.events[0]?.recordedAt;
    }
    void fields, offs, outbox;
  }

  // Errors: discriminate on `name`.
  try {
    await store.append("cart-1", events, { expectedVersion: 0 });
  } catch (caught) {
    const e = caught as TidelogError;
    switch (e.name) {
      case "VersionConflictError": {
        const c: VersionConflictError = e;
        const at: [string, ExpectedVersion, number] = [c.stream, c.expectedVersion, c.actualVersion];
        void at;
        break;
      }
      case "InvalidInputError": console.log(e.field); break;
      case "StorageError": console.log(e.cause.name, e.cause.message); break;
      case "ReplayError": console.log(e.position, e.eventId, e.stream, e.version, e.type, e.cause); break;
      case "QuotaExceededError": case "ClosedError": console.log(e.code, e.message); break;
    }
  }
  // Errors: or by class.
  try {
    await store.append("cart-1", events, { expectedVersion: 0 });
  } catch (caught) {
    if (caught instanceof VersionConflictError) {
      const actual: number = caught.actualVersion;
      void actual;
    } else if (caught instanceof TidelogError) {
      const name: string = caught.name;
      void name;
    }
  }
  const syncError = {} as SyncError;
  const code: "network" | "auth" | "stalled" = syncError.code;

  store.close();
  store.free();

  // The sync server worker.
  const env = {} as TidelogWorkerEnv;
  const response: Response = await worker.fetch(new Request("https://example.com/v1/s/events"), env);
  const space = new TidelogSpace({ storage: {} }, env);
  void space.fetch;

  void v, name, where, last, all, version1, synced, counters, count, total, skipped, lastVersion, state, rebuilt,
    snap, pname, appendedOrNull, items, code, response;
}
