// Civicline staff console: live queue (SSE), live transcript (polling), canned replies.
// Progressive enhancement only: every page works without this file.
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  const minutes = Math.floor((seconds % 3600) / 60);
  return Math.floor(seconds / 3600) + " h " + String(minutes).padStart(2, "0") + " min";
}

function tickWaits() {
  let longest = 0;
  document.querySelectorAll("#queue-table td.wait[data-since]").forEach((cell) => {
    const seconds = (Date.now() - Date.parse(cell.dataset.since)) / 1000;
    longest = Math.max(longest, seconds);
    cell.textContent = duration(seconds);
    cell.parentElement.classList.toggle("long-wait", seconds >= 300);
  });
  const rows = document.querySelectorAll("#queue-table tbody tr").length;
  const summary = document.getElementById("queue-summary");
  if (summary) {
    summary.textContent = rows ? rows + " waiting · longest wait " + duration(longest) : "Nobody is waiting.";
  }
}

function renderQueue(table, waiting) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of waiting) {
    const row = el("tr", null, "priority-" + r.priority);
    row.append(el("td", r.position));
    const wait = el("td", duration(r.waiting_seconds), "wait");
    wait.dataset.since = r.requested_at;
    row.append(wait, el("td", r.citizen), el("td", r.channel), el("td", r.department),
      el("td", r.priority), el("td", r.reason));
    const open = el("td");
    const link = el("a", "Open");
    link.href = r.url;
    open.append(link);
    row.append(open);
    body.append(row);
  }
  tickWaits();
}

function liveQueue() {
  const table = document.getElementById("queue-table");
  if (!table || !window.EventSource) return;
  const source = new EventSource(table.dataset.stream);
  source.addEventListener("queue", (event) => renderQueue(table, JSON.parse(event.data).waiting));
  source.addEventListener("signed-out", () => { source.close(); window.location.reload(); });
  setInterval(tickWaits, 1000);
}

function transcriptLine(m) {
  const item = el("li", null, "line author-" + m.author_kind);
  item.dataset.messageId = m.id;
  const meta = el("div", null, "meta");
  meta.append(el("time", m.at), document.createTextNode(" · "), el("span", m.channel, "channel"),
    document.createTextNode(" · "), el("strong", m.author));
  if (m.delivery) meta.append(el("span", m.delivery, "delivery delivery-" + m.delivery.split(" ")[0]));
  item.append(meta, el("div", m.text, "text"));
  if (m.error) item.append(el("div", "Assistant error: " + m.error, "error-note"));
  return item;
}

function liveTranscript() {
  const list = document.getElementById("transcript");
  if (!list) return;
  let busy = false;
  async function poll() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(list.dataset.api + "?after=" + list.dataset.after,
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      const data = await response.json();
      const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      for (const m of data.messages) {
        list.querySelector("li.empty")?.remove();
        if (!list.querySelector('[data-message-id="' + m.id + '"]')) list.append(transcriptLine(m));
        list.dataset.after = Math.max(Number(list.dataset.after), m.id);
      }
      for (const [id, label] of Object.entries(data.delivery || {})) {
        const meta = list.querySelector('[data-message-id="' + id + '"] .meta');
        if (!meta) continue;
        let badge = meta.querySelector(".delivery");
        if (!badge) { badge = el("span"); meta.append(badge); }
        badge.textContent = label;
        badge.className = "delivery delivery-" + label.split(" ")[0];
      }
      if (nearBottom && data.messages.length) list.scrollTop = list.scrollHeight;
    } catch (error) {
      // network hiccup: try again on the next tick
    } finally {
      busy = false;
    }
  }
  list.scrollTop = list.scrollHeight;
  setInterval(poll, 2000);
}

function cannedReplies() {
  document.querySelectorAll("select.canned").forEach((select) => {
    select.addEventListener("change", () => {
      const target = document.getElementById(select.dataset.target);
      if (!target || !select.value) return;
      target.value = target.value ? target.value + "\n" + select.value : select.value;
      select.value = "";
      target.focus();
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveQueue();
  liveTranscript();
  cannedReplies();
});
