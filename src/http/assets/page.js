// The page's behaviour: refresh the server-rendered part, filter rows, live tail, actions.
// Plain browser JavaScript (no build step), embedded in the page by page.ts.
(() => {
  const main = document.getElementById("main");
  const filter = document.getElementById("filter");
  const token = document.getElementById("token");
  const message = document.getElementById("message");
  const tail = document.getElementById("tail");
  if (token) {
    token.value = sessionStorage.getItem("sgevents-token") ?? "";
    token.addEventListener("input", () => sessionStorage.setItem("sgevents-token", token.value));
  }
  const applyFilter = () => {
    const text = filter.value.trim().toLowerCase();
    for (const row of main.querySelectorAll("tr[data-plugin]")) {
      row.hidden = text !== "" && !row.dataset.plugin.toLowerCase().includes(text);
    }
  };
  filter.addEventListener("input", applyFilter);
  const refresh = async () => {
    try {
      const response = await fetch("/parts/main");
      if (response.ok) {
        main.innerHTML = await response.text();
        applyFilter();
      }
    } catch {
      // The daemon restarting: try again at the next tick.
    }
  };
  setInterval(refresh, 5000);
  const events = new EventSource("/api/events");
  events.addEventListener("delivered", (message) => {
    for (const event of JSON.parse(message.data)) {
      const item = document.createElement("li");
      const at = new Date(event.at).toLocaleTimeString();
      item.textContent = `${at} ${event.plugin} ← event ${event.id} ${event.eventType}`;
      tail.prepend(item);
    }
    while (tail.children.length > 100) tail.lastChild.remove();
  });
  main.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-action]");
    if (!button) return;
    const { action, plugin } = button.dataset;
    let body = {};
    if (action === "skip") {
      const to = prompt(`Skip ${plugin} to which event id? ("latest" for the newest)`, "latest");
      if (to === null) return;
      body = { to: to === "latest" ? "latest" : Number(to) };
    } else if (action === "replay") {
      const range = prompt(`Replay which events to ${plugin}? (from-to, e.g. 100-200)`);
      if (range === null) return;
      const [from, to] = range.split("-").map(Number);
      body = { from, to };
    }
    message.textContent = `${action} ${plugin}…`;
    const response = await fetch(`/api/plugins/${encodeURIComponent(plugin)}/${action}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token?.value ?? ""}`,
      },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    message.textContent = answer.applied
      ? `${action} ${plugin}: applied`
      : `${action} ${plugin}: ${answer.error ?? answer.message ?? response.status}`;
    await refresh();
  });
})();
