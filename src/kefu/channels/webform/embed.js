/* kefu web form: <script src="https://kefu.example.com/forms/embed.js" data-form="3" async></script> */
(function () {
  var script = document.currentScript;
  if (!script || !script.dataset.form) return;
  var base = new URL(script.src, location.href);
  var frame = document.createElement("iframe");
  var lang = script.dataset.lang || document.documentElement.lang || "";
  frame.src = base.origin + "/forms/" + encodeURIComponent(script.dataset.form) +
    (lang ? "?lang=" + encodeURIComponent(lang) : "");
  frame.title = script.dataset.title || "Contact form";
  frame.style.cssText = "width:100%;border:0;min-height:560px";
  frame.loading = "lazy";
  window.addEventListener("message", function (event) {
    if (event.origin === base.origin && event.source === frame.contentWindow &&
        event.data && typeof event.data.kefuForm === "number") {
      frame.style.height = event.data.kefuForm + 24 + "px";
    }
  });
  script.insertAdjacentElement("afterend", frame);
})();
