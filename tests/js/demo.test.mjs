// End to end on the demo, as a person uses it: the page served by `make demo`'s server
// (real workerd, sync API at /v1/), driven in Chromium, Firefox and WebKit with real
// input events (Playwright; WebDriver element commands); and the same in Chromium served
// by `make demo SERVER=node` on PostgreSQL (the log file is the same server with another
// store). Screenshots go to test-results/ (git-ignored).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, serverTargets, selectedEngines, startServer, engineSuites, openPage, chromiumContext, CHROMIUM_ARGS } from "./harness.mjs";

const shots = path.join(root, "test-results");
const TARGETS = serverTargets().filter((t) => t === "workerd" || t === "node-pg");
/** @type {Record<string, any>} */
const servers = {};
let dataDir;
const space = `e2e${Date.now()}`;

before(async () => {
  await mkdir(shots, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tidelog-demo-"));
  for (const target of TARGETS) servers[target] = await startServer({ TIDELOG_DATA_DIR: path.join(dataDir, target) }, target);
});

after(async () => {
  for (const server of Object.values(servers)) await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const button = (name) => `xpath=//button[normalize-space()="${name}"]`;
const labelled = (label) => `[aria-label="${label}"]`;

async function add(page, text) {
  await page.fill("#new-item", text);
  await page.click(button("Add"));
  await page.waitForFunction((text) => [...document.querySelectorAll("#items .text")].some((e) => e.textContent === text), text);
}

const items = (page) => page.evaluate(() => [...document.querySelectorAll("#items li")].map((li) => ({
  text: li.querySelector(".text")?.textContent,
  checked: li.querySelector("input[type=checkbox]").checked,
})));

/** The page's console errors, less the browser's own network log line for a 412 (that
 * status is the protocol's conflict signal, answered by the sync engine) or a refused
 * request (`allow`). */
const consoleErrors = async (page, allow = /status of 412 \(Precondition Failed\)/) =>
  (await page.takeConsole()).filter((m) => m.type === "error" && !(/^Failed to load resource/.test(m.text) && allow.test(m.text))).map((m) => m.text);

async function waitSynced(page) {
  await page.click("#sync-now");
  await page.waitForFunction(() => document.querySelector("#s-pending").textContent === "0", null, { timeout: 10_000 });
}

async function setOffline(page, offline) {
  if ((await page.isChecked("#offline")) !== offline) await page.click("#offline");
}

async function check(page, selector) {
  if (!(await page.isChecked(selector))) await page.click(selector);
}

for (const target of TARGETS) {
engineSuites(`demo on ${target}`, (suite) => {
  const { test, engine } = suite;
  const server = { get base() { return servers[target].base; } };
  suite.expectTests(4);
  let context;
  before(async () => {
    context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
  });
  const espace = `${space}${engine}${target.replace("-", "")}`;
  // WebKitWebDriver's screenshot command hangs under Xvfb (WebKitGTK 2.50): none there.
  const shot = (page, name) => (engine === "webkit" ? undefined : page.screenshot(path.join(shots, name)));

  async function open(device, inContext = context, base = server.base, s = espace) {
    const page = await openPage(inContext, `${base}/?device=${device}&space=${s}`);
    await page.waitForSelector("body[data-ready]");
    return page;
  }

  test("the demo: offline edits survive a reload, sync to a second device, a conflict resolves, time travel works", async () => {
    const a = await open("a");
    await add(a, "Oat milk");
    await add(a, "Bread");
    await add(a, "Apples");
    await waitSynced(a);
    await shot(a, `demo-main-${engine}.png`);

    // Offline: changes wait in the outbox, through a reload.
    await setOffline(a, true);
    await add(a, "Coffee");
    await check(a, labelled("Check off Bread"));
    await a.waitForFunction(() => document.querySelector("#s-pending").textContent === "2");
    assert.equal(await a.textOf("#s-online"), "paused");
    assert.equal(await a.count("#log .badge.pending"), 2, "two events shown as pending");
    await a.reload();
    await a.waitForSelector("body[data-ready]");
    assert.equal(await a.isChecked("#offline"), true, "still offline after the reload");
    await a.waitForFunction(() => document.querySelector("#s-pending").textContent === "2");
    await setOffline(a, false);
    await waitSynced(a);
    assert.equal(await a.count("#log .badge.pending"), 0);

    // A second device sees the same list.
    const b = await open("b");
    await waitSynced(b);
    await b.waitForFunction(() => document.querySelectorAll("#items li").length === 4);
    assert.deepEqual(await items(b), await items(a));

    // A conflict: both offline, both change the list, then both reconnect.
    await setOffline(a, true);
    await setOffline(b, true);
    await a.click(labelled("Edit Oat milk"));
    await a.fill(labelled("New name for Oat milk"), "Oat milk (2 l)");
    await a.click(button("Save"));
    await a.waitForFunction(() => [...document.querySelectorAll("#items .text")].some((e) => e.textContent === "Oat milk (2 l)"));
    await check(b, labelled("Check off Oat milk"));
    await b.click(labelled("Remove Apples"));
    await b.waitForFunction(() => document.querySelectorAll("#items li").length === 3);
    await setOffline(a, false);
    await waitSynced(a);
    await setOffline(b, false);
    await waitSynced(b); // b's push gets a 412, pulls a's rename, re-applies its own two changes
    await waitSynced(a);
    const expected = [
      { text: "Oat milk (2 l)", checked: true },
      { text: "Bread", checked: true },
      { text: "Coffee", checked: false },
    ];
    await a.waitForFunction(() => document.querySelectorAll("#items li").length === 3);
    assert.deepEqual(await items(a), expected);
    assert.deepEqual(await items(b), expected);
    const logTypes = await b.evaluate(() => [...document.querySelectorAll("#log tr td:nth-child(4)")].map((td) => td.textContent));
    assert.ok(logTypes.includes("ItemRenamed") && logTypes.includes("ItemRemoved"), `log shows both sides: ${logTypes}`);
    await shot(b, `demo-conflict-resolved-${engine}.png`);

    // Time travel: back to version 1, then live again.
    await a.evaluate(() => { const slider = document.querySelector("#time"); slider.value = "1"; slider.dispatchEvent(new Event("input", { bubbles: true })); });
    await a.waitForFunction(() => document.querySelectorAll("#items li").length === 1);
    assert.match(await a.textOf("#time-label"), /^version 1 of \d+ \(read-only\)$/);
    assert.deepEqual(await items(a), [{ text: "Oat milk", checked: false }]);
    assert.equal(await a.count("#items li button"), 0, "the past is read-only");
    await shot(a, `demo-time-travel-${engine}.png`);
    await a.click("#time-live");
    await a.waitForFunction(() => document.querySelectorAll("#items li").length === 3);

    assert.deepEqual(await consoleErrors(a), [], "no console errors on device a");
    assert.deepEqual(await consoleErrors(b), [], "no console errors on device b");
    await a.close();
    await b.close();
  });

  test("the demo in quarantine mode shows a conflict to settle, and a phone-width layout", async () => {
    const phone = await suite.browser.newContext({ viewport: { width: 390, height: 844 } });
    const q = `${espace}q`;
    const a = await open("qa", context, server.base, q);
    const b = await open("qb", phone, server.base, q);
    await b.selectOption("#policy", "quarantine");
    await b.waitForSelector("body[data-ready]");
    await add(a, "Tea");
    await waitSynced(a);
    await waitSynced(b);
    await setOffline(b, true);
    await add(a, "Honey");
    await waitSynced(a);
    await add(b, "Lemons");
    await setOffline(b, false);
    await b.click("#sync-now");
    await b.waitForFunction(() => !document.querySelector("#conflicts-card").hidden);
    await b.waitForFunction(() => document.querySelector("#s-conflicts").textContent === "1");
    await shot(b, `demo-conflict-phone-${engine}.png`);
    await b.click(button("Keep mine"));
    await waitSynced(b);
    await b.waitForFunction(() => document.querySelectorAll("#items li").length === 3);
    assert.deepEqual((await items(b)).map((i) => i.text), ["Tea", "Honey", "Lemons"]);
    assert.deepEqual(await consoleErrors(b), []);
    await phone.close();
    await a.close();
  });

  test("Background Sync: the service worker pushes the outbox after the page is closed", {
    needs: ["chromium"], reason: "no Background Sync in this engine (the next open and `online` path is tested in the sync suite)",
  }, async () => {
    // A persistent profile: Chromium offers Background Sync to regular profiles only.
    const { chromium } = await import("playwright-core");
    const profile = await mkdtemp(path.join(tmpdir(), "tidelog-profile-"));
    const persistent = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
    });
    const ctx = chromiumContext(persistent);
    try {
      const bgSpace = `${espace}bg`;
      const page = await open("bg", ctx, server.base, bgSpace);
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
      await persistent.setOffline(true);
      await add(page, "Candles");
      await add(page, "Matches");
      await page.waitForFunction(() => document.querySelector("#s-pending").textContent === "2");
      const tags = await page.evaluate(async () => (await navigator.serviceWorker.ready).sync.getTags());
      assert.ok(tags.includes(`tidelog:tidelog-demo-${bgSpace}-bg`), `registered tags: ${tags}`);
      await page.close(); // no page left to sync
      await persistent.setOffline(false); // the browser fires `sync` in the service worker
      let events = [];
      for (let i = 0; i < 100 && events.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const response = await fetch(`${server.base}/v1/${bgSpace}/streams/list`);
        events = (await response.json()).events;
      }
      assert.deepEqual(events.map((e) => e.data.text), ["Candles", "Matches"]);
    } finally {
      await ctx.close();
      await rm(profile, { recursive: true, force: true });
    }
  });

  test("with TIDELOG_SYNC_TOKEN set, the demo asks for the token and then syncs", async () => {
    const tokenDir = await mkdtemp(path.join(tmpdir(), "tidelog-demo-token-"));
    const guarded = await startServer({ TIDELOG_SYNC_TOKEN: "s3cret", TIDELOG_DATA_DIR: tokenDir }, target);
    const ctx = await suite.browser.newContext();
    try {
      const page = await open("a", ctx, guarded.base, `${espace}tok`);
      await add(page, "Milk");
      await page.click("#sync-now");
      await page.waitForFunction(() => !document.querySelector("#token-field").hidden); // shown once the server refuses
      assert.equal(await page.textOf("#s-online"), "refused (auth)");
      await page.fill("#token", "s3cret");
      await page.press("#token", "Tab");
      await waitSynced(page);
      // Chromium logs the refused request itself; the page logs nothing else.
      assert.deepEqual(await consoleErrors(page, /status of (401|412)/), []);
    } finally {
      await ctx.close();
      await guarded.stop();
      await rm(tokenDir, { recursive: true, force: true });
    }
  });
// The self-hosted server in Chromium only: the engines differ in the page, not the server.
}, target === "workerd" ? {} : { engines: selectedEngines().filter((e) => e === "chromium") });
}
