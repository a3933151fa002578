/* kefu: keyboard shortcuts, live updates (SSE), presence, bulk selection, uploads.
   No user-facing text lives here: it comes from the server-rendered page (templates,
   data-* attributes) so the catalogues translate everything. */
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";
  const typingTarget = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const debounce = (fn, ms) => { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; };

  document.addEventListener("htmx:configRequest", (e) => {
    if (csrf()) e.detail.headers["X-CSRF-Token"] = csrf();
  });
  // After any swap the form is clean again.
  document.addEventListener("htmx:afterSwap", (e) => {
    $$("form[data-dirty]", e.target.parentNode || document).forEach((f) => { f.classList.remove("dirty"); f.dataset.dirty = ""; });
  });

  /* ---- keyboard ------------------------------------------------------------------ */
  const page = () => document.body.dataset.page || "";
  const rows = () => $$("tr.row[data-id]");
  function moveCursor(step) {
    const all = rows();
    if (!all.length) return;
    let i = all.findIndex((r) => r.classList.contains("cursor"));
    i = i < 0 ? 0 : Math.min(all.length - 1, Math.max(0, i + step));
    all.forEach((r) => r.classList.remove("cursor"));
    all[i].classList.add("cursor");
    all[i].scrollIntoView({ block: "nearest" });
    const link = $("a.open", all[i]);
    if (link) link.focus({ preventScroll: true });
  }
  const cursorRow = () => $("tr.row.cursor") || rows()[0];
  function composer(mode) {
    const radio = $(`#composer input[name="mode"][value="${mode}"]`);
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    const box = $("#composer textarea");
    if (box) box.focus();
  }
  const keys = {
    "?": () => { const d = $("#shortcuts"); if (d && !d.open) d.showModal(); },
    "/": () => { const s = $("#list-search") || $("#top-search"); if (s) { s.focus(); s.select(); } },
    j: () => page() === "inbox" && moveCursor(1),
    k: () => page() === "inbox" && moveCursor(-1),
    Enter: () => { if (page() === "inbox") { const r = cursorRow(); const a = r && $("a.open", r); if (a) a.click(); } },
    x: () => { if (page() === "inbox") { const r = cursorRow(); const c = r && $('input[name="ids"]', r); if (c) { c.checked = !c.checked; c.dispatchEvent(new Event("change", { bubbles: true })); } } },
    r: () => page() === "ticket" && composer("reply"),
    n: () => page() === "ticket" ? composer("note") : (window.location.href = "/tickets/new"),
    a: () => {
      if (page() === "ticket") { const s = $("#side [name=assignee_id]"); if (s) s.focus(); return; }
      if (page() === "inbox") {
        if (!$$('input[name="ids"]:checked').length) keys.x();
        const s = $("#bulk-assignee"); if (s) s.focus();
      }
    },
  };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typingTarget(e.target)) {
      if (e.key === "Escape") e.target.blur();
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) return;
      return;
    }
    const fn = keys[e.key];
    if (fn && !(e.key === "Enter" && e.target.tagName === "A")) { e.preventDefault(); fn(); }
  });
  // Ctrl/Cmd+Enter sends the composer.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.closest("#composer")) {
      e.preventDefault();
      const b = $("#composer button[type=submit]");
      if (b) b.click();
    }
  });

  /* ---- bulk selection ------------------------------------------------------------ */
  function syncBulk() {
    const picked = $$('input[name="ids"]:checked');
    const bar = $("#bulkbar");
    if (!bar) return;
    bar.hidden = picked.length === 0;
    const n = $("[data-picked]", bar);
    if (n) n.textContent = picked.length;
    rows().forEach((r) => { const c = $('input[name="ids"]', r); r.classList.toggle("picked", !!(c && c.checked)); });
  }
  document.addEventListener("change", (e) => {
    if (e.target.matches("#pick-all")) $$('input[name="ids"]').forEach((c) => { c.checked = e.target.checked; });
    if (e.target.matches('input[name="ids"], #pick-all')) syncBulk();
    const form = e.target.closest("form[data-track]");
    if (form) { form.dataset.dirty = "1"; form.classList.add("dirty"); }
    if (e.target.matches('#composer input[name="mode"]')) {
      $("#composer").classList.toggle("note-mode", e.target.value === "note");
    }
  });
  document.addEventListener("input", (e) => {
    const form = e.target.closest("form[data-track]");
    if (form) { form.dataset.dirty = "1"; form.classList.add("dirty"); }
  });
  document.addEventListener("htmx:afterSettle", syncBulk);

  /* ---- attachments: uploaded to the API, then sent with the message by id ------- */
  document.addEventListener("change", async (e) => {
    const input = e.target;
    if (!input.matches("input[data-upload]")) return;
    const list = $(input.dataset.upload);
    const tpl = $("#attachment-chip");
    for (const file of Array.from(input.files || [])) {
      const body = new FormData();
      body.append("file", file);
      const res = await fetch("/api/v1/attachments", { method: "POST", body, headers: { "X-CSRF-Token": csrf() } });
      const chip = tpl.content.firstElementChild.cloneNode(true);
      $("[data-name]", chip).textContent = file.name;
      if (res.ok) {
        const data = await res.json();
        $("input", chip).value = data.id;
      } else {
        const problem = await res.json().catch(() => ({}));
        chip.classList.add("error");
        $("input", chip).remove();
        $("[data-error]", chip).hidden = false;
        $("[data-error]", chip).title = problem.detail || res.status;
      }
      list.appendChild(chip);
    }
    input.value = "";
  });
  document.addEventListener("click", (e) => {
    const remove = e.target.closest("[data-remove-chip]");
    if (remove) remove.closest(".file").remove();
    const tab = e.target.closest("[data-tab]");
    if (tab) {
      $$("[data-tab]").forEach((t) => t.setAttribute("aria-selected", t === tab ? "true" : "false"));
      $$("[data-tab-panel]").forEach((p) => { p.hidden = p.dataset.tabPanel !== tab.dataset.tab; });
    }
  });

  /* ---- live updates -------------------------------------------------------------- */
  const live = { key: "", me: document.body.dataset.me || "" };
  function maxOf(attr) {
    return $$(`[${attr}]`).reduce((m, el) => Math.max(m, parseInt(el.getAttribute(attr), 10) || 0), 0);
  }
  const ticketId = () => document.body.dataset.ticket;

  const refreshTimeline = debounce(() => {
    const box = $("#timeline");
    if (!box || !window.htmx) return;
    const url = `/tickets/${ticketId()}/timeline?after_message=${maxOf("data-mid")}&after_event=${maxOf("data-eid")}`;
    htmx.ajax("GET", url, { target: "#timeline", swap: "beforeend" }).then(() => {
      const end = $("#timeline-end"); if (end && nearBottom()) end.scrollIntoView({ block: "end" });
    });
  }, 250);
  const nearBottom = () => window.innerHeight + window.scrollY > document.body.scrollHeight - 300;
  function refreshSide(byOther) {
    const form = $("#side form[data-track]");
    if (form && form.dataset.dirty) { if (byOther) $("#stale").hidden = false; return; }
    htmx.ajax("GET", `/tickets/${ticketId()}/side`, { target: "#side", swap: "innerHTML" });
  }
  document.body.addEventListener("ticket-saved", () => { refreshTimeline(); $("#stale") && ($("#stale").hidden = true); });

  const pending = new Set();
  const fetchRows = debounce(() => {
    const list = $("#ticket-rows");
    if (!list || !pending.size) return;
    const ids = Array.from(pending); pending.clear();
    const base = list.dataset.rowsUrl;
    fetch(`${base}&ids=${ids.join(",")}`, { headers: { "HX-Request": "true" } })
      .then((r) => r.text()).then((html) => placeRows(list, ids, html));
  }, 600);
  function placeRows(list, ids, html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const found = new Set();
    $$("tr.row[data-id]", tpl.content).forEach((row) => {
      found.add(row.dataset.id);
      const old = $(`tr.row[data-id="${row.dataset.id}"]`, list);
      const wasCursor = old && old.classList.contains("cursor");
      const wasPicked = old && $('input[name="ids"]', old) && $('input[name="ids"]', old).checked;
      if (old) old.replaceWith(row); else { row.classList.add("arrived"); list.prepend(row); announce(row); }
      if (wasCursor) row.classList.add("cursor");
      if (wasPicked) $('input[name="ids"]', row).checked = true;
      if (window.htmx) htmx.process(row);
    });
    ids.filter((id) => !found.has(String(id))).forEach((id) => {
      const old = $(`tr.row[data-id="${id}"]`, list);
      if (old) old.classList.add("left-view");
    });
    const empty = $("#empty-list"); if (empty && $$("tr.row", list).length) empty.hidden = true;
    syncBulk();
  }
  function announce(row) {
    const region = $("#live-region"), link = $("a.open", row);
    if (region && link) region.textContent = `${region.dataset.arrived} ${link.textContent.trim()}`;
  }
  const refreshCounts = debounce(() => {
    const nav = $("#views");
    if (nav && window.htmx) htmx.ajax("GET", nav.dataset.countsUrl, { target: "#views", swap: "outerHTML" });
  }, 2500);
  document.body.addEventListener("inbox-changed", () => {
    const list = $("#list");
    if (list && window.htmx) htmx.ajax("GET", list.dataset.listUrl, { target: "#list", swap: "outerHTML" });
    refreshCounts();
  });

  function onTicketNotice(data, kind) {
    if (page() === "inbox") { pending.add(data.id); fetchRows(); refreshCounts(); return; }
    if (page() !== "ticket" || String(data.id) !== ticketId()) return;
    refreshTimeline();
    if (kind === "ticket") refreshSide(String(data.actor || "") !== live.me);
  }
  function connect() {
    const url = document.body.dataset.live;
    if (!url || !window.EventSource) return;
    const es = new EventSource(url);
    es.addEventListener("hello", (e) => { live.key = JSON.parse(e.data).key; });
    es.addEventListener("ticket", (e) => onTicketNotice(JSON.parse(e.data), "ticket"));
    es.addEventListener("message", (e) => onTicketNotice(JSON.parse(e.data), "message"));
    es.addEventListener("presence", (e) => { const p = $("#presence"); if (p) p.innerHTML = e.data; });
  }

  /* ---- presence: tell others when this reader is typing a reply ------------------ */
  let typingSent = 0;
  const sendPresence = (state) => {
    if (!live.key) return;
    const body = new URLSearchParams({ key: live.key, state });
    fetch("/live/presence", { method: "POST", body, headers: { "X-CSRF-Token": csrf() } });
  };
  const stoppedTyping = debounce(() => { typingSent = 0; sendPresence("viewing"); }, 5000);
  document.addEventListener("input", (e) => {
    if (!e.target.closest("#composer")) return;
    if (Date.now() - typingSent > 4000) { typingSent = Date.now(); sendPresence("typing"); }
    stoppedTyping();
  });

  // Confirmations fade by themselves; errors stay until dismissed.
  const fadeNotices = () => $$("#flash .notice.ok").forEach((n) => setTimeout(() => n.remove(), 4000));
  document.addEventListener("htmx:afterSettle", (e) => { if (e.target.id === "flash") fadeNotices(); });

  document.addEventListener("DOMContentLoaded", () => {
    fadeNotices();
    connect();
    syncBulk();
    if (page() === "inbox" && rows().length) rows()[0].classList.add("cursor");
    const end = $("#timeline-end"); if (end) end.scrollIntoView({ block: "end" });
    $$("[data-close-dialog]").forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));
  });
})();
