// SLA clocks keep ticking between page updates: every element with data-sla-due shows the
// time left (or overdue) and turns amber at its warning time and red at its due time. The
// server's "now" at render time anchors the count, so a skewed browser clock does not matter.
(function () {
  "use strict";
  const UNITS = [["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const lang = (document.documentElement.lang || "en").replace("_", "-");

  function span(seconds) {
    // The unit choice and rounding of Babel's format_timedelta(threshold=1.5, narrow).
    const s = Math.abs(seconds);
    for (const [unit, size] of UNITS) {
      if (s / size >= 1.5 || unit === "second") {
        const n = Math.max(1, Math.round(s / size));
        return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "narrow" }).format(n);
      }
    }
    return "";
  }

  function tick() {
    const clientNow = Date.now();
    document.querySelectorAll("[data-sla-due]").forEach((el) => {
      if (!el.slaSeen) el.slaSeen = clientNow;
      const now = Date.parse(el.dataset.slaNow) + (clientNow - el.slaSeen);
      const left = (Date.parse(el.dataset.slaDue) - now) / 1000;
      const warn = el.dataset.slaWarn ? Date.parse(el.dataset.slaWarn) : null;
      const breached = el.dataset.slaBreached || left <= 0; // a breach never goes back
      const state = breached ? "breached" : el.dataset.slaWarned || (warn && now >= warn) ? "warning" : "ok";
      el.classList.remove("sla-ok", "sla-warning", "sla-breached");
      el.classList.add("sla-" + state);
      const text = el.querySelector(".sla-time");
      const template = breached ? el.dataset.slaOverdue : el.dataset.slaLeft;
      if (text && template) text.textContent = template.replace("§", span(left));
    });
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 15000);
})();
