// Routing in the browser: one socket per page to /api/v1/routing/ws.
// - The seat widget (#seat, in the header): offers, state changes and assignments make the
//   page fetch /seat again (htmx, the "routing" event); a ping every 15 s is the heartbeat
//   that keeps the agent online; offer cards count down; "y" accepts the oldest offer.
// - The wallboard (#board): each push makes it fetch its board again ("wallboard" event);
//   waits and times in state tick here between pushes.
(() => {
  "use strict";
  const $ = (s, root = document) => root.querySelector(s);
  const $$ = (s, root = document) => Array.from(root.querySelectorAll(s));
  const seat = $("#seat");
  const board = $("#board");
  if (!seat && !board) return;

  const fire = (() => {
    const due = {};
    return (name) => {
      if (due[name]) return;
      due[name] = setTimeout(() => { due[name] = 0; document.body.dispatchEvent(new Event(name)); }, 80);
    };
  })();

  let retry = 1000;
  let pinger = 0;
  const connect = () => {
    const path = (board && board.dataset.socket) || seat.dataset.socket;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${path}`);
    ws.addEventListener("open", () => {
      retry = 1000;
      if (seat) seat.classList.remove("seat-lost");
      pinger = setInterval(() => ws.send(JSON.stringify({ type: "ping" })), 15000);
    });
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data);
      if (["offer", "offer_closed", "state", "assigned", "hello"].includes(msg.type)) fire("routing");
      if (msg.type === "offer") attention(msg.offer);
      if (msg.type === "wallboard") fire("wallboard");
    });
    ws.addEventListener("close", () => {
      clearInterval(pinger);
      if (seat) { seat.classList.add("seat-lost"); seat.title = seat.dataset.offline || ""; }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  };

  // A new offer while the tab is in the background shows in its title.
  const baseTitle = document.title;
  const attention = (offer) => {
    if (!document.hidden || !seat) return;
    document.title = `● ${seat.dataset.offerTitle || ""}: ${offer.title} · ${baseTitle}`;
  };
  document.addEventListener("visibilitychange", () => { if (!document.hidden) document.title = baseTitle; });

  // Countdowns on offer cards: seconds left when rendered, counted on this clock.
  const stamp = () => {
    const now = performance.now();
    $$(".offer[data-left]").forEach((card) => { card.deadline = now + parseFloat(card.dataset.left) * 1000; });
    $$("[data-since]").forEach((el) => {
      el.origin = Date.parse(el.dataset.since) - (Date.parse(el.dataset.now) - Date.now());
    });
  };
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
  };
  const tick = () => {
    const now = performance.now();
    $$(".offer").forEach((card) => {
      if (!card.deadline) return;
      const left = (card.deadline - now) / 1000;
      const out = $(".offer-clock", card);
      if (out) out.textContent = String(Math.max(0, Math.ceil(left)));
      card.classList.toggle("offer-late", left < 6);
      if (left <= -2) fire("routing");
    });
    $$("[data-since]").forEach((el) => { if (el.origin) el.textContent = clock((Date.now() - el.origin) / 1000); });
  };
  document.body.addEventListener("htmx:afterSwap", (e) => {
    stamp();
    const dialog = e.target.closest && e.target.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
  });
  document.addEventListener("click", (e) => {
    const close = e.target.closest("[data-close-dialog]");
    if (close && close.closest("dialog")) close.closest("dialog").close();
  });

  // One key takes the oldest offer, unless the agent is typing.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "y" || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest("input, textarea, select, [contenteditable]")) return;
    const accept = $(".offer [data-accept]");
    if (accept) { e.preventDefault(); accept.click(); }
  });

  stamp();
  setInterval(tick, 1000);
  connect();
})();
