// Civicline web chat: speaks Rasa's REST channel payloads to the gateway.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const key = "civicline.sender";
  let sender = localStorage.getItem(key);
  if (!sender) {
    sender = crypto.randomUUID();
    localStorage.setItem(key, sender);
  }

  function add(kind, text, buttons) {
    const item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
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
      for (const m of data) add("bot", m.text || "", m.buttons);
    } catch (err) {
      add("bot error", "Sorry, the assistant can't be reached right now. Please try again.");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  send("hello", null, true); // the assistant greets first; no pretend message from the citizen
})();
