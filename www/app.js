// The demo: a shared shopping list on tidelog. Every change is an event in the stream
// "list"; the list is a fold of those events. Sync goes to this server's /v1/demo space.
import init, { EventStore, version } from "/pkg/tidelog.js";

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
const device = (params.get("device") ?? "a").replace(/[^a-z0-9-]/gi, "").slice(0, 32) || "a";
const space = (params.get("space") ?? "demo").replace(/[^a-z0-9]/gi, "").slice(0, 64) || "demo";
const STREAM = "list";

// ---- the domain: events -> state ----------------------------------------------------
function reduce(state, event) {
  const { id, text, checked } = event.data ?? {};
  switch (event.type) {
    case "ItemAdded":
      state.set(id, { id, text, checked: false });
      break;
    case "ItemRenamed":
      if (state.has(id)) state.get(id).text = text;
      break;
    case "ItemChecked":
      if (state.has(id)) state.get(id).checked = Boolean(checked);
      break;
    case "ItemRemoved":
      state.delete(id);
      break;
  }
  return state;
}

// ---- errors are shown, never only logged --------------------------------------------
function plainWords(error) {
  switch (error?.name) {
    case "QuotaExceededError": return "This browser has no storage space left for the list.";
    case "ClosedError": return "The list was closed (another tab may have upgraded it). Reload the page.";
    case "InvalidInputError": return `That change was not accepted: ${error.message}.`;
    case "SyncError":
      if (error.code === "auth") return "The sync server refused our credentials; changes stay on this device.";
      if (error.code === "stalled") return "Sync is stuck: changes are waiting and none reached the server.";
      return `Sync problem (${error.status ?? "network"}): ${error.message}. Changes are kept and retried.`;
    default: return `Something went wrong: ${error?.message ?? error}`;
  }
}
function showError(error) {
  const alert = $("#alert");
  alert.textContent = plainWords(error);
  alert.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (alert.hidden = true), 8000);
}
window.addEventListener("unhandledrejection", (e) => { showError(e.reason); e.preventDefault(); });

// ---- start ----------------------------------------------------------------------------
await init();
$("#version").textContent = `v${version()}`;
$("#device-name").textContent = `device ${device}`;
const other = device === "a" ? "b" : "a";
$("#other-device").href = `?device=${other}${space === "demo" ? "" : `&space=${space}`}`;
$("#other-device").textContent = `Open device ${other} ↗`;
document.title = `tidelog · device ${device}`;

const policyKey = `tidelog-demo-policy-${device}`;
const offlineKey = `tidelog-demo-offline-${space}-${device}`;
$("#policy").value = localStorage.getItem(policyKey) ?? "rebase";
const store = await EventStore.open(`tidelog-demo-${space}-${device}`, {
  sync: {
    url: `${location.origin}/v1/${space}`,
    onConflict: $("#policy").value,
    pollMs: 3000,
    paused: localStorage.getItem(offlineKey) === "1", // the switch survives reloads
    // Only when the server asks for one (TIDELOG_SYNC_TOKEN); kept for this tab only.
    token: sessionStorage.getItem("tidelog-demo-token") || undefined,
  },
});
window.tidelogStore = store; // for the curious (and the end-to-end test)

// ---- rendering -------------------------------------------------------------------------
let live = { events: [], state: new Map(), version: 0 };
let travelTo = null; // a version, or null for live

function renderItems(state, readOnly) {
  const list = $("#items");
  list.replaceChildren();
  list.classList.toggle("past", readOnly);
  for (const item of state.values()) {
    const li = document.createElement("li");
    li.classList.toggle("checked", item.checked);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = item.checked;
    box.disabled = readOnly;
    box.setAttribute("aria-label", `Check off ${item.text}`);
    box.addEventListener("change", () => change("ItemChecked", { id: item.id, checked: box.checked }));
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = item.text;
    li.append(box, text);
    if (!readOnly) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.textContent = "Edit";
      edit.setAttribute("aria-label", `Edit ${item.text}`);
      edit.addEventListener("click", () => startEdit(li, item));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${item.text}`);
      remove.addEventListener("click", () => change("ItemRemoved", { id: item.id }));
      li.append(edit, remove);
    }
    list.append(li);
  }
  $("#empty").hidden = state.size > 0;
}

function startEdit(li, item) {
  const input = document.createElement("input");
  input.type = "text";
  input.value = item.text;
  input.maxLength = 120;
  input.setAttribute("aria-label", `New name for ${item.text}`);
  const save = document.createElement("button");
  save.type = "button";
  save.textContent = "Save";
  const done = async () => {
    const text = input.value.trim();
    if (text && text !== item.text) await change("ItemRenamed", { id: item.id, text });
    else await refresh();
  };
  save.addEventListener("click", done);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") done(); if (e.key === "Escape") refresh(); });
  li.querySelector(".text").replaceWith(input);
  li.querySelectorAll("button").forEach((b) => b.remove());
  li.append(save);
  input.focus();
}

async function renderLog() {
  const [events, streams] = await Promise.all([store.readAll({}), store.streams()]);
  const synced = new Map(streams.map((s) => [s.stream, s.syncedVersion]));
  const rows = events.slice(-200).reverse().map((e) => {
    const tr = document.createElement("tr");
    const isSynced = e.version <= (synced.get(e.stream) ?? 0);
    const data = JSON.stringify(e.data, (key, v) => (key === "id" && typeof v === "string" ? `${v.slice(0, 8)}…` : v));
    for (const [value, cls] of [[e.position], [e.stream], [e.version], [e.type], [data, "data"]]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      if (cls) td.className = cls;
      tr.append(td);
    }
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `badge ${isSynced ? "synced" : "pending"}`;
    badge.textContent = isSynced ? "synced" : "pending";
    state.append(badge);
    tr.append(state);
    return tr;
  });
  $("#log").replaceChildren(...rows);
}

async function renderTravel() {
  const slider = $("#time");
  slider.max = String(live.version);
  if (travelTo === null) {
    slider.value = String(live.version);
    $("#time-label").textContent = `live (version ${live.version})`;
    $("#time-live").hidden = true;
    renderItems(live.state, false);
    return;
  }
  const past = await store.replay(STREAM, { reducer: reduce, initial: new Map(), toVersion: travelTo });
  $("#time-label").textContent = `version ${travelTo} of ${live.version} (read-only)`;
  $("#time-live").hidden = false;
  renderItems(past, true);
}

function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "never";
}

function renderStatus(status) {
  $("#s-online").textContent = !status.online ? "browser offline" : status.paused ? "paused" : status.auth ? "refused (auth)" : "online";
  $("#s-pending").textContent = String(status.pendingCount);
  $("#s-inflight").textContent = status.inFlight ? "yes" : "no";
  $("#s-last").textContent = fmtTime(status.lastSyncedAt);
  $("#s-error").textContent = status.lastError ? `${status.lastError.status ?? "network"}: ${status.lastError.message}` : "none";
  $("#s-conflicts").textContent = String(status.conflictCount);
  $("#s-dead").textContent = String(status.deadLetterCount);
  $("#offline").checked = status.paused;
  if (status.auth) $("#token-field").hidden = false; // the server wants a token
}

async function renderIssues() {
  const [conflicts, dead] = await Promise.all([store.sync.conflicts(), store.sync.deadLetters()]);
  $("#conflicts-card").hidden = conflicts.length === 0;
  $("#conflicts").replaceChildren(...conflicts.map((c) => issue(
    `${c.local.length} change(s) of yours (${c.local.map((e) => e.type).join(", ")}) vs ${c.remote.length} from another device`,
    [["Keep mine", () => store.sync.resolveConflict(c.id)], ["Drop mine", () => store.sync.discardConflict(c.id)]],
  )));
  $("#dead-card").hidden = dead.length === 0;
  $("#dead").replaceChildren(...dead.map((d) => issue(
    `${d.events.length} change(s) refused (${d.failure.status ?? "?"}: ${d.failure.message})`,
    [["Retry", () => store.sync.retryDeadLetter(d.id)], ["Discard", () => store.sync.discardDeadLetter(d.id)]],
  )));
}

function issue(text, actions) {
  const li = document.createElement("li");
  li.append(text);
  const bar = document.createElement("div");
  bar.className = "actions";
  for (const [label, act] of actions) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", async () => { try { await act(); await refresh(); } catch (e) { showError(e); } });
    bar.append(b);
  }
  li.append(bar);
  return li;
}

let refreshing = null;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      const events = await store.read(STREAM);
      live = { events, state: events.reduce(reduce, new Map()), version: events.length };
      await Promise.all([renderTravel(), renderLog(), renderIssues()]);
      renderStatus(store.sync.status());
    } while (again);
  })().catch(showError).finally(() => (refreshing = null));
  return refreshing;
}

async function change(type, data) {
  try {
    await store.append(STREAM, [{ type, data }]);
  } catch (error) {
    showError(error);
  }
  await refresh();
}

// ---- wiring ------------------------------------------------------------------------------
store.subscribe(() => refresh(), {});
store.sync.on("status", (status) => { renderStatus(status); if (status.conflictCount || status.deadLetterCount) renderIssues().catch(showError); });
store.sync.on("synced", () => refresh());
store.sync.on("conflict", () => refresh());
store.sync.on("error", showError);

$("#add").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#new-item");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  travelTo = null;
  await change("ItemAdded", { id: crypto.randomUUID(), text });
  input.focus();
});
$("#offline").addEventListener("change", (e) => {
  localStorage.setItem(offlineKey, e.target.checked ? "1" : "0");
  if (e.target.checked) store.sync.pause(); else store.sync.resume();
  renderStatus(store.sync.status());
});
$("#token").addEventListener("change", (e) => {
  sessionStorage.setItem("tidelog-demo-token", e.target.value);
  store.sync.setToken(e.target.value || null);
});
$("#sync-now").addEventListener("click", async () => {
  try { renderStatus(await store.sync.now()); await refresh(); } catch (e) { showError(e); }
});
$("#policy").addEventListener("change", (e) => {
  localStorage.setItem(policyKey, e.target.value);
  location.reload(); // the conflict policy is an open option
});
$("#time").addEventListener("input", (e) => {
  const value = Number(e.target.value);
  travelTo = value >= live.version ? null : value;
  renderTravel().catch(showError);
});
$("#time-live").addEventListener("click", () => { travelTo = null; renderTravel().catch(showError); });

// Background Sync: the service worker pushes the outbox when the network comes back,
// even after this page is closed (www/sw.js).
// Optional: where module service workers are not supported, sync still runs while a page
// is open, so a failed registration is not shown as an error.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { type: "module" }).catch((error) => {
    console.info("tidelog demo: no background sync in this browser:", error.message);
  });
}

await refresh();
document.body.dataset.ready = "true";
