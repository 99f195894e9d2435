// @ts-check
// The interface between the self-hosted server's Rust core and its databases
// (src/web/space_store.rs calls these methods): one space's storage. Implemented by
// js/server/pg_store.js (PostgreSQL) and js/server/file_store.js (a log file).
//
// A row is `[stream, version, position, body]`: `body` is the event as pushed, JSON text
// (`{id, type, data, meta, recordedAt, schema}`), kept byte for byte. Versions and
// positions are numbers (at most 2^53 - 1). Every method may return a promise.

/**
 * One stored event.
 * @typedef {[stream: string, version: number, position: number, body: string]} Row
 */

/**
 * What `append` did: stored at positions `position ..` (versions `expected + 1 ..`), or
 * nothing written because the stream is at another version, or an id is already stored.
 * @typedef {{ position: number } | { versionMoved: number } | { idTaken: string }} AppendOutcome
 */

/**
 * One space's storage.
 * @typedef {object} SpaceStore
 * @property {(stream: string) => Promise<number> | number} streamVersion the stream's version (0 when empty)
 * @property {(ids: string[]) => Promise<(Row | null)[]> | (Row | null)[]} eventsById the rows of these ids, in order (`null`: unknown)
 * @property {(stream: string, expected: number, ids: string[], bodies: string[]) => Promise<AppendOutcome> | AppendOutcome} append
 *   ATOMIC, and serialized with every other append to the space (by the database, not
 *   by process memory): when the stream is at `expected` and no id is stored, stores the
 *   events at versions `expected + 1 ..` and the next feed positions
 * @property {(stream: string, after: number, limit: number) => Promise<{ version: number, rows: Row[] }> | { version: number, rows: Row[] }} readStream
 *   the stream's version and up to `limit` rows with versions above `after`, ascending, as one snapshot
 * @property {(after: number, limit: number) => Promise<{ head: number, rows: Row[] }> | { head: number, rows: Row[] }} readFeed
 *   the feed head (last position, 0 when empty) and up to `limit` rows with positions above `after`, as one snapshot
 */

/**
 * A database holding any number of spaces.
 * @typedef {object} SpaceBackend
 * @property {(space: string) => SpaceStore} space the store of one space (cheap: called per request)
 * @property {() => Promise<void>} close releases what the backend opened itself
 */

export {};
