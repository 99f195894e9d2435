// Projection after reload on a large log: state() must cost the tail, not the log.
// Usage: node bench/projection.mjs [events=1000000]   (needs pkg/; not part of make test)
// Appends N events, builds the projection once (snapshots), then for tails of 1k and 10k
// events reloads the page and times state(). Prints a Markdown table.
import { launchChromium, openPage, startServer } from "../tests/js/harness.mjs";

const total = Number(process.argv[2] ?? 1_000_000);
const server = await startServer();
const browser = await launchChromium();
const context = await browser.newContext();
const name = `projection-bench-${Date.now()}`;
const boot = async () => {
  const page = await openPage(context, `${server.base}/pkg/package.json`);
  await page.evaluate(async (name) => {
    const t = await import("/pkg/tidelog.js");
    await t.default();
    window.store = await t.EventStore.open(name);
    window.projection = store.projection("sum", {
      initial: { n: 0, sum: 0 }, revision: 1, snapshotEvery: 10_000,
      reducer: (s, e) => ({ n: s.n + 1, sum: s.sum + e.data.v }),
    });
  }, name);
  return page;
};
const append = (page, count) => page.evaluate(async (count) => {
  const t0 = performance.now();
  for (let done = 0; done < count; done += 10_000) {
    const n = Math.min(10_000, count - done);
    await store.append(`s-${done % 7}`, Array.from({ length: n }, (_, i) => ({ type: "V", data: { v: 1, pad: "x".repeat(150), i } })));
  }
  return performance.now() - t0;
}, count);
const timeState = (page) => page.evaluate(async () => {
  const t0 = performance.now();
  const state = await projection.state();
  return { ms: performance.now() - t0, n: state.n, stats: projection.metrics() };
});

let page = await boot();
const appendMs = await append(page, total);
const full = await timeState(page);
const rows = [`| log | tail | state() after reload | events replayed |`, `|---:|---:|---:|---:|`];
rows.push(`| ${total} | ${total} (first build) | ${full.ms.toFixed(0)} ms | ${full.stats.replayedEvents ?? full.n} |`);
let size = total;
for (const tail of [0, 1_000, 10_000]) {
  if (tail) await append(page, tail);
  size += tail;
  await page.close();
  page = await boot();
  const r = await timeState(page);
  rows.push(`| ${size} | ${tail} | ${r.ms.toFixed(1)} ms | ${r.stats.replayedEvents ?? "?"} |`);
}
console.log(`appended ${total} events in ${(appendMs / 1000).toFixed(1)} s (${Math.round(total / (appendMs / 1000))} events/s)`);
console.log(rows.join("\n"));
await browser.close();
await server.stop();
