// The rule and macro builder: pick-lists for the trigger, nested all/any condition groups
// and actions, built from the catalogue the page embeds (#rules-catalogue, translated) and
// saved as the JSON the API takes. Errors come back with the path of each fault
// (conditions.all.1.op) and are shown beside the control that has that path.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";
  const data = (id) => JSON.parse(document.getElementById(id).textContent);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "loc") node.dataset.loc = v.join(".");
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const words = (text) => String(text || "").split(/[,，、\n]/).map((w) => w.trim()).filter(Boolean);
  const option = (value, label, selected) => el("option", { value, selected: selected ? true : null }, label);

  function select(values, current, onChange, attrs) {
    const node = el("select", attrs || {}, values.map(([v, l]) => option(v, l, String(v) === String(current))));
    node.addEventListener("change", () => onChange(node.value));
    return node;
  }
  function input(value, onChange, attrs) {
    const node = el("input", Object.assign({ type: "text", value: value === undefined || value === null ? "" : value }, attrs || {}));
    node.addEventListener("input", () => onChange(node.value));
    return node;
  }
  function multi(values, chosen, onChange, attrs) {
    const node = el("select", Object.assign({ multiple: true, size: Math.min(6, Math.max(2, values.length)) }, attrs || {}),
      values.map(([v, l]) => option(v, l, (chosen || []).map(String).includes(String(v)))));
    node.addEventListener("change", () => onChange([...node.selectedOptions].map((o) => o.value)));
    return node;
  }
  function checks(values, chosen, onChange, loc) {
    const box = el("div", { class: "checks", loc });
    const set = new Set(chosen || []);
    for (const [v, l] of values) {
      const cb = el("input", { type: "checkbox", value: v, checked: set.has(v) ? true : null });
      cb.addEventListener("change", () => { cb.checked ? set.add(v) : set.delete(v); onChange([...set]); });
      box.append(el("label", { class: "check" }, cb, " ", l));
    }
    return box;
  }

  function Builder(root, mode) {
    const cat = data("rules-catalogue");
    const t = data("rules-i18n");
    const state = data("rules-definition");
    const fieldsBy = Object.fromEntries(cat.fields.map((f) => [f.name, f]));
    const eventsBy = Object.fromEntries(cat.events.map((e) => [e.name, e]));
    const subject = () => ((eventsBy[(state.trigger || [])[0]] || {}).subject || "ticket");
    const names = (list) => list.map((n) => [n, n]);

    function render() {
      root.replaceChildren(
        mode === "rule" ? triggerPart() : null,
        mode === "rule" ? el("h2", {}, t.conditions) : null,
        mode === "rule" ? group(state.conditions, ["conditions"], 0, null) : null,
        el("h2", {}, t.actions),
        actionsPart(),
      );
    }

    // -- trigger --------------------------------------------------------------------------
    function triggerPart() {
      const timeMode = (state.trigger || []).includes("time");
      const box = el("fieldset", { class: "card", loc: ["trigger"] }, el("legend", {}, t.when));
      const kind = select([["event", t.on_events], ["time", t.on_time]], timeMode ? "time" : "event", (v) => {
        state.trigger = v === "time" ? ["time"] : ["ticket.created"];
        render();
      }, { "aria-label": t.when });
      box.append(kind);
      if (!timeMode) {
        const events = cat.events.filter((e) => e.name !== "time");
        box.append(checks(events.map((e) => [e.name, e.label + (e.note ? " — " + e.note : "")]), state.trigger, (v) => {
          state.trigger = v;
          render();
        }, ["trigger"]));
      } else {
        box.append(el("p", { class: "hint" }, t.time_hint));
      }
      return box;
    }

    // -- conditions -----------------------------------------------------------------------
    function group(node, loc, depth, remove) {
      const kind = "any" in node ? "any" : "all";
      node[kind] = node[kind] || [];
      const items = node[kind];
      const box = el("div", { class: "cond-group", loc });
      const head = el("div", { class: "cond-head" },
        select([["all", t.all_of], ["any", t.any_of]], kind, (v) => {
          if (v !== kind) { node[v] = node[kind]; delete node[kind]; render(); }
        }, { "aria-label": t.match }),
        el("span", { class: "grow" }),
        el("button", { type: "button", class: "plain", on: { click: () => { items.push(newCondition()); render(); } } }, "+ " + t.add_condition),
        depth < 4 ? el("button", { type: "button", class: "plain", on: { click: () => { items.push({ all: [newCondition()] }); render(); } } }, "+ " + t.add_group) : null,
        remove ? el("button", { type: "button", class: "plain danger", "aria-label": t.remove, on: { click: remove } }, "×") : null,
      );
      box.append(head);
      if (!items.length) box.append(el("p", { class: "hint" }, kind === "all" ? t.always : t.never));
      items.forEach((item, i) => {
        const drop = () => { items.splice(i, 1); render(); };
        const where = [...loc, kind, i];
        box.append("all" in item || "any" in item ? group(item, where, depth + 1, drop) : condition(item, where, drop));
      });
      return box;
    }

    function fieldChoices() {
      const events = state.trigger || [];
      return cat.fields.filter((f) => f.subject === subject() && (!f.events || f.events.some((e) => events.includes(e))));
    }
    function newCondition() {
      const f = fieldChoices()[0];
      return { field: f.name, op: cat.ops[f.kind][0], value: defaultValue(f, cat.ops[f.kind][0]) };
    }
    function defaultValue(f, op) {
      if (op === "is_empty" || op === "is_present") return undefined;
      if (f.kind === "bool") return true;
      if (f.kind === "duration" || f.kind === "number") return 1;
      if (["in", "not_in"].includes(op)) return [];
      if (f.choices.length) return f.choices[0].value;
      if (f.kind === "team") return cat.teams[0] || "";
      if (f.kind === "user") return cat.agents[0] || "";
      return "";
    }

    function condition(c, loc, remove) {
      const row = el("div", { class: "cond-row", loc });
      const f = fieldsBy[c.field] || fieldChoices()[0];
      const fieldSel = select(fieldChoices().map((x) => [x.name, x.label]), c.field, (v) => {
        const nf = fieldsBy[v];
        c.field = v; c.op = cat.ops[nf.kind][0]; c.value = defaultValue(nf, c.op);
        delete c.unit; delete c.calendar;
        render();
      }, { "aria-label": t.field, loc: [...loc, "field"] });
      const opSel = select(cat.ops[f.kind].map((o) => [o, cat.op_labels[o]]), c.op, (v) => {
        c.op = v; c.value = defaultValue(f, v); render();
      }, { "aria-label": t.operator, loc: [...loc, "op"] });
      row.append(fieldSel, opSel, valueControl(c, f, loc),
        el("button", { type: "button", class: "plain danger", "aria-label": t.remove, on: { click: remove } }, "×"));
      return row;
    }

    function valueControl(c, f, loc) {
      const vloc = [...loc, "value"];
      const set = (v) => { c.value = v; };
      if (c.op === "is_empty" || c.op === "is_present") return el("span", {});
      const many = ["in", "not_in"].includes(c.op);
      if (f.kind === "bool") {
        const parts = [select([["true", t.yes], ["false", t.no]], String(c.value !== false), (v) => set(v === "true"), { "aria-label": t.value, loc: vloc })];
        if (f.name === "now.business_hours") parts.push(calendarSelect(c, loc));
        return el("span", { class: "cond-value" }, parts);
      }
      if (f.kind === "duration") {
        const unit = select(Object.entries(cat.units), c.unit || "hours", (v) => { c.unit = v; if (!v.startsWith("business_")) delete c.calendar; render(); }, { "aria-label": t.unit, loc: [...loc, "unit"] });
        const parts = [input(c.value, (v) => set(Number(v)), { type: "number", min: 0, step: "any", "aria-label": t.value, loc: vloc, class: "short" }), unit];
        if ((c.unit || "").startsWith("business_")) parts.push(calendarSelect(c, loc));
        return el("span", { class: "cond-value" }, parts);
      }
      if (f.kind === "number") return input(c.value, (v) => set(Number(v)), { type: "number", step: "any", "aria-label": t.value, loc: vloc, class: "short" });
      if (f.kind === "date") return input(c.value, set, { type: "date", "aria-label": t.value, loc: vloc });
      const pick = f.kind === "team" ? names(cat.teams) : f.kind === "user" ? names(cat.agents) : f.choices.map((x) => [x.value, x.label]);
      if (pick.length && !f.open) {
        return many ? multi(pick, c.value, set, { "aria-label": t.value, loc: vloc }) : select(pick, c.value, set, { "aria-label": t.value, loc: vloc });
      }
      const listed = many || f.kind === "set" || ["contains", "not_contains", "starts_with"].includes(c.op);
      const shown = Array.isArray(c.value) ? c.value.join(", ") : c.value;
      const attrs = { "aria-label": t.value, loc: vloc, placeholder: listed ? t.words_hint : c.op.includes("matches") ? t.pattern_hint : "" };
      if (pick.length) attrs.list = "choices-" + f.name.replace(/\W/g, "-");
      const box = el("span", { class: "cond-value" }, input(shown, (v) => set(listed ? words(v) : v), attrs));
      if (pick.length) box.append(el("datalist", { id: attrs.list }, pick.map(([v, l]) => option(v, l))));
      return box;
    }

    function calendarSelect(c, loc) {
      if (!c.calendar && cat.calendars.length) c.calendar = cat.calendars[0];
      if (!cat.calendars.length) return el("span", { class: "field-error" }, t.no_calendars);
      return select(names(cat.calendars), c.calendar, (v) => { c.calendar = v; }, { "aria-label": t.calendar, loc: [...loc, "calendar"] });
    }

    // -- actions --------------------------------------------------------------------------
    function actionsPart() {
      const list = state.actions;
      const box = el("div", { class: "actions-list", loc: ["actions"] });
      const allowed = cat.actions.filter((a) => (mode === "macro" ? a.in_macros : a.subjects.includes(subject())));
      list.forEach((a, i) => box.append(action(a, [("actions"), i], allowed, () => { list.splice(i, 1); render(); })));
      box.append(el("button", { type: "button", class: "plain", on: { click: () => { list.push({ type: allowed[0].type, ...defaults(allowed[0].type) }); render(); } } }, "+ " + t.add_action));
      return box;
    }

    function defaults(type) {
      return {
        set_field: { field: "priority", value: "high" },
        assign: { team: cat.teams[0] || "" },
        add_tags: { tags: [] },
        remove_tags: { tags: [] },
        add_note: { body: "" },
        reply: { body: "" },
        classify: { categories: [{ category: "", keywords: [], tags: [] }] },
        notify: { to: ["assignee"] },
        notify_email: { to: ["assignee"], subject: "", body: "" },
        webhook: { webhook: cat.webhooks[0] || "" },
        escalate: { priority: "raise", notify: ["assignee", "supervisors"] },
        send_survey: {},
      }[type] || {};
    }

    function action(a, loc, allowed, remove) {
      const card = el("div", { class: "card action", loc });
      const typeSel = select(allowed.map((x) => [x.type, x.label]), a.type, (v) => {
        for (const k of Object.keys(a)) delete a[k];
        Object.assign(a, { type: v }, defaults(v));
        render();
      }, { "aria-label": t.action, loc: [...loc, "type"] });
      card.append(el("div", { class: "cond-head" }, typeSel, el("span", { class: "grow" }),
        el("button", { type: "button", class: "plain danger", "aria-label": t.remove, on: { click: remove } }, "×")));
      card.append(params(a, loc));
      return card;
    }

    function labelled(text, control) {
      return el("label", { class: "param" }, el("span", {}, text), control);
    }
    function textarea(a, key, loc) {
      const node = el("textarea", { rows: 4, loc: [...loc, key] }, a[key] || "");
      node.addEventListener("input", () => { a[key] = node.value; });
      return el("div", {}, node, el("div", { class: "hint" }, t.placeholders + " " + cat.placeholders.map((p) => "{{ " + p + " }}").join(" ")));
    }
    function people(a, key, loc, withRequester, emails) {
      const base = subject() === "agent" ? ["agent", "supervisors", "team"] : cat.recipients.filter((r) => withRequester || r !== "requester");
      const chosen = (a[key] || []).filter((x) => base.includes(x));
      const extra = (a[key] || []).filter((x) => !base.includes(x));
      const box = el("div", {}, checks(base.map((r) => [r, t["to_" + r]]), chosen, (v) => { a[key] = [...v, ...extra]; }, [...loc, key]));
      if (emails) box.append(labelled(t.other_emails, input(extra.join(", "), (v) => { a[key] = [...(a[key] || []).filter((x) => base.includes(x)), ...words(v)]; })));
      return box;
    }

    function params(a, loc) {
      const p = (key) => [...loc, key];
      switch (a.type) {
        case "set_field": {
          const fields = [...Object.keys(cat.settable).map((k) => [k, (fieldsBy["ticket." + k] || { label: k }).label]),
            ...cat.custom_fields.map((k) => ["custom_fields." + k, (fieldsBy["ticket.custom_fields." + k] || { label: k }).label])];
          const values = cat.settable[a.field];
          const value = values && values.length ? select(values.map((x) => [x.value, x.label]), a.value, (v) => { a.value = v; }, { loc: p("value"), "aria-label": t.value })
            : input(a.value, (v) => { a.value = v; }, { loc: p("value"), "aria-label": t.value });
          return el("div", { class: "params" }, select(fields, a.field, (v) => { a.field = v; a.value = (cat.settable[v] || [{}])[0].value || ""; render(); }, { loc: p("field"), "aria-label": t.field }), value);
        }
        case "assign": {
          const opt = (list, key) => select([["", "—"], ...names(list)], a[key] || "", (v) => { if (v) a[key] = v; else delete a[key]; }, { loc: p(key) });
          return el("div", { class: "params" }, labelled(t.team, opt(cat.teams, "team")), labelled(t.agent, opt(cat.agents, "agent")), labelled(t.queue, opt(cat.queues, "queue")));
        }
        case "add_tags":
        case "remove_tags":
          return labelled(t.tags, input((a.tags || []).join(", "), (v) => { a.tags = words(v); }, { loc: p("tags"), placeholder: t.words_hint }));
        case "add_note":
        case "reply":
          return textarea(a, "body", loc);
        case "classify":
          return classify(a, loc);
        case "notify":
          return el("div", {}, people(a, "to", loc, false, false), labelled(t.message, textarea(a, "message", loc)));
        case "notify_email":
          return el("div", {}, people(a, "to", loc, true, true), labelled(t.subject, input(a.subject, (v) => { a.subject = v; }, { loc: p("subject") })), labelled(t.body, textarea(a, "body", loc)));
        case "webhook":
          return cat.webhooks.length ? labelled(t.webhook, select(names(cat.webhooks), a.webhook, (v) => { a.webhook = v; }, { loc: p("webhook") }))
            : el("p", { class: "field-error" }, t.no_webhooks);
        case "escalate":
          return el("div", { class: "params" },
            labelled(t.priority, select(cat.priority_steps.map((s) => [s, s === "raise" ? t.raise : (cat.settable.priority.find((x) => x.value === s) || { label: s }).label]), a.priority, (v) => { a.priority = v; }, { loc: p("priority") })),
            labelled(t.notify, checks(["assignee", "supervisors", "team"].map((r) => [r, t["to_" + r]]), a.notify, (v) => { a.notify = v; }, p("notify"))),
            labelled(t.team, select([["", "—"], ...names(cat.teams)], a.team || "", (v) => { if (v) a.team = v; else delete a.team; }, { loc: p("team") })));
        default:
          return el("p", { class: "hint" }, t.survey_hint);
      }
    }

    function classify(a, loc) {
      const rows = a.categories;
      const box = el("div", { class: "params-table", loc: [...loc, "categories"] });
      rows.forEach((r, i) => {
        const at = [...loc, "categories", i];
        box.append(el("div", { class: "params", loc: at },
          labelled(t.category, input(r.category, (v) => { r.category = v; }, { loc: [...at, "category"] })),
          labelled(t.keywords, input((r.keywords || []).join(", "), (v) => { r.keywords = words(v); }, { loc: [...at, "keywords"], placeholder: t.words_hint })),
          labelled(t.tags, input((r.tags || []).join(", "), (v) => { r.tags = words(v); }, { loc: [...at, "tags"] })),
          el("button", { type: "button", class: "plain danger", "aria-label": t.remove, on: { click: () => { rows.splice(i, 1); render(); } } }, "×")));
      });
      const overwrite = el("input", { type: "checkbox", checked: a.overwrite ? true : null });
      overwrite.addEventListener("change", () => { a.overwrite = overwrite.checked; });
      box.append(el("button", { type: "button", class: "plain", on: { click: () => { rows.push({ category: "", keywords: [], tags: [] }); render(); } } }, "+ " + t.add_category),
        el("label", { class: "check" }, overwrite, " ", t.overwrite));
      return box;
    }

    // -- saving, errors, dry runs ---------------------------------------------------------
    function collect() {
      const form = root.closest("form");
      for (const key of ["name", "description"]) state[key] = form.elements[key].value;
      if (form.elements.enabled) state.enabled = form.elements.enabled.checked;
      if (form.elements.active) state.active = form.elements.active.checked;
      return state;
    }
    function showErrors(problem) {
      document.querySelectorAll(".field-error.from-api").forEach((n) => n.remove());
      const summary = $("#builder-errors");
      summary.replaceChildren();
      for (const e of problem.errors || []) {
        const path = (e.loc || []).slice(e.loc[0] === "body" ? 1 : 0).join(".");
        const target = document.querySelector(`[data-loc="${CSS.escape(path)}"]`) || document.querySelector(`[name="${CSS.escape(path)}"]`);
        const note = el("div", { class: "field-error from-api", role: "alert" }, e.msg);
        if (target) target.after(note);
        summary.append(el("li", {}, el("code", {}, path), ": ", e.msg));
      }
      if (!(problem.errors || []).length) summary.append(el("li", {}, problem.detail || t.failed));
      summary.closest(".notice").hidden = false;
      summary.closest(".notice").scrollIntoView({ block: "nearest" });
    }
    async function send(method, url, body) {
      const res = await fetch(url, { method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify(body) });
      return [res, res.status === 204 ? null : await res.json()];
    }
    async function save(event) {
      event.preventDefault();
      const form = root.closest("form");
      const [res, body] = await send(form.dataset.method, form.dataset.api, collect());
      if (res.ok) window.location = form.dataset.next.replace("{id}", body.id) + "?saved=1";
      else showErrors(body);
    }
    async function dryRun() {
      const days = $("#dry-days").value;
      const [res, body] = await send("POST", "/api/v1/rules/dry-run?days=" + encodeURIComponent(days), collect());
      const out = $("#dry-results");
      if (!res.ok) { showErrors(body); return; }
      out.replaceChildren(el("p", {}, t.dry_summary.replace("%(matched)s", body.matched).replace("%(scanned)s", body.scanned) + (body.truncated ? " " + t.truncated : "")));
      const table = el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, t.ticket), el("th", {}, t.would_change))));
      const tbody = el("tbody", {});
      for (const item of body.items) {
        const changes = item.changes.map((c) => el("div", { class: c.ok ? "" : "field-error" },
          el("code", {}, c.action), " ", c.field ? c.field + ": " : "", c.old !== null && c.old !== undefined ? JSON.stringify(c.old) + " → " : "",
          c.new !== null && c.new !== undefined ? JSON.stringify(c.new) : "", c.detail ? " " + c.detail : ""));
        tbody.append(el("tr", {}, el("td", {}, el("a", { href: "/tickets/" + item.ticket_id }, "#" + item.ticket_id + " " + item.subject)), el("td", {}, changes)));
      }
      if (!body.items.length) tbody.append(el("tr", {}, el("td", { colspan: 2, class: "empty" }, t.no_matches)));
      table.append(tbody);
      out.append(table);
    }

    root.closest("form").addEventListener("submit", save);
    const dry = $("#dry-run");
    if (dry) dry.addEventListener("click", dryRun);
    if (mode === "rule" && !state.conditions) state.conditions = { all: [] };
    state.actions = state.actions || [];
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("builder");
    if (root) Builder(root, root.dataset.mode);
  });
})();
