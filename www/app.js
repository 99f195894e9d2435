// The demo page: the tidelog package from /pkg/, one stream of notes, live log.
import init, { EventStore, version } from "/pkg/tidelog.js";

const status = document.querySelector("#status");
function show(message, isError = false) {
  status.textContent = message;
  status.classList.toggle("error", isError);
}

try {
  await init();
  document.querySelector("#version").textContent = `v${version()}`;
  const store = await EventStore.open("tidelog-demo");
  const log = document.querySelector("#log");
  store.subscribe((event) => {
    const row = log.insertRow(0);
    for (const cell of [event.position, event.version, event.type, JSON.stringify(event.data)]) {
      row.insertCell().textContent = String(cell);
    }
  }, { fromPosition: 1 });
  show(`Ready: events are stored in ${store.storage}.`);

  document.querySelector("#add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.querySelector("#text");
    try {
      const result = await store.append("notes", [{ type: "NoteAdded", data: { text: input.value } }]);
      show(`Appended at version ${result.lastVersion} (position ${result.lastPosition}).`);
      input.value = "";
    } catch (error) {
      show(`Could not append: ${error.message}`, true);
    }
  });
} catch (error) {
  show(`tidelog could not start: ${error.message}`, true);
}
