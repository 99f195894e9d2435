// Misuse the declarations must refuse, compiled with consumer.ts: every
// `@ts-expect-error` line below has to be an error, or tsc fails ("Unused
// '@ts-expect-error' directive"). One misuse per directive.
import { EventStore, TidelogError, type NewEvent } from "tidelog";
import type { CartEvent } from "./consumer.js";

export async function misuse(): Promise<void> {
  const store = await EventStore.open<CartEvent>("shop", { sync: { url: "https://example.com/v1/shop" } });
  const local = await EventStore.open<CartEvent>("local");
  const untyped = await EventStore.open("untyped");

  // ---- events: the data must match the type --------------------------------------------
  // @ts-expect-error: ItemAdded's data needs qty
  await store.append("c", [{ type: "ItemAdded", data: { sku: "A1" } }]);
  // @ts-expect-error: qty is a number
  await store.append("c", [{ type: "ItemAdded", data: { sku: "A1", qty: "2" } }]);
  // @ts-expect-error: ItemRemoved's data has no qty
  await store.append("c", [{ type: "ItemRemoved", data: { sku: "A1", qty: 1 } }]);
  // @ts-expect-error: not an event type of CartEvent
  await store.append("c", [{ type: "ItemDeleted", data: { sku: "A1" } }]);
  // @ts-expect-error: data is required when the shape declares it
  await store.append("c", [{ type: "ItemRemoved" }]);
  // @ts-expect-error: CheckedOut declares no data
  await store.append("c", [{ type: "CheckedOut", data: { at: 1 } }]);
  // @ts-expect-error: ItemAdded's meta is { user }
  await store.append("c", [{ type: "ItemAdded", data: { sku: "A1", qty: 1 }, meta: { by: "x" } }]);
  // @ts-expect-error: not an event field
  await store.append("c", [{ type: "ItemRemoved", data: { sku: "A1" }, version: 3 }]);
  // @ts-expect-error: a Date is not JSON (untyped stores take JSON data)
  await untyped.append("c", [{ type: "Dated", data: { when: new Date() } }]);
  // @ts-expect-error: not an expected version
  await store.append("c", [], { expectedVersion: "latest" });
  // @ts-expect-error: a NewEvent of CartEvent with another type's data
  const wrong: NewEvent<CartEvent> = { type: "ItemRemoved", data: { sku: "A1", qty: 1 } };
  void wrong;

  // ---- stored events narrow on `type` ---------------------------------------------------------
  for (const e of await store.read("c")) {
    // @ts-expect-error: qty exists only on ItemAdded (not narrowed yet)
    void e.data.qty;
    if (e.type === "ItemRemoved") {
      // @ts-expect-error: ItemRemoved has no qty
      void e.data.qty;
    }
    // @ts-expect-error: never a CartEvent type
    if (e.type === "ItemDeleted") void e;
  }
  store.subscribe((e) => {
    // @ts-expect-error: data may be CartCleared's (null)
    void e.data.sku;
  });

  // ---- options: unknown keys, old names, wrong values ------------------------------------------
  // @ts-expect-error: misspelt option (refused at run time too)
  await EventStore.open("x", { durabilty: "strict" });
  // @ts-expect-error: not a storage kind
  await EventStore.open("x", { storage: "disk" });
  // @ts-expect-error: a directory is a path string
  await EventStore.open("x", { storage: "file", directory: 1 });
  // @ts-expect-error: not a sync option
  await EventStore.open("x", { sync: { url: "https://example.com/v1/x", retries: 3 } });
  // @ts-expect-error: the sync url is required
  await EventStore.open("x", { sync: { token: "t" } });
  // @ts-expect-error: a pulled prefix is a string
  await EventStore.open("x", { sync: { url: "https://example.com/v1/x", pull: { prefixes: [1] } } });
  // @ts-expect-error: pull names streams, not a single one
  await EventStore.open("x", { sync: { url: "https://example.com/v1/x", pull: { stream: "cart-1" } } });
  // @ts-expect-error: not a read option
  await store.read("c", { toVersion: 3 });
  // @ts-expect-error: null is not a read option value (undefined is)
  await store.read("c", { limit: null });
  // @ts-expect-error: the `report` option is gone: replayReport
  await store.replay("c", { reducer: (n: number) => n, initial: 0, report: true });
  // @ts-expect-error: fromPosition is for whole-log replays
  await store.replay("c", { reducer: (n: number) => n, initial: 0, fromPosition: 1 });
  // @ts-expect-error: toVersion is for stream replays
  await store.replayAll({ reducer: (n: number) => n, initial: 0, toVersion: 3 });
  // @ts-expect-error: the 0.1 positional form
  await store.replay("c", (n: number) => n, 0);
  // @ts-expect-error: the whole log is replayAll, not replay(null, ...)
  await store.replay(null, { reducer: (n: number) => n, initial: 0 });
  // @ts-expect-error: the reducer must return the state's type
  await store.replay("c", { reducer: (n: number) => String(n), initial: 0 });
  // @ts-expect-error: the initial state must be the reducer's state type
  await store.replayAll({ reducer: (n: number) => n + 1, initial: "0" });
  // @ts-expect-error: a report is its own call, with its own shape (no `events` count)
  void (await store.replayReport("c", { reducer: (n: number) => n, initial: 0 })).events;
  // @ts-expect-error: projections take `revision`, not `version`
  store.projection("p", { reducer: (n: number) => n, initial: 0, version: 2 });
  // @ts-expect-error: execute's decide returns events of CartEvent
  await store.execute("c", 1, { reducer: (n: number) => n, initial: 0, decide: () => [{ type: "Other", data: 1 }] });
  // @ts-expect-error: an upcaster returns the current data of its type
  store.registerUpcaster("ItemAdded", 1, (data: { sku: string }) => ({ sku: data.sku }));
  // @ts-expect-error: not an event type of CartEvent
  store.registerUpcaster("ItemDeleted", 1, (data: { sku: string }) => data);

  // ---- 0.1 names --------------------------------------------------------------------------------
  // @ts-expect-error: upcast() is registerUpcaster()
  store.upcast("ItemAdded", 1, (data: unknown) => data);
  // @ts-expect-error: stats() is metrics()
  store.projection("p", { reducer: (n: number) => n, initial: 0 }).stats();
  // @ts-expect-error: pending() is outbox()
  await store.sync.pending();
  // @ts-expect-error: SyncStatus.pending is pendingCount
  void store.sync.status().pending;
  // @ts-expect-error: SyncStatus.nextRetryAt is nextAttemptAt
  void store.sync.status().nextRetryAt;
  // @ts-expect-error: SyncStatus.oldestPendingAge is oldestPendingAt
  void store.sync.status().oldestPendingAge;
  // @ts-expect-error: SyncStatus.conflicts is conflictCount
  void store.sync.status().conflicts;
  // @ts-expect-error: OutboxEntry.pending is pendingCount
  void (await store.sync.outbox())[0]?.pending;
  // @ts-expect-error: Conflict.at is detectedAt
  void (await store.sync.conflicts())[0]?.at;
  // @ts-expect-error: DeadLetter.at is failedAt
  void (await store.sync.deadLetters())[0]?.at;

  // ---- sync ---------------------------------------------------------------------------------------
  // @ts-expect-error: a store opened without sync has no sync
  await local.sync.now();
  const options = { url: "https://example.com/v1/s" };
  const maybe = await EventStore.open("maybe", Math.random() > 0.5 ? { sync: options } : {});
  // @ts-expect-error: sync is possibly undefined when the options may lack it
  await maybe.sync.now();
  // @ts-expect-error: not a sync event
  store.sync.on("drained", () => {});
  // @ts-expect-error: an `error` detail is unknown until narrowed (an onConflict function may throw anything)
  store.sync.on("error", (e) => e.code);
  // @ts-expect-error: a resolver answers events or "quarantine"; null no longer drops the local events
  await EventStore.open<CartEvent>("r", { sync: { url: "https://example.com/v1/r", onConflict: () => null } });
  // @ts-expect-error: a resolver's events are CartEvents
  await EventStore.open<CartEvent>("r", { sync: { url: "https://example.com/v1/r", onConflict: () => [{ type: "Other" }] } });
  // @ts-expect-error: resolveConflict takes CartEvents
  await store.sync.resolveConflict(1, [{ type: "ItemAdded", data: { sku: "A1" } }]);

  // ---- deleting a store --------------------------------------------------------------------------
  // @ts-expect-error: force is a boolean
  await EventStore.deleteStore("shop", { force: "yes" });
  // @ts-expect-error: not an option of deleteStore
  await EventStore.deleteStore("shop", { sync: { url: "https://example.com/v1/shop" } });
  // @ts-expect-error: the store's only event is "closed" (sync events are on store.sync)
  store.on("status", () => {});
  // @ts-expect-error: closed's reason is one of three
  store.on("closed", (event) => { if (event.reason === "evicted") void event; });
  // @ts-expect-error: closed is read-only
  store.closed = true;

  // ---- errors --------------------------------------------------------------------------------------
  try {
    await store.append("c", []);
  } catch (caught) {
    // @ts-expect-error: a caught value is unknown until narrowed
    void caught.code;
    if (caught instanceof TidelogError) {
      // @ts-expect-error: only VersionConflictError has actualVersion
      void caught.actualVersion;
      // @ts-expect-error: not a tidelog error code
      if (caught.code === "no_such_code") void caught;
    }
  }
}
