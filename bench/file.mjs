// The file store in Node (pkg/tidelog.node.js, `storage: "file"`): appends per second,
// single and batched, with an fsync per append (durability "strict", the default) and
// without ("relaxed"), the memory store alongside for scale; then opening a log of
// EVENTS events (1M by default): the time to read it back and rebuild the index, and the
// same with a torn tail to cut, each in a new process.
// Usage: node bench/file.mjs [events=1000000]   (needs pkg/: `make pkg`; `make bench` runs
// it and appends the table to BENCHMARKS.md; BENCH_SCALE=0.01 scales the append counts, as
// `make bench-smoke` does). Progress goes to stderr, the table to stdout.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { root } from "../tests/js/harness.mjs";

const total = Number(process.argv[2] ?? 1_000_000);
const scale = Number(process.env.BENCH_SCALE ?? 1);
const { EventStore, version } = await import(path.join(root, "pkg/tidelog.node.js"));
const dir = mkdtempSync(path.join(tmpdir(), "tidelog-file-bench-"));
const log = (...a) => console.error("file bench:", ...a);
const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const commit = git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? " with uncommitted changes" : "");
const fsType = execFileSync("df", ["--output=fstype", dir], { encoding: "utf8" }).trim().split("\n").pop();
const payload = (i) => ({ sku: "A" + (i % 97), qty: i % 5, pad: "x".repeat(150) });
let stores = 0;
const open = (durability, storage = "file") =>
  EventStore.open(`s${stores++}`, storage === "file" ? { storage, directory: dir, durability } : { storage });
const fmt = (n) => Math.round(n).toLocaleString("en-US");

/** `appends` calls of `size` events each; events/s, appends/s and latency percentiles. */
async function appendCase(durability, size, appends, storage) {
  const store = await open(durability, storage);
  const latencies = [];
  const t0 = performance.now();
  for (let i = 0; i < appends; i++) {
    const events = Array.from({ length: size }, (_, k) => ({ type: "ItemAdded", data: payload(i * size + k) }));
    const a = performance.now();
    await store.append(`cart-${i % 50}`, events);
    latencies.push(performance.now() - a);
  }
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  return { eventsPerS: (size * appends) / seconds, appendsPerS: appends / seconds, p50: pct(0.5), p99: pct(0.99) };
}

const rows = [
  "| Case | durability | appends × events | appends/s | events/s | p50 ms | p99 ms |",
  "|---|---|---:|---:|---:|---:|---:|",
];
const cases = [
  ["single append", "strict", 1, 2_000, "file"],
  ["single append", "relaxed", 1, 20_000, "file"],
  ["single append (memory store)", "—", 1, 20_000, "memory"],
  ["batched append", "strict", 100, 500, "file"],
  ["batched append", "relaxed", 100, 2_000, "file"],
  ["batched append (memory store)", "—", 100, 2_000, "memory"],
];
for (const [name, durability, size, full, storage] of cases) {
  const appends = Math.max(10, Math.round(full * scale));
  log(name, durability);
  const r = await appendCase(durability === "—" ? undefined : durability, size, appends, storage);
  rows.push(`| ${name} | ${durability} | ${fmt(appends)} × ${size} | ${fmt(r.appendsPerS)} | ${fmt(r.eventsPerS)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} |`);
}

// A log of `total` events in appends of 1000 (relaxed), then opened again: reading it back
// is the whole cost of opening (the index is rebuilt in memory).
log(`writing ${fmt(total)} events`);
const big = "big";
let store = await EventStore.open(big, { storage: "file", directory: dir, durability: "relaxed" });
const w0 = performance.now();
for (let done = 0; done < total; done += 1000) {
  const n = Math.min(1000, total - done);
  await store.append(`cart-${(done / 1000) % 1000}`, Array.from({ length: n }, (_, k) => ({ type: "ItemAdded", data: payload(done + k) })));
}
const writeS = (performance.now() - w0) / 1000;
store.close();
const file = path.join(dir, big, "log");
const bytes = statSync(file).size;
// Each open in a fresh process, as a server restarting would: the time of the open, and
// the wasm memory and the process's RSS after it.
const OPEN = `
const tidelog = await import(${JSON.stringify(path.join(root, "pkg/tidelog.node.js"))});
const t0 = performance.now();
const s = await tidelog.EventStore.open(process.argv.at(-2), { storage: "file", directory: process.argv.at(-1) });
const ms = performance.now() - t0;
const count = (await s.streams()).reduce((n, info) => n + info.version, 0);
console.log(JSON.stringify({ ms, count, recovery: s.recovery, wasm: tidelog.initSync().memory.buffer.byteLength, rss: process.memoryUsage().rss }));
s.close();`;
const timeOpen = () => JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", OPEN, big, dir], { encoding: "utf8" }));
const opens = [];
for (let i = 0; i < 3; i++) {
  log("opening", i + 1);
  opens.push(timeOpen());
}
truncateSync(file, bytes - 100);
log("opening with a torn tail");
const torn = timeOpen();
rmSync(dir, { recursive: true, force: true });

const median = (xs) => xs.map((x) => x.ms).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = [
  `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.versions.node}, tidelog ${version()} (commit ${commit}), log on ${fsType} (${tmpdir()}).`,
  "Payload ≈ 190 bytes of JSON per event; strict = fdatasync per append before it resolves, relaxed = none.",
  `Load average at the end (other processes share the machine): ${loadavg().map((l) => l.toFixed(1)).join(", ")}.`,
  "",
  ...rows,
  "",
  "| Log | file size | write (appends of 1000, relaxed) | open in a new process: read back, index rebuilt (median of 3) | open with a torn tail (cut) | wasm memory after open | process RSS after open |",
  "|---:|---:|---:|---:|---:|---:|---:|",
  `| ${fmt(total)} events | ${(bytes / 2 ** 20).toFixed(0)} MiB | ${fmt(total / writeS)} events/s | ${median(opens).toFixed(0)} ms (${opens.map((o) => o.count).every((c) => c === total) ? "all events" : "EVENTS MISSING"}) | ${torn.ms.toFixed(0)} ms (${torn.recovery ? `${torn.recovery.bytes} bytes, ${torn.recovery.events} events` : "NOTHING CUT"}; ${fmt(torn.count)} left) | ${(opens[0].wasm / 2 ** 20).toFixed(0)} MiB | ${(opens[0].rss / 2 ** 20).toFixed(0)} MiB |`,
];
console.log(out.join("\n"));
if (!opens.every((o) => o.count === total) || torn.recovery?.events !== (total % 1000 || 1000) || torn.count !== total - torn.recovery.events) {
  console.error("file bench: the reopened log is not what was written");
  process.exitCode = 1;
}
