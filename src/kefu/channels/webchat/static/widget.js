/* kefu web chat widget. Embed with
 *   <script src="https://<kefu>/widget.js" data-channel="<account id or key>" async></script>
 * Optional: data-lang (en, zh_CN), data-identity (a signed identity token), data-color,
 * data-open. Protocol: docs/channels/webchat.md. Hand-written, no dependencies. */
(function () {
  "use strict";
  if (window.KefuChat) return;
  var STRINGS = __KEFU_STRINGS__;
  var me = document.currentScript || document.querySelector("script[data-channel]");
  if (!me) return;
  var channel = me.getAttribute("data-channel");
  var origin = new URL(me.src, location.href).origin;
  var lang = /^zh/i.test(me.getAttribute("data-lang") || document.documentElement.lang ||
    navigator.language || "") ? "zh_CN" : "en";
  var T = STRINGS[lang] || STRINGS.en;
  var identity = me.getAttribute("data-identity") || null;
  var KEY = "kefu-chat:" + origin + ":" + channel;
  var st = load();
  var ws = null, ready = false, info = null, retry = 0, retryTimer = 0, lastFrame = 0;
  var typingTimer = 0, typingSent = 0, readSent = 0, receivedTimer = 0, open = false;
  var agentRead = st.agentRead || 0;

  function t(key, values) {
    return (T[key] || STRINGS.en[key] || key).replace(/\{(\w+)\}/g, function (_, k) {
      return values && values[k] != null ? values[k] : "";
    });
  }
  function load() {
    var s = {};
    try { s = JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { s = {}; }
    s.msgs = s.msgs || []; s.outbox = s.outbox || []; s.seq = s.seq || 0;
    return s;
  }
  function save() {
    st.msgs = st.msgs.slice(-200); st.agentRead = agentRead;
    try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* private mode */ }
  }
  function uid() {
    var a = new Uint8Array(9); (window.crypto || {}).getRandomValues ? crypto.getRandomValues(a) : 0;
    return "c" + Date.now().toString(36) + Array.prototype.map.call(a, function (b) {
      return (b % 36).toString(36); }).join("");
  }

  /* ---- the view ------------------------------------------------------------------------ */
  var color = me.getAttribute("data-color") || "#2563eb";
  var host = document.createElement("div");
  host.setAttribute("data-kefu-chat", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.innerHTML = "<style>" +
    ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI'," +
    "'PingFang SC','Microsoft YaHei',sans-serif}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "button,input,select,textarea{font:inherit}" +
    ":focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".fab{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;" +
    "border-radius:50%;border:0;background:" + color + ";color:#fff;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}.fab svg{width:28px;height:28px;fill:#fff}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;" +
    "border-radius:10px;background:#dc2626;color:#fff;font-size:12px;line-height:20px}" +
    ".panel{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;height:560px;" +
    "max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;" +
    "color:#111827;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;" +
    "font-size:14px;line-height:1.45}.panel[hidden],[hidden]{display:none!important}" +
    "header{background:" + color + ";color:#fff;padding:12px 14px;display:flex;gap:8px;" +
    "align-items:flex-start}header h2{margin:0;font-size:16px}header p{margin:2px 0 0;" +
    "font-size:12.5px;opacity:.92}header .x{margin-left:auto;background:none;border:0;" +
    "color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:0 4px}" +
    ".dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px;" +
    "background:#9ca3af}.on .dot{background:#22c55e}" +
    ".note{background:#fef3c7;color:#78350f;padding:6px 12px;font-size:12.5px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;" +
    "background:#f9fafb}.m{max-width:82%;padding:8px 11px;border-radius:12px;white-space:" +
    "pre-wrap;word-wrap:break-word;background:#fff;border:1px solid #e5e7eb;align-self:" +
    "flex-start}.m.me{align-self:flex-end;background:" + color + ";color:#fff;border-color:" +
    color + "}.m .who{display:block;font-size:12px;font-weight:600;color:#4b5563}" +
    ".m .meta{display:block;font-size:11px;opacity:.75;margin-top:2px;text-align:right}" +
    ".m a{color:inherit}.m img{max-width:100%;border-radius:6px;display:block;margin-top:4px}" +
    ".m.pending{opacity:.7}.sys{align-self:center;font-size:12px;color:#6b7280;text-align:" +
    "center}.typing{padding:0 14px 4px;font-size:12px;color:#6b7280;min-height:18px;" +
    "background:#f9fafb}form.c{display:flex;gap:6px;padding:8px;border-top:1px solid #e5e7eb;" +
    "align-items:flex-end}form.c textarea{flex:1;resize:none;max-height:120px;min-height:40px;" +
    "padding:9px 10px;border:1px solid #d1d5db;border-radius:8px;color:#111827}" +
    ".ib{width:40px;height:40px;border:0;border-radius:8px;background:#f3f4f6;cursor:pointer;" +
    "color:#374151;flex:none}.ib svg{width:20px;height:20px;fill:currentColor}" +
    ".send{background:" + color + ";color:#fff}" +
    "form.pre{padding:16px;display:flex;flex-direction:column;gap:10px;overflow-y:auto;flex:1}" +
    "form.pre label{display:flex;flex-direction:column;gap:4px;font-size:13px;color:#374151}" +
    "form.pre input,form.pre select{padding:9px 10px;border:1px solid #d1d5db;border-radius:8px;" +
    "background:#fff;color:#111827}form.pre .go{padding:10px;border:0;border-radius:8px;" +
    "background:" + color + ";color:#fff;cursor:pointer;font-weight:600}" +
    ".err{color:#b91c1c;font-size:12.5px}" +
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100%;height:100%;max-height:none;" +
    "border-radius:0}form.c textarea,form.pre input,form.pre select{font-size:16px}" +
    ".fab.opened{display:none}}" +
    "@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}" +
    "</style>" +
    '<button class="fab" type="button" aria-expanded="false" aria-controls="kc-panel">' +
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2' +
    ' 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg><span class="badge" hidden ' +
    'aria-hidden="true"></span></button>' +
    '<section class="panel" id="kc-panel" role="dialog" aria-labelledby="kc-title" hidden>' +
    '<header><div><h2 id="kc-title"></h2><p class="sub"><span class="dot"></span>' +
    '<span class="hint"></span></p></div><button class="x" type="button">&times;</button>' +
    '</header><div class="note" role="status" hidden></div>' +
    '<form class="pre" novalidate hidden><p class="intro"></p>' +
    '<label><span class="l-name"></span><input name="name" autocomplete="name" maxlength="200">' +
    '</label><label><span class="l-email"></span><input name="email" type="email" ' +
    'autocomplete="email" maxlength="254"></label><label class="team" hidden><span ' +
    'class="l-team"></span><select name="team"></select></label><p class="err" role="alert"></p>' +
    '<button class="go" type="submit"></button></form>' +
    '<div class="log" role="log" aria-live="polite" tabindex="0"></div>' +
    '<div class="typing" aria-hidden="true"></div>' +
    '<form class="c"><input type="file" class="sr" tabindex="-1" aria-hidden="true">' +
    '<button class="ib att" type="button"><svg viewBox="0 0 24 24" aria-hidden="true"><path ' +
    'd="M16.5 6.5 8 15a2 2 0 0 0 2.8 2.8l8.5-8.5a4 4 0 0 0-5.7-5.7L5 12.2a6 6 0 0 0 8.5 ' +
    '8.5l6.4-6.4-1.4-1.4-6.4 6.4a4 4 0 0 1-5.7-5.7L15 5a2 2 0 0 1 2.8 2.8l-8.5 8.5-.1-.1z"/>' +
    '</svg></button><label class="sr" for="kc-text"></label><textarea id="kc-text" rows="1" ' +
    'maxlength="5000"></textarea><button class="ib send" type="submit"><svg viewBox="0 0 24 24" ' +
    'aria-hidden="true"><path d="M2 21 23 12 2 3v7l15 2-15 2z"/></svg></button></form>' +
    "</section>";
  function $(sel) { return root.querySelector(sel); }
  var fab = $(".fab"), badge = $(".badge"), panel = $(".panel"), logEl = $(".log");
  var note = $(".note"), pre = $("form.pre"), compose = $("form.c"), text = $("textarea");
  var fileIn = $("input[type=file]"), typingEl = $(".typing");
  $("#kc-title").textContent = t("title");
  $(".x").setAttribute("aria-label", t("close"));
  $(".att").setAttribute("aria-label", t("attach"));
  $(".send").setAttribute("aria-label", t("send"));
  $("label[for=kc-text]").textContent = t("message_label");
  text.placeholder = t("placeholder");
  $(".intro").textContent = t("prechat_intro");
  $(".l-name").textContent = t("name");
  $(".l-email").textContent = t("email");
  $(".l-team").textContent = t("team");
  $(".go").textContent = t("start");
  text.value = st.draft || "";

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content != null) e.textContent = content;
    return e;
  }
  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString(lang === "zh_CN" ? "zh-CN" : "en", { hour: "2-digit", minute: "2-digit" });
  }
  function bubble(m, pending) {
    var mine = m.from === "customer";
    var b = el("div", "m" + (mine ? " me" : "") + (pending ? " pending" : ""));
    if (!mine) b.appendChild(el("span", "who", m.author || (info && info.title) || t("agent")));
    if (m.text) b.appendChild(document.createTextNode(m.text));
    (m.files || []).forEach(function (f) {
      var url = f.url ? origin + f.url : null;
      if (url && /^image\//.test(f.type)) {
        var img = el("img"); img.src = url; img.alt = f.name; b.appendChild(img);
      } else {
        var a = el(url ? "a" : "span", null, "\uD83D\uDCCE " + f.name);
        if (url) { a.href = url; a.target = "_blank"; a.rel = "noopener"; }
        b.appendChild(el("br")); b.appendChild(a);
      }
    });
    var status = pending ? t("sending") : mine ? (m.seq <= agentRead ? t("read") : t("sent")) : "";
    b.appendChild(el("span", "meta", clock(m.at) + (status ? " · " + status : "")));
    return b;
  }
  function render() {
    var stick = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 60;
    logEl.textContent = "";
    st.msgs.forEach(function (m) { logEl.appendChild(bubble(m, false)); });
    st.outbox.forEach(function (m) { logEl.appendChild(bubble(m, !m.acked)); });
    if (st.notice) logEl.appendChild(el("div", "sys", st.notice));
    if (stick || open) logEl.scrollTop = logEl.scrollHeight;
    var unread = st.msgs.filter(function (m) { return m.from !== "customer" && m.seq > (st.readSeq || 0); }).length;
    badge.hidden = !unread || open;
    badge.textContent = unread;
    fab.setAttribute("aria-label", t("open") + (unread ? " — " + t("unread", { n: unread }) : ""));
  }
  function showNote(msg) { note.textContent = msg || ""; note.hidden = !msg; }
  function header() {
    if (!info) { $(".hint").textContent = t("connecting"); return; }
    $("#kc-title").textContent = info.title || t("title");
    $(".sub").className = "sub" + (info.online ? " on" : "");
    $(".hint").textContent = info.online ? (info.reply_hint || t("online")) : t("away");
  }
  function needsForm() {
    if (!info || st.profiled || st.msgs.length || st.outbox.length) return false;
    return info.prechat || (info.require_email && !(info.profile && info.profile.email));
  }
  function layout() {
    var form = needsForm();
    pre.hidden = !form; logEl.hidden = form; compose.hidden = form; typingEl.hidden = form;
    if (form) fillForm();
  }
  function fillForm() {
    var p = (info && info.profile) || {};
    if (!pre.name.value && p.name) pre.name.value = p.name;
    if (!pre.email.value && p.email) pre.email.value = p.email;
    pre.email.required = !!info.require_email;
    var teams = info.teams || [];
    $(".team").hidden = !teams.length;
    if (teams.length && !pre.team.options.length) {
      pre.team.appendChild(new Option(t("team_any"), ""));
      teams.forEach(function (x) { pre.team.appendChild(new Option(x.name, x.id)); });
    }
  }

  /* ---- opening and closing ------------------------------------------------------------- */
  function setOpen(on) {
    open = on; panel.hidden = !on;
    fab.setAttribute("aria-expanded", String(on));
    fab.classList.toggle("opened", on);
    st.open = on; save();
    if (on) {
      if (!ws) connect();
      layout(); render(); markRead();
      (needsForm() ? pre.name : text).focus();
    } else { fab.focus(); }
    render();
  }
  fab.addEventListener("click", function () { setOpen(!open); });
  $(".x").addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { markRead(); if (!ws && (st.session || open)) connect(); }
  });
  window.addEventListener("online", function () { if (!ws) connect(); });

  /* ---- the socket ---------------------------------------------------------------------- */
  function connect() {
    clearTimeout(retryTimer);
    if (ws) return;
    ready = false;
    try { ws = new WebSocket(origin.replace(/^http/, "ws") + "/api/v1/webchat/ws"); } catch (e) { return later(); }
    ws.onopen = function () {
      lastFrame = Date.now();
      send({ type: "hello", channel: channel, session: st.session || null, since: st.seq,
        identity: identity, lang: lang });
    };
    ws.onmessage = function (e) {
      lastFrame = Date.now();
      try { onFrame(JSON.parse(e.data)); } catch (err) { /* one bad frame is not fatal */ }
    };
    ws.onclose = function () {
      ws = null; ready = false;
      if (open && info) showNote(t("reconnecting"));
      later();
    };
  }
  function later() {
    var wait = Math.min(10000, 500 * Math.pow(2, retry++)) * (0.5 + Math.random());
    retryTimer = setTimeout(connect, wait);
  }
  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  setInterval(function () {
    if (!ws) return;
    if (Date.now() - lastFrame > 60000) { ws.close(); return; }
    send({ type: "ping" });
  }, 25000);

  function onFrame(f) {
    var h = handlers[f.type];
    if (h) h(f);
  }
  var handlers = {
    welcome: function (f) {
      if (f.conversation !== (st.conversation || null)) {
        st.msgs = []; st.seq = 0; st.readSeq = 0; agentRead = 0; st.profiled = false; st.notice = "";
        if (!f.conversation) { st.session = null; st.conversation = null; }
      }
      info = f; ready = true; retry = 0;
      agentRead = Math.max(agentRead, f.agent_read_seq || 0);
      showNote(""); header(); layout(); render(); flush();
    },
    session: function (f) { st.session = f.session; st.conversation = f.conversation; save(); },
    message: function (f) {
      if (f.seq <= st.seq) return;
      st.seq = f.seq;
      st.msgs.push(f);
      if (f.client_id) dropPending(f.client_id);
      st.outbox = st.outbox.filter(function (m) { return !m.acked || m.acked > st.seq; });
      if (f.from !== "customer") typingEl.textContent = "";
      save(); render(); markRead();
      clearTimeout(receivedTimer);
      receivedTimer = setTimeout(function () { send({ type: "received", seq: st.seq }); }, 300);
    },
    ack: function (f) {  /* stored: shown as sent until its numbered copy arrives */
      var item = findPending(f.client_id);
      if (item && f.seq > st.seq) item.acked = f.seq; else dropPending(f.client_id);
      save(); render();
    },
    error: onError,
    typing: function (f) {
      clearTimeout(typingTimer);
      typingEl.textContent = f.on ? t("typing", { name: f.name || t("agent") }) : "";
      if (f.on) typingTimer = setTimeout(function () { typingEl.textContent = ""; }, 8000);
    },
    read: function (f) { agentRead = Math.max(agentRead, f.seq || 0); save(); render(); },
    profile: function (f) {
      st.profiled = true; info.profile = f;
      if (f.email) st.notice = t("will_email", { email: f.email });
      save(); layout(); render(); text.focus();
    }
  };
  function onError(f) {
    var code = f.code || "error";
    if (/^identity_/.test(code)) { showNote(t(code === "identity_expired" ? code : "identity_invalid")); return; }
    if (code === "unavailable" || code === "origin_not_allowed") { showNote(t("unavailable")); return; }
    if (!pre.hidden) { $(".err").textContent = f.detail || t("error"); return; }
    var item = f.client_id && findPending(f.client_id);
    if (code === "rate_limited" || code === "busy") {
      showNote(t(code === "busy" ? "error" : "rate_limited"));
      setTimeout(function () { showNote(""); flush(); }, 3000);
      return;
    }
    if (item) {  /* refused for good: the text goes back to the composer, never lost */
      dropPending(item.client_id);
      if (item.text) { text.value = item.text + (text.value ? "\n" + text.value : ""); st.draft = text.value; }
      save(); render();
    }
    showNote(code === "too_long" ? t("too_long") : (f.detail || t("error")));
  }

  /* ---- sending ------------------------------------------------------------------------- */
  function findPending(id) { return st.outbox.filter(function (m) { return m.client_id === id; })[0]; }
  function dropPending(id) { st.outbox = st.outbox.filter(function (m) { return m.client_id !== id; }); }
  function flush() {
    if (!ready) return;
    st.outbox.forEach(function (m) {
      if (!m.acked) send({ type: "message", client_id: m.client_id, text: m.text, uploads: m.uploads || [] });
    });
  }
  function queue(msg, uploads, files) {
    var m = { client_id: uid(), from: "customer", text: msg, uploads: uploads || [], files: files || [],
      at: new Date().toISOString() };
    st.outbox.push(m); save(); render();
    if (!ws) connect(); else if (ready) send({ type: "message", client_id: m.client_id, text: m.text, uploads: m.uploads });
  }
  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var msg = text.value.trim();
    if (!msg) return;
    text.value = ""; st.draft = ""; typing(false);
    queue(msg);
    text.focus();
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); compose.requestSubmit ? compose.requestSubmit() : compose.dispatchEvent(new Event("submit")); }
  });
  text.addEventListener("input", function () {
    st.draft = text.value; save();
    text.style.height = "auto"; text.style.height = Math.min(120, text.scrollHeight) + "px";
    typing(!!text.value);
  });
  function typing(on) {
    var now = Date.now();
    if (on && now - typingSent < 2000) return;
    if (!on && !typingSent) return;
    typingSent = on ? now : 0;
    if (st.session) send({ type: "typing", on: on });
  }
  function markRead() {
    if (!open || document.visibilityState !== "visible" || !st.seq) return;
    st.readSeq = st.seq; save(); render();
    if (st.seq > readSent && send({ type: "read", seq: st.seq })) readSent = st.seq;
  }
  pre.addEventListener("submit", function (e) {
    e.preventDefault();
    var email = pre.email.value.trim();
    if (info.require_email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      $(".err").textContent = t("email_needed"); pre.email.focus(); return;
    }
    $(".err").textContent = "";
    send({ type: "profile", name: pre.name.value.trim(), email: email || null,
      team_id: pre.team.value ? Number(pre.team.value) : null });
  });

  /* ---- files --------------------------------------------------------------------------- */
  $(".att").addEventListener("click", function () { fileIn.click(); });
  fileIn.addEventListener("change", function () {
    var file = fileIn.files[0];
    fileIn.value = "";
    if (!file) return;
    var limit = (info && info.max_upload_bytes) || 0;
    if (limit && file.size > limit) { showNote(t("file_too_large", { size: Math.floor(limit / 1e6) })); return; }
    withSession(function () { upload(file); });
  });
  function withSession(then) {
    if (st.session) return then();
    var waited = 0;
    send({ type: "profile", name: "", email: null, team_id: null });
    (function poll() {
      if (st.session) return then();
      if ((waited += 100) < 10000) setTimeout(poll, 100);
    })();
  }
  function upload(file) {
    var body = new FormData();
    body.append("token", st.session);
    body.append("file", file, file.name);
    showNote(t("sending"));
    fetch(origin + "/api/v1/webchat/uploads", { method: "POST", body: body })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (r) {
        if (!r.ok) throw new Error(r.j.detail || r.j.title);
        showNote("");
        queue("", [r.j.id], [{ name: r.j.name, type: r.j.type }]);
      })
      .catch(function (err) { showNote(t("upload_failed", { reason: err.message })); });
  }

  /* ---- start --------------------------------------------------------------------------- */
  window.KefuChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    identify: function (token) { identity = token; if (ws) ws.close(); else connect(); }
  };
  function start() {
    document.body.appendChild(host);
    header(); render();
    if (st.session || st.outbox.length) connect();
    if (me.hasAttribute("data-open") || st.open) setOpen(true);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
