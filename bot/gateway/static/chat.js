// Civicline web chat: speaks Rasa's REST channel payloads to the gateway, and polls
// /webhooks/rest/updates for what is said outside its own request/response (staff replies,
// queue updates, rating questions). Every line the gateway stored has an id; each is shown once.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const key = "civicline.sender";
  const cursorKey = "civicline.after";
  let sender = localStorage.getItem(key);
  const fresh = !sender;
  if (fresh) {
    sender = crypto.randomUUID();
    localStorage.setItem(key, sender);
    localStorage.setItem(cursorKey, "0");
  }

  const POLL_MS = 3000; // while the tab is visible
  const HIDDEN_POLL_MS = 30000; // while it is hidden
  const MAX_POLL_MS = 60000; // longest wait after repeated errors
  const seen = new Set(); // ids of the lines shown
  // The updates already fetched: everything up to this id. Kept across reloads, so what staff
  // said while the page was closed is shown when the citizen comes back.
  const stored = parseInt(localStorage.getItem(cursorKey) || "", 10);
  let cursor = Number.isInteger(stored) && stored >= 0 ? stored : null;
  let failures = 0;
  let timer = null;
  let polling = false;

  function add(kind, text, buttons, label) {
    const item = document.createElement("li");
    item.className = kind;
    if (label) {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = label;
      item.appendChild(who);
    }
    item.appendChild(document.createTextNode(text));
    if (buttons && buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of buttons) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.addEventListener("click", () => send(b.payload, b.title));
        row.appendChild(btn);
      }
      item.appendChild(row);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  // One line from the gateway (a webhook reply or an update), unless it was shown already.
  function show(m) {
    if (typeof m.id === "number") {
      if (seen.has(m.id)) return;
      seen.add(m.id);
    }
    if (m.author === "staff") {
      add("staff", m.text || "", m.buttons, `${m.staff_name || "Staff"} (staff)`);
    } else if (m.author === "system") {
      add("system", m.text || "", m.buttons);
    } else {
      add("bot", m.text || "", m.buttons);
    }
  }

  async function send(message, shown, silent) {
    if (!silent) add("user", shown || message);
    try {
      const res = await fetch("/webhooks/rest/webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender, message }),
      });
      const data = await res.json();
      if (!res.ok) {
        add("bot error", data.error || "Sorry, something went wrong.");
        return;
      }
      for (const m of data) show(m);
      if (cursor === null) {
        // No cursor kept (an older page): fetch updates from these replies on (they come back
        // once more and are skipped), so nothing said meanwhile is missed.
        const ids = data.map((m) => m.id).filter((id) => typeof id === "number");
        if (ids.length) {
          cursor = Math.min(...ids) - 1;
          schedule(POLL_MS);
        }
      }
    } catch (err) {
      add("bot error", "Sorry, the assistant can't be reached right now. Please try again.");
    }
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function nextDelay() {
    const base = document.hidden ? HIDDEN_POLL_MS : POLL_MS;
    return Math.min(base * 2 ** failures, MAX_POLL_MS);
  }

  async function poll() {
    if (cursor === null || polling) return;
    polling = true;
    try {
      const params = new URLSearchParams({ sender, after: String(cursor) });
      const res = await fetch(`/webhooks/rest/updates?${params}`, { cache: "no-store" });
      if (!res.ok) throw new Error(`updates: HTTP ${res.status}`);
      const data = await res.json();
      for (const m of data) {
        show(m);
        if (typeof m.id === "number" && m.id > cursor) cursor = m.id;
      }
      localStorage.setItem(cursorKey, String(cursor));
      failures = 0;
      if (data.length >= 100) {
        polling = false;
        schedule(0); // more are waiting
        return;
      }
    } catch (err) {
      failures = Math.min(failures + 1, 5);
    }
    polling = false;
    schedule(nextDelay());
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && cursor !== null) schedule(0); // catch up at once when back
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  send("hello", null, true); // the assistant greets first; no pretend message from the citizen
  if (cursor !== null) schedule(POLL_MS);
})();
