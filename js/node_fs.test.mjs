// Unit tests of js/node_fs.js (the file store's disk calls) on real files in a temp dir.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as nfs from "./node_fs.js";

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "tidelog-nodefs-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test("createNew creates once, then reports the file exists", () => {
  const t = tempDir();
  try {
    const path = join(t.dir, "a", "b");
    nfs.makeDir(join(t.dir, "a"));
    assert.equal(nfs.createNew(path, new TextEncoder().encode("42")), true);
    assert.equal(nfs.createNew(path, new TextEncoder().encode("43")), false);
    assert.equal(new TextDecoder().decode(nfs.readSmall(path)), "42");
    nfs.removeFile(path);
    nfs.removeFile(path);
    assert.equal(nfs.readSmall(path), undefined);
  } finally {
    t[Symbol.dispose]();
  }
});

test("append, read at an offset, truncate, sync", () => {
  const t = tempDir();
  try {
    const path = join(t.dir, "log");
    writeFileSync(path, "ab");
    const fd = nfs.openAppend(path);
    nfs.appendBytes(fd, new Uint8Array([99, 100, 101]));
    assert.equal(nfs.fileSize(fd), 5);
    const buf = new Uint8Array(10);
    assert.equal(nfs.readAt(fd, 1, buf), 4);
    assert.deepEqual([...buf.subarray(0, 4)], [98, 99, 100, 101]);
    assert.equal(nfs.readAt(fd, 5, buf), 0, "0 at the end");
    nfs.truncateFile(fd, 3);
    nfs.appendBytes(fd, new Uint8Array([120]));
    nfs.syncFile(fd);
    nfs.syncDir(t.dir);
    assert.equal(nfs.fileSize(fd), 4, "appends go to the new end after a cut");
    nfs.closeFile(fd);
    nfs.closeFile(fd);
    assert.throws(() => nfs.openAppend(join(t.dir, "missing", "log")), (e) => nfs.errorCode(e) === "ENOENT");
  } finally {
    t[Symbol.dispose]();
  }
});

test("pathExists; removeEmptyDir removes an empty directory and leaves a missing or non-empty one", () => {
  const t = tempDir();
  try {
    const empty = join(t.dir, "empty");
    const full = join(t.dir, "full");
    nfs.makeDir(empty);
    nfs.makeDir(full);
    writeFileSync(join(full, "keep"), "x");
    assert.equal(nfs.pathExists(empty), true);
    assert.equal(nfs.pathExists(join(full, "keep")), true);
    nfs.removeEmptyDir(empty);
    assert.equal(nfs.pathExists(empty), false);
    nfs.removeEmptyDir(empty);
    nfs.removeEmptyDir(full);
    assert.equal(nfs.pathExists(join(full, "keep")), true);
    assert.throws(() => nfs.removeEmptyDir(join(full, "keep")), { code: "ENOTDIR" });
  } finally {
    t[Symbol.dispose]();
  }
});

test("processAlive tells a running process from one that exited", () => {
  assert.equal(nfs.processAlive(nfs.processId()), true);
  const child = spawnSync(process.execPath, ["-e", "process.exit(0)"]);
  assert.equal(nfs.processAlive(child.pid), false);
});
