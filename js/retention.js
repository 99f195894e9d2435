// @ts-check
// The IndexedDB side of retention (src/web/indexeddb/retention.rs calls it inside one
// readwrite transaction over `events`, `streams` and `meta`): what is held (for the pure
// rule in src/store/retention.rs, which decides the new floor), then dropping the events
// below the floor and recording it in `meta["floor"]`. In JS because a loop of requests
// costs far fewer bytes here than as a Rust future.

import { logPage, settled, streamPage } from "./idb.js";

/**
 * A page of the log read with the floor it is checked against, in one transaction:
 * `[floor, records, moves]`: retention's floor, up to `limit` events from position
 * `from` on (0: from the floor), and with `withMoves` the `meta["moves"]` record
 * (undefined without, or when nothing ever moved). With a start, the floor is read
 * alongside the records; the Rust side checks the start against it.
 * @param {any} events the `events` IDBObjectStore
 * @param {any} meta the `meta` IDBObjectStore
 * @param {number} from
 * @param {number} limit
 * @param {boolean} withMoves
 * @returns {Promise<[number, unknown[], unknown]>}
 */
export async function logRead(events, meta, from, limit, withMoves) {
  const floorRead = settled(meta.get("floor")).then(floorOf);
  const movesRead = withMoves ? settled(meta.get("moves")) : undefined;
  const page = from > 0 ? logPage(events, from, limit) : floorRead.then((floor) => logPage(events, floor, limit));
  return [await floorRead, await page, await movesRead];
}

/**
 * What retention needs to know of the held events, the fields of `Held` in
 * src/store/retention.rs in order: `[floor, next, nthNewest, firstYoung, oldestPending]`
 * (-1: none). Numbers only, so the Rust side reads them without field lookups.
 * @typedef {[number, number, number, number, number]} Held
 */

/**
 * The stored floor (1: nothing dropped yet) of a `meta["floor"]` record.
 * @param {unknown} record
 * @returns {number}
 */
export function floorOf(record) {
  const position = record && typeof record === "object" ? /** @type {{ position?: unknown }} */ (record).position : undefined;
  return typeof position === "number" && position >= 1 ? position : 1;
}

/**
 * The oldest pending position among stream heads `{ version, syncedVersion }` given the
 * positions of each pending stream's first pending event (`null`: nothing pending).
 * @param {number[]} firstPending
 * @returns {number | null}
 */
export function oldest(firstPending) {
  return firstPending.length === 0 ? null : Math.min(...firstPending);
}

/**
 * Reads what is held: the floor, the next position, the `n`-th newest held position
 * (`n` 0: not asked), the first held event recorded after `youngAfter` (-1: not asked),
 * and with `keepPending` the oldest pending event's position.
 * @param {any} events the `events` IDBObjectStore (readwrite transaction)
 * @param {any} streams the `streams` IDBObjectStore
 * @param {any} meta the `meta` IDBObjectStore
 * @param {number} n
 * @param {number} youngAfter
 * @param {boolean} keepPending
 * @returns {Promise<Held>}
 */
export async function retentionHeld(events, streams, meta, n, youngAfter, keepPending) {
  const [floorRecord, headRecord, heads] = await Promise.all([
    settled(meta.get("floor")),
    settled(meta.get("head")),
    keepPending ? settled(streams.getAll()) : Promise.resolve([]),
  ]);
  const floor = floorOf(floorRecord);
  const head = /** @type {{ position?: number } | undefined} */ (headRecord);
  const next = (head?.position ?? 0) + 1;
  const from = IDBKeyRange.lowerBound(floor);
  /** @type {number | null} */
  let nthNewest = null;
  if (n > 0) {
    // Newest first: skip n - 1 keys; the one there is the n-th newest.
    nthNewest = await new Promise((resolve, reject) => {
      const cursor = events.openKeyCursor(from, "prev");
      let skipped = false;
      cursor.onerror = () => reject(cursor.error);
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return resolve(null);
        if (n > 1 && !skipped) {
          skipped = true;
          return c.advance(n - 1);
        }
        resolve(c.key);
      };
    });
  }
  /** @type {number | null} */
  let firstYoung = null;
  if (youngAfter >= 0) {
    firstYoung = await new Promise((resolve, reject) => {
      const cursor = events.openCursor(from);
      cursor.onerror = () => reject(cursor.error);
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return resolve(null);
        if (c.value.recordedAt > youngAfter) return resolve(c.key);
        c.continue();
      };
    });
  }
  const byStream = events.index("by_stream");
  const pending = /** @type {{ stream: string, version: number, syncedVersion?: number }[]} */ (heads)
    .filter((h) => (h.syncedVersion ?? 0) < h.version)
    .map((h) => settled(byStream.getKey([h.stream, (h.syncedVersion ?? 0) + 1])));
  const firstPending = /** @type {(number | undefined)[]} */ (await Promise.all(pending));
  const pendingAt = oldest(firstPending.filter((p) => typeof p === "number").map(Number));
  return [floor, next, nthNewest ?? -1, firstYoung ?? -1, pendingAt ?? -1];
}

/**
 * The floor as a read's transaction sees it (`meta["floor"]`, 1 when nothing was dropped).
 * @param {any} meta the `meta` IDBObjectStore
 * @returns {Promise<number>}
 */
export async function readFloor(meta) {
  return floorOf(await settled(meta.get("floor")));
}

/**
 * What a stream read needs, in its transaction: `[floor, head, heldFrom, records?]`, the
 * floor, the stream's version (looked up when `needHead` or when events were dropped;
 * else 0) and its lowest held version (its first record's; head + 1 when none is held; 0
 * when nothing was dropped). Given a forward page `[low, high]` (`low` 0: none), its
 * records are asked for with the floor, in the same round, and come fourth when the floor
 * is 1: a log that was never cut needs no bound to read that page. Once events were
 * dropped that page is not the caller's (its range then depends on the bounds): it is
 * left out.
 * @param {any} events the `events` IDBObjectStore
 * @param {any} streams the `streams` IDBObjectStore
 * @param {any} meta the `meta` IDBObjectStore
 * @param {string} stream
 * @param {boolean} needHead
 * @param {number} low
 * @param {number} high
 * @returns {Promise<[number, number, number, (unknown[] | undefined)?]>}
 */
export async function streamBounds(events, streams, meta, stream, needHead, low, high) {
  const floorRead = settled(meta.get("floor"));
  const headOf = () => settled(streams.get(stream)).then((h) => /** @type {{ version?: number } | undefined} */ (h)?.version ?? 0);
  const headRead = needHead ? headOf() : null;
  const page = low > 0 ? streamPage(events, stream, low, high, false) : null;
  // Marked handled: when it is not awaited below, its failure is the transaction's,
  // which the caller hears of.
  page?.catch(() => {});
  const floor = floorOf(await floorRead);
  if (floor === 1) return [1, headRead ? await headRead : 0, 0, page ? await page : undefined];
  const all = IDBKeyRange.bound([stream, 0], [stream, Number.MAX_SAFE_INTEGER]);
  const first = settled(events.index("by_stream").getAll(all, 1));
  const head = await (headRead ?? headOf());
  const held = /** @type {{ version: number }[]} */ (await first);
  return [floor, head, held.length > 0 ? held[0].version : head + 1];
}

/**
 * Drops the events at positions `[from, to)` and records `to` as the floor; resolves to
 * how many were dropped.
 * @param {any} events the `events` IDBObjectStore (readwrite transaction)
 * @param {any} meta the `meta` IDBObjectStore
 * @param {number} from
 * @param {number} to
 * @returns {Promise<number>}
 */
export async function retentionDrop(events, meta, from, to) {
  if (to <= from) return 0;
  const range = IDBKeyRange.bound(from, to, false, true);
  const dropped = /** @type {number} */ (await settled(events.count(range)));
  events.delete(range);
  await settled(meta.put({ position: to }, "floor"));
  return dropped;
}
