// The PostgreSQL backend (js/server/pg_store.js) against a real PostgreSQL server
// (tests/js/postgres.mjs starts one in a temporary directory), without wasm: the
// schema, the atomic append and its answers, reads as one snapshot, and appends from
// two pools (two server processes) serialized by the database.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { postgres } from "../../tests/js/postgres.mjs";
import { pgStore } from "./pg_store.js";

const pools = [];
async function store(key) {
  const pool = new pg.Pool({ connectionString: (await postgres()).database(key) });
  pools.push(pool);
  return pgStore(pool);
}
after(async () => {
  for (const pool of pools) await pool.end();
});

const body = (id) => JSON.stringify({ id, type: "T", data: { id }, recordedAt: 1 });

test("migrate is idempotent, also from two processes at once; a bad prefix is refused", async () => {
  const [a, b] = [await store("migrate"), await store("migrate")];
  await Promise.all([a.migrate(), b.migrate(), a.migrate()]);
  const { rows } = await a.pool.query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'tidelog_%' ORDER BY 1");
  assert.deepEqual(rows.map((r) => r.tablename), ["tidelog_events", "tidelog_spaces"]);
  assert.throws(() => pgStore(a.pool, { prefix: "x; DROP TABLE y" }), TypeError);
});

test("append: versions and positions per space, version and id checks write nothing, reads page", async () => {
  const s = await store("append");
  await s.migrate();
  const shop = s.space("shop");
  assert.deepEqual(await shop.append("a", 0, ["i1", "i2"], [body("i1"), body("i2")]), { position: 1 });
  assert.deepEqual(await shop.append("b", 0, ["i3"], [body("i3")]), { position: 3 });
  assert.deepEqual(await shop.append("a", 0, ["i4"], [body("i4")]), { versionMoved: 2 });
  assert.deepEqual(await shop.append("a", 2, ["i4", "i3"], [body("i4"), body("i3")]), { idTaken: "i3" });
  assert.deepEqual(await s.space("other").append("a", 0, ["i1"], [body("i1")]), { position: 1 }, "ids are per space");
  assert.equal(await shop.streamVersion("a"), 2);
  assert.equal(await shop.streamVersion("none"), 0);
  assert.deepEqual(await shop.eventsById(["i3", "x", "i1"]), [["b", 1, 3, body("i3")], null, ["a", 1, 1, body("i1")]]);
  assert.deepEqual(await shop.readStream("a", 1, 10), { version: 2, rows: [["a", 2, 2, body("i2")]] });
  assert.deepEqual(await shop.readStream("none", 0, 10), { version: 0, rows: [] });
  assert.deepEqual(await shop.readFeed(1, 1), { head: 3, rows: [["a", 2, 2, body("i2")]] });
  assert.deepEqual(await shop.readFeed(3, 0), { head: 3, rows: [] });
  assert.deepEqual(await s.space("empty").readFeed(0, 10), { head: 0, rows: [] });
  const odd = "🛒 a'b\"c\\d";
  assert.deepEqual(await s.space(odd).append(odd, 0, [odd], [body(odd)]), { position: 1 });
  assert.deepEqual(await s.space(odd).readStream(odd, 0, 1), { version: 1, rows: [[odd, 1, 1, body(odd)]] });
});

test("two pools append to one stream at once: one append per version, the others see it moved", async () => {
  const [a, b] = [await store("race"), await store("race")];
  await a.migrate();
  const tries = Array.from({ length: 20 }, (_, i) => [a, b][i % 2].space("s").append("x", 0, [`r${i}`], [body(`r${i}`)]));
  const outcomes = await Promise.all(tries);
  assert.equal(outcomes.filter((o) => "position" in o).length, 1);
  assert.equal(outcomes.filter((o) => "versionMoved" in o && o.versionMoved === 1).length, 19);
  // Different streams of one space: every append lands, positions stay contiguous.
  const spread = await Promise.all(Array.from({ length: 20 }, (_, i) => [a, b][i % 2].space("s").append(`y${i}`, 0, [`y${i}`], [body(`y${i}`)])));
  assert.ok(spread.every((o) => "position" in o), JSON.stringify(spread));
  assert.deepEqual(spread.map((o) => o.position).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 2));
  const { head, rows } = await a.space("s").readFeed(0, 100);
  assert.equal(head, 21);
  assert.deepEqual(rows.map((r) => r[2]), Array.from({ length: 21 }, (_, i) => i + 1));
});
