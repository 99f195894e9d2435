// @ts-check
// The IndexedDB side of retention (src/web/indexeddb/retention.rs calls it inside one
// readwrite transaction over `events`, `streams` and `meta`): what is held (for the pure
// rule in src/store/retention.rs, which decides the new floor), then dropping the events
// below the floor and recording it in `meta["floor"]`. In JS because a loop of requests
// costs far fewer bytes here than as a Rust future.

/**
 * A request's result as a promise (resolved in its success event, so the transaction is
 * still active for the next request).
 * @template T
 * @param {{ result: T, error: unknown, onsuccess: unknown, onerror: unknown }} request an IDBRequest
 * @returns {Promise<T>}
 */
function settled(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * What retention needs to know of the held events (the fields of `Held` in
 * src/store/retention.rs; `null`: none).
 * @typedef {{ floor: number, next: number, nthNewest: number | null, firstYoung: number | null, oldestPending: number | null }} Held
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
  return {
    floor,
    next,
    nthNewest,
    firstYoung,
    oldestPending: oldest(firstPending.filter((p) => typeof p === "number").map(Number)),
  };
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
