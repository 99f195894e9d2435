// End to end on the demo, as a person uses it: the page served by `make demo`'s server
// (real workerd, sync API at /v1/; and `make demo SERVER=node` on PostgreSQL), driven in
// headless Chromium. Screenshots go to test-results/ (git-ignored).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, serverTargets, startServer, launchChromium, openPage } from "./harness.mjs";

// The demo on workerd, and on the self-hosted server on PostgreSQL (`make demo SERVER=node`
// with DATABASE_URL; the log file is the same server with another store).
for (const target of serverTargets().filter((t) => t === "workerd" || t === "node-pg")) {
describe(`the demo served with ${target}`, () => {

const shots = path.join(root, "test-results");
let server, browser, context, dataDir;
const space = `e2e${Date.now()}`;

before(async () => {
  await mkdir(shots, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tidelog-demo-"));
  server = await startServer({ TIDELOG_DATA_DIR: dataDir }, target);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function open(device) {
  const page = await openPage(context, `${server.base}/?device=${device}&space=${space}`);
  await page.waitForSelector("body[data-ready]");
  return page;
}

async function add(page, text) {
  await page.getByLabel("New item").fill(text);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByText(text, { exact: true }).waitFor();
}

const items = (page) => page.$$eval("#items li", (lis) => lis.map((li) => ({
  text: li.querySelector(".text")?.textContent,
  checked: li.querySelector("input[type=checkbox]").checked,
})));

/** Console errors, less Chromium's own network log line for a 412: that status is the
 * protocol's conflict signal, answered by the sync engine, not an error of the page. */
const pageErrors = (page) => page.errors.filter((e) => !/^Failed to load resource: .* 412 \(Precondition Failed\)$/.test(e));

async function waitSynced(page) {
  await page.getByRole("button", { name: "Sync now" }).click();
  await page.waitForFunction(() => document.querySelector("#s-pending").textContent === "0", null, { timeout: 10_000 });
}

async function setOffline(page, offline) {
  const box = page.getByLabel("Offline (pause sync)");
  if ((await box.isChecked()) !== offline) await box.click();
}

test("the demo: offline edits survive a reload, sync to a second device, a conflict resolves, time travel works", async () => {
  const a = await open("a");
  await add(a, "Oat milk");
  await add(a, "Bread");
  await add(a, "Apples");
  await waitSynced(a);
  await a.screenshot({ path: path.join(shots, "demo-main.png"), fullPage: true });

  // Offline: changes wait in the outbox, through a reload.
  await setOffline(a, true);
  await add(a, "Coffee");
  await a.getByLabel("Check off Bread").check();
  await a.waitForFunction(() => document.querySelector("#s-pending").textContent === "2");
  assert.equal(await a.textContent("#s-online"), "paused");
  assert.equal(await a.locator("#log .badge.pending").count(), 2, "two events shown as pending");
  await a.reload();
  await a.waitForSelector("body[data-ready]");
  assert.equal(await a.getByLabel("Offline (pause sync)").isChecked(), true, "still offline after the reload");
  await a.waitForFunction(() => document.querySelector("#s-pending").textContent === "2");
  await setOffline(a, false);
  await waitSynced(a);
  assert.equal(await a.locator("#log .badge.pending").count(), 0);

  // A second device sees the same list.
  const b = await open("b");
  await waitSynced(b);
  await b.waitForFunction(() => document.querySelectorAll("#items li").length === 4);
  assert.deepEqual(await items(b), await items(a));

  // A conflict: both offline, both change the list, then both reconnect.
  await setOffline(a, true);
  await setOffline(b, true);
  await a.getByLabel("Edit Oat milk").click();
  await a.getByLabel("New name for Oat milk").fill("Oat milk (2 l)");
  await a.getByRole("button", { name: "Save" }).click();
  await a.getByText("Oat milk (2 l)", { exact: true }).waitFor();
  await b.getByLabel("Check off Oat milk").check();
  await b.getByLabel("Remove Apples").click();
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
  const logTypes = await b.$$eval("#log tr td:nth-child(4)", (tds) => tds.map((td) => td.textContent));
  assert.ok(logTypes.includes("ItemRenamed") && logTypes.includes("ItemRemoved"), `log shows both sides: ${logTypes}`);
  await b.screenshot({ path: path.join(shots, "demo-conflict-resolved.png"), fullPage: true });

  // Time travel: back to version 1, then live again.
  await a.$eval("#time", (slider) => { slider.value = "1"; slider.dispatchEvent(new Event("input", { bubbles: true })); });
  await a.waitForFunction(() => document.querySelectorAll("#items li").length === 1);
  assert.match(await a.textContent("#time-label"), /^version 1 of \d+ \(read-only\)$/);
  assert.deepEqual(await items(a), [{ text: "Oat milk", checked: false }]);
  assert.equal(await a.locator("#items li button").count(), 0, "the past is read-only");
  await a.screenshot({ path: path.join(shots, "demo-time-travel.png"), fullPage: true });
  await a.getByRole("button", { name: "Back to live" }).click();
  await a.waitForFunction(() => document.querySelectorAll("#items li").length === 3);

  assert.deepEqual(pageErrors(a), [], "no console errors on device a");
  assert.deepEqual(pageErrors(b), [], "no console errors on device b");
  await a.close();
  await b.close();
});

test("the demo in quarantine mode shows a conflict to settle, and a phone-width layout", async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const q = `${space}q`;
  const openIn = async (ctx, device) => {
    const page = await openPage(ctx, `${server.base}/?device=${device}&space=${q}`);
    await page.waitForSelector("body[data-ready]");
    return page;
  };
  const a = await openIn(context, "qa");
  const b = await openIn(phone, "qb");
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
  await b.getByRole("button", { name: "Sync now" }).click();
  await b.getByRole("heading", { name: "Conflicts" }).waitFor();
  await b.waitForFunction(() => document.querySelector("#s-conflicts").textContent === "1");
  await b.screenshot({ path: path.join(shots, "demo-conflict-phone.png"), fullPage: true });
  await b.getByRole("button", { name: "Keep mine" }).click();
  await waitSynced(b);
  await b.waitForFunction(() => document.querySelectorAll("#items li").length === 3);
  assert.deepEqual((await items(b)).map((i) => i.text), ["Tea", "Honey", "Lemons"]);
  assert.deepEqual(pageErrors(b), []);
  await phone.close();
  await a.close();
});

test("Background Sync: the service worker pushes the outbox after the page is closed", async () => {
  // A persistent profile: Chromium offers Background Sync to regular profiles only.
  const { chromium } = await import("playwright-core");
  const { CHROMIUM_ARGS } = await import("./harness.mjs");
  const profile = await mkdtemp(path.join(tmpdir(), "tidelog-profile-"));
  const persistent = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    const bgSpace = `${space}bg`;
    const page = await openPage(persistent, `${server.base}/?device=bg&space=${bgSpace}`);
    await page.waitForSelector("body[data-ready]");
    await page.evaluate(() => navigator.serviceWorker.ready);
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
    await persistent.close();
    await rm(profile, { recursive: true, force: true });
  }
});

test("with TIDELOG_SYNC_TOKEN set, the demo asks for the token and then syncs", async () => {
  const tokenDir = await mkdtemp(path.join(tmpdir(), "tidelog-demo-token-"));
  const guarded = await startServer({ TIDELOG_SYNC_TOKEN: "s3cret", TIDELOG_DATA_DIR: tokenDir }, target);
  const ctx = await browser.newContext();
  try {
    const page = await openPage(ctx, `${guarded.base}/?device=a&space=${space}tok`);
    await page.waitForSelector("body[data-ready]");
    await add(page, "Milk");
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByLabel("Sync token").waitFor(); // shown once the server refuses
    assert.equal(await page.textContent("#s-online"), "refused (auth)");
    await page.getByLabel("Sync token").fill("s3cret");
    await page.getByLabel("Sync token").press("Tab");
    await waitSynced(page);
    // Chromium logs the refused request itself; the page logs nothing else.
    assert.deepEqual(pageErrors(page).filter((e) => !/status of 401/.test(e)), []);
  } finally {
    await ctx.close();
    await guarded.stop();
    await rm(tokenDir, { recursive: true, force: true });
  }
});
});
}
