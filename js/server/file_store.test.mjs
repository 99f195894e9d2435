// The embedded default's log file (js/server/file_store.js), without wasm: what a
// push stores survives a reopen, a torn last line is cut off, a damaged line stops the
// open, and a second live process cannot open the same directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileStore } from "./file_store.js";

function tempDir() {
  return mkdtempSync(path.join(tmpdir(), "tidelog-file-store-"));
}

const body = (id) => JSON.stringify({ id, type: "T", data: { id }, recordedAt: 1 });

test("append assigns versions and positions per space; checks version and ids; reads page", async () => {
  const dir = tempDir();
  try {
    const store = fileStore(dir);
    const shop = store.space("shop");
    assert.deepEqual(shop.append("a", 0, ["i1", "i2"], [body("i1"), body("i2")]), { position: 1 });
    assert.deepEqual(shop.append("b", 0, ["i3"], [body("i3")]), { position: 3 });
    assert.deepEqual(shop.append("a", 0, ["i4"], [body("i4")]), { versionMoved: 2 });
    assert.deepEqual(shop.append("a", 2, ["i4", "i3"], [body("i4"), body("i3")]), { idTaken: "i3" });
    assert.deepEqual(store.space("other").append("a", 0, ["i1"], [body("i1")]), { position: 1 }, "ids are per space");
    assert.equal(shop.streamVersion("a"), 2);
    assert.equal(shop.streamVersion("nope"), 0);
    assert.deepEqual(shop.eventsById(["i3", "x", "i1"]), [["b", 1, 3, body("i3")], null, ["a", 1, 1, body("i1")]]);
    assert.deepEqual(shop.readStream("a", 1, 10), { version: 2, rows: [["a", 2, 2, body("i2")]] });
    assert.deepEqual(shop.readFeed(1, 1), { head: 3, rows: [["a", 2, 2, body("i2")]] });
    assert.deepEqual(store.space("empty").readFeed(0, 10), { head: 0, rows: [] });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a reopen sees every stored batch; a torn last line is cut off, then appends go on", async () => {
  const dir = tempDir();
  try {
    let store = fileStore(dir);
    store.space("s").append("a", 0, ["i1"], [body("i1")]);
    store.space("s").append("a", 1, ["i2", "i3"], [body("i2"), body("i3")]);
    await store.close();
    const log = path.join(dir, "tidelog.log");
    const size = statSync(log).size;
    appendFileSync(log, '{"space":"s","stream":"a","version":4,"posi'); // a crash mid-write
    store = fileStore(dir);
    assert.equal(statSync(log).size, size, "the torn line is gone");
    assert.deepEqual(store.space("s").readStream("a", 0, 10).rows.map((r) => r[1]), [1, 2, 3]);
    assert.deepEqual(store.space("s").append("a", 3, ["i4"], [body("i4")]), { position: 4 });
    await store.close();
    store = fileStore(dir);
    assert.deepEqual(store.space("s").readFeed(0, 10).rows.map((r) => r[3]), ["i1", "i2", "i3", "i4"].map(body));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a damaged line before the end stops the open, and leaves the directory unlocked", async () => {
  const dir = tempDir();
  try {
    writeFileSync(path.join(dir, "tidelog.log"), 'not json\n{"space":"s","stream":"a","version":1,"position":1,"ids":["i"],"bodies":["{}"]}\n');
    assert.throws(() => fileStore(dir), /damaged/);
    assert.throws(() => readFileSync(path.join(dir, "lock")), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("one process per directory: a live holder refuses a second open; a dead holder's lock is taken over", async () => {
  const dir = tempDir();
  try {
    const moduleUrl = new URL("./file_store.js", import.meta.url).href;
    const child = spawn(process.execPath, ["--input-type=module", "-e",
      `import { fileStore } from ${JSON.stringify(moduleUrl)}; fileStore(${JSON.stringify(dir)}); console.log("open"); setInterval(() => {}, 1000);`],
      { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => child.stdout.once("data", resolve));
    assert.throws(() => fileStore(dir), new RegExp(`in use by process ${child.pid}`));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const store = fileStore(dir);
    assert.equal(readFileSync(path.join(dir, "lock"), "utf8"), String(process.pid));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
