// Tags, query reads and conditional appends in Node (pkg/tidelog.node.js), on the memory
// and file stores (the file store's index is the memory store's): on a log of EVENTS
// events (100k by default) tagged `course:cN` (1000 courses, so 0.1% of the log per tag),
//  - a conditional append (the unique-username rule: fail if a claim of this username came
//    after the last position read) against a plain append of the same event: the ratio;
//  - a tag query (one course's events) against reading the whole log (`readAll`) and
//    against `query("all")`.
// Usage: node bench/dcb.mjs [events=100000]   (needs pkg/: `make pkg`; `make bench` runs it
// and appends the table to BENCHMARKS.md; BENCH_SCALE=0.01 scales the append counts, as
// `make bench-smoke` does). Progress goes to stderr, the table to stdout.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { root } from "../tests/js/harness.mjs";

const total = Number(process.argv[2] ?? 100_000);
const scale = Number(process.env.BENCH_SCALE ?? 1);
const { EventStore, AppendConditionError, version } = await import(path.join(root, "pkg/tidelog.node.js"));
const dir = mkdtempSync(path.join(tmpdir(), "tidelog-dcb-bench-"));
const log = (...a) => console.error("dcb bench:", ...a);
const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const commit = git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? " with uncommitted changes" : "");
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const COURSES = 1000;
let stores = 0;
const open = (storage) => EventStore.open(`dcb${stores++}`, storage === "file" ? { storage, directory: dir, durability: "relaxed" } : { storage });

/** A store holding `total` course events, in appends of 1000. */
async function filled(storage) {
  const store = await open(storage);
  for (let done = 0; done < total; done += 1000) {
    const n = Math.min(1000, total - done);
    await store.append(`course-${(done / 1000) % COURSES}`, Array.from({ length: n }, (_, k) => {
      const i = done + k;
      return { type: "StudentSubscribed", data: { student: `s${i}`, pad: "x".repeat(100) }, tags: [`course:c${i % COURSES}`, `student:s${i}`] };
    }));
  }
  return store;
}

/** Median ms of `runs` calls of `f`. */
async function median(runs, f) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const appendRows = [
  "| Store | log | appends | plain append µs | conditional append µs | ratio |",
  "|---|---:|---:|---:|---:|---:|",
];
const queryRows = [
  "| Store | log | events per tag | tag query ms | readAll (whole log) ms | query(\"all\") ms | readAll / tag query |",
  "|---|---:|---:|---:|---:|---:|---:|",
];
for (const storage of ["memory", "file"]) {
  log(storage, `filling ${fmt(total)} events`);
  const store = await filled(storage);
  const appends = Math.max(20, Math.round(2_000 * scale));
  const claim = (u) => [{ type: "UsernameClaimed", data: { username: u }, tags: [`username:${u}`] }];
  log(storage, "plain appends");
  const plain = await median(appends, (i) => store.append(`account-p${i}`, claim(`p${i}`)));
  log(storage, "conditional appends");
  const head = (await store.query("all", { backwards: true, limit: 1 }))[0].position;
  const conditional = await median(appends, (i) => store.append(`account-c${i}`, claim(`c${i}`), {
    condition: { failIfEventsMatch: [{ types: ["UsernameClaimed"], tags: [`username:c${i}`] }], after: head },
  }));
  // The rule holds: a second claim of a taken name is refused.
  const refused = await store.append("account-x", claim("c0"), {
    condition: { failIfEventsMatch: [{ types: ["UsernameClaimed"], tags: ["username:c0"] }], after: head },
  }).then(() => false, (e) => e instanceof AppendConditionError);
  if (!refused) throw new Error("a taken username was claimed twice");
  appendRows.push(`| ${storage} | ${fmt(total)} | ${fmt(appends)} | ${(plain * 1000).toFixed(0)} | ${(conditional * 1000).toFixed(0)} | ${(conditional / plain).toFixed(2)} |`);

  log(storage, "queries");
  const runs = Math.max(3, Math.round(20 * scale));
  let found = 0;
  const tag = await median(runs, async (i) => {
    found = (await store.query([{ tags: [`course:c${(i * 37) % COURSES}`] }])).length;
  });
  let all = 0;
  const scan = await median(Math.max(3, Math.round(5 * scale)), async () => {
    all = (await store.readAll()).length;
  });
  const queryAll = await median(Math.max(3, Math.round(5 * scale)), async () => {
    await store.query("all");
  });
  if (all < total || found < Math.floor(total / COURSES)) throw new Error(`reads came back short: ${all}, ${found}`);
  queryRows.push(`| ${storage} | ${fmt(total)} | ${fmt(found)} | ${tag.toFixed(2)} | ${scan.toFixed(1)} | ${queryAll.toFixed(1)} | ${(scan / tag).toFixed(0)}× |`);
  store.close();
}
rmSync(dir, { recursive: true, force: true });

console.log([
  `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.versions.node}, tidelog ${version()} (commit ${commit}).`,
  `Log: ${fmt(total)} events tagged \`course:cN\` (${COURSES} courses) and \`student:sN\`, ≈ 150 bytes of JSON each. Medians. File store: durability "relaxed" (no fsync, so the append ratio shows the condition's cost, not the disk's).`,
  `Load average at the end (other processes share the machine): ${loadavg().map((l) => l.toFixed(1)).join(", ")}.`,
  "",
  ...appendRows,
  "",
  ...queryRows,
].join("\n"));
