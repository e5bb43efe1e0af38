/* Kiosk fleet dashboard: live fragments over server-sent events, confirmations, filters.
   Plain JavaScript, no framework, nothing fetched from elsewhere. */
(function () {
  "use strict";

  function setState(state, text) {
    var el = document.getElementById("live-state");
    if (el) { el.setAttribute("data-state", state); el.textContent = text; }
  }

  function live(el) {
    var source = new EventSource(el.getAttribute("data-stream"));
    source.addEventListener("open", function () { setState("live", "live"); });
    source.addEventListener(el.getAttribute("data-event"), function (e) {
      var open = [];
      el.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
      el.innerHTML = e.data;
      open.forEach(function (id) {
        var d = document.getElementById(id);
        if (d) { d.open = true; }
      });
      document.body.setAttribute("data-updated", String(Date.now()));
      setState("live", "live");
    });
    source.addEventListener("expired", function () {
      source.close();
      window.location.assign("/login");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        setState("down", "disconnected");
        window.setTimeout(function () { window.location.reload(); }, 5000);
      } else {
        setState("down", "reconnecting…");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-stream]").forEach(live);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.addEventListener("click", function (e) {
      var row = e.target.closest("tr[data-href]");
      if (row && !e.target.closest("a, button, form")) {
        window.location.assign(row.getAttribute("data-href"));
      }
    });
  });
})();
