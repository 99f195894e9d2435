// @ts-check
// The self-hosted server's embedded default (a `SpaceBackend`, js/server/space_store.js):
// every space in one append-only log file, for one machine and one server process, with
// no database to set up. Node, Deno and Bun all have node:fs, so the same code runs in
// each (SQLite is built into Bun and Deno but not into Node 20, the project's Node).
//
//   {dir}/tidelog.log   one JSON line per stored batch:
//                       {"space", "stream", "version", "position", "ids": [...], "bodies": [...]}
//                       (the first event's version and position; the others follow)
//   {dir}/lock          the pid of the process that has the directory open
//
// Opening reads the whole log into memory (indexes by stream, position and id); a push
// appends one line and fsyncs before it answers. A torn last line (a crash mid-write) is
// cut off at the next open; any other unreadable line stops the open (no guessing).
// Appends are atomic with respect to each other because each runs synchronously from
// check to write: the process is the only writer (the lock file sees to that).

import { closeSync, existsSync, statSync, fsyncSync, mkdirSync, openSync, readFileSync, ftruncateSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";

/**
 * @typedef {import("./space_store.js").SpaceStore} SpaceStore
 * @typedef {import("./space_store.js").SpaceBackend} SpaceBackend
 * @typedef {import("./space_store.js").Row} Row
 * @typedef {{ feed: Row[], byId: Map<string, Row>, streams: Map<string, Row[]> }} Space
 * @typedef {{ space: string, stream: string, version: number, position: number, ids: string[], bodies: string[] }} Batch
 */

const LOG = "tidelog.log";
const LOCK = "lock";

/**
 * Whether process `pid` is alive (signal 0 checks without sending anything).
 * @param {number} pid
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {{ code?: string }} */ (error).code === "EPERM";
  }
}

/**
 * Takes `{dir}/lock` for this process; throws when a live process holds it.
 * @param {string} file
 */
function takeLock(file) {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return;
    } catch (error) {
      if (/** @type {{ code?: string }} */ (error).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new Error(`${path.dirname(file)} is in use by process ${holder} (one server process per data directory)`);
      }
      unlinkSync(file); // a stale lock of a process that is gone
    }
  }
  throw new Error(`could not take ${file}`);
}

/**
 * Reads the log: the batches, and the length of its readable part.
 * @param {string} file
 * @returns {{ batches: Batch[], good: number, size: number }}
 */
function readLog(file) {
  if (!existsSync(file)) return { batches: [], good: 0, size: 0 };
  const bytes = readFileSync(file);
  const batches = [];
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(10, start);
    if (end < 0) break; // a torn last line: no newline yet
    const line = bytes.subarray(start, end).toString("utf8");
    let batch;
    try {
      batch = JSON.parse(line);
    } catch {
      if (end + 1 >= bytes.length) break; // a torn last line that happens to end in \n
      throw new Error(`${file}: line at byte ${start} is not JSON; the log is damaged`);
    }
    batches.push(batch);
    start = end + 1;
  }
  return { batches, good: start, size: bytes.length };
}

/**
 * The size of `file` in bytes.
 * @param {string} file
 */
function readLogSize(file) {
  return statSync(file).size;
}

/**
 * The file backend in directory `dir` (created when missing).
 * @param {string} dir
 * @returns {SpaceBackend & { dir: string }}
 */
export function fileStore(dir) {
  mkdirSync(dir, { recursive: true });
  const lockFile = path.join(dir, LOCK);
  takeLock(lockFile);
  const logFile = path.join(dir, LOG);
  /** @type {Map<string, Space>} */
  const spaces = new Map();
  /** @param {string} name */
  const spaceOf = (name) => {
    let found = spaces.get(name);
    if (!found) {
      found = { feed: [], byId: new Map(), streams: new Map() };
      spaces.set(name, found);
    }
    return found;
  };
  /** @param {Batch} batch */
  const apply = (batch) => {
    const space = spaceOf(batch.space);
    let rows = space.streams.get(batch.stream);
    if (!rows) space.streams.set(batch.stream, (rows = []));
    batch.ids.forEach((id, n) => {
      /** @type {Row} */
      const row = [batch.stream, batch.version + n, batch.position + n, /** @type {string} */ (batch.bodies[n])];
      space.feed.push(row);
      space.byId.set(id, row);
      /** @type {Row[]} */ (rows).push(row);
    });
  };
  let fd;
  try {
    const { batches, good, size } = readLog(logFile);
    for (const batch of batches) apply(batch);
    fd = openSync(logFile, "a");
    if (good < size) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
    }
  } catch (error) {
    unlinkSync(lockFile);
    throw error;
  }
  const log = fd;
  let size = Math.min(readLogSize(logFile), Number.MAX_SAFE_INTEGER);
  let closed = false;

  /**
   * @param {string} name
   * @returns {SpaceStore}
   */
  function space(name) {
    const get = () => {
      if (closed) throw new Error("the file store is closed");
      return spaces.get(name);
    };
    return {
      streamVersion(stream) {
        return get()?.streams.get(stream)?.length ?? 0;
      },
      eventsById(ids) {
        const found = get();
        return ids.map((id) => found?.byId.get(id) ?? null);
      },
      append(stream, expected, ids, bodies) {
        const found = get();
        const version = found?.streams.get(stream)?.length ?? 0;
        if (version !== expected) return { versionMoved: version };
        const taken = found && ids.find((id) => found.byId.has(id));
        if (taken !== undefined) return { idTaken: taken };
        const batch = { space: name, stream, version: expected + 1, position: (found?.feed.length ?? 0) + 1, ids, bodies };
        const line = Buffer.from(JSON.stringify(batch) + "\n", "utf8");
        try {
          writeSync(log, line);
          fsyncSync(log);
        } catch (error) {
          // A half-written line would damage the log for every later line: cut it off.
          try {
            ftruncateSync(log, size);
          } catch {}
          throw error;
        }
        size += line.length;
        apply(batch);
        return { position: batch.position };
      },
      readStream(stream, after, limit) {
        const rows = get()?.streams.get(stream) ?? [];
        return { version: rows.length, rows: rows.slice(after, after + limit) };
      },
      readFeed(after, limit) {
        const feed = get()?.feed ?? [];
        return { head: feed.length, rows: feed.slice(after, after + limit) };
      },
    };
  }

  return {
    dir,
    space,
    async close() {
      if (closed) return;
      closed = true;
      closeSync(log);
      unlinkSync(lockFile);
    },
  };
}
