// @ts-check
/// <reference types="node" />
// The file store's disk calls in Node, Deno and Bun (all three implement node:fs): the
// host side of the `FileSystem` port (src/store/file/mod.rs), imported by
// src/web/node_fs.rs in the package's Node build only (feature `file`), never by the
// browser's. Every call is synchronous: one append is one write (and one fsync), with no
// promise between the write and its acknowledgement. Failures throw node:fs's own
// errors (`code` such as "ENOENT", "ENOSPC"); the Rust side reads their code.

import * as fs from "node:fs";
import process from "node:process";

/**
 * Creates a directory and its missing parents.
 * @param {string} path
 */
export function makeDir(path) {
  fs.mkdirSync(path, { recursive: true });
}

/**
 * Creates `path` only if it does not exist, with `contents`; false when it exists.
 * @param {string} path
 * @param {Uint8Array} contents
 * @returns {boolean}
 */
export function createNew(path, contents) {
  try {
    fs.writeFileSync(path, contents, { flag: "wx" });
    return true;
  } catch (e) {
    if (errorCode(e) === "EEXIST") return false;
    throw e;
  }
}

/**
 * A small file's bytes; undefined when it does not exist.
 * @param {string} path
 * @returns {Uint8Array | undefined}
 */
export function readSmall(path) {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Removes a file; a missing one is not an error.
 * @param {string} path
 */
export function removeFile(path) {
  fs.rmSync(path, { force: true });
}

/**
 * Whether `path` exists (a file or a directory).
 * @param {string} path
 * @returns {boolean}
 */
export function pathExists(path) {
  return fs.existsSync(path);
}

/**
 * Removes an empty directory; one that is missing or not empty is left as it is.
 * @param {string} path
 */
export function removeEmptyDir(path) {
  try {
    fs.rmdirSync(path);
  } catch (e) {
    if (!["ENOENT", "ENOTEMPTY", "EEXIST"].includes(errorCode(e) ?? "")) throw e;
  }
}

/**
 * Renames `from` to `to`, replacing `to` atomically (a compaction's new log).
 * @param {string} from
 * @param {string} to
 */
export function renameFile(from, to) {
  fs.renameSync(from, to);
}

/**
 * Opens a file for reading and appending (created when missing); its descriptor.
 * @param {string} path
 * @returns {number}
 */
export function openAppend(path) {
  return fs.openSync(path, "a+");
}

/**
 * The file's length in bytes.
 * @param {number} fd
 * @returns {number}
 */
export function fileSize(fd) {
  return fs.fstatSync(fd).size;
}

/**
 * Reads into `buf` from file offset `offset`; the bytes read (0 at the end).
 * @param {number} fd
 * @param {number} offset
 * @param {Uint8Array} buf
 * @returns {number}
 */
export function readAt(fd, offset, buf) {
  return fs.readSync(fd, buf, 0, buf.length, offset);
}

/**
 * Writes all of `bytes` at the end of the file (opened for appending).
 * @param {number} fd
 * @param {Uint8Array} bytes
 */
export function appendBytes(fd, bytes) {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done);
  }
}

/**
 * Cuts the file to `len` bytes.
 * @param {number} fd
 * @param {number} len
 */
export function truncateFile(fd, len) {
  fs.ftruncateSync(fd, len);
}

/**
 * Flushes the file's data to the disk (fdatasync; fsync where a runtime lacks it).
 * @param {number} fd
 */
export function syncFile(fd) {
  if (typeof fs.fdatasyncSync === "function") fs.fdatasyncSync(fd);
  else fs.fsyncSync(fd);
}

/**
 * Flushes a directory's entries (a new file's name) to the disk. Where directories cannot
 * be opened or synced (Windows), there is nothing to do.
 * @param {string} path
 */
export function syncDir(path) {
  let fd;
  try {
    fd = fs.openSync(path, "r");
    fs.fsyncSync(fd);
  } catch (e) {
    if (!["EISDIR", "EPERM", "EINVAL", "EBADF", "EACCES"].includes(errorCode(e) ?? "")) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Closes a file descriptor (an error closing it is not reported: the data is written).
 * @param {number} fd
 */
export function closeFile(fd) {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
}

/** This process's id. @returns {number} */
export function processId() {
  return process.pid;
}

/**
 * Whether a process with this id runs (signal 0 only checks; EPERM: it runs as someone
 * else).
 * @param {number} pid
 * @returns {boolean}
 */
export function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === "EPERM";
  }
}

/**
 * The `code` of a node:fs error, if it has one.
 * @param {unknown} e
 * @returns {string | undefined}
 */
export function errorCode(e) {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") {
    return e.code;
  }
  return undefined;
}
