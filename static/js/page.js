// Small page behaviours, all optional: without JavaScript every panel shows and every
// form still posts. Tabs (the workspace's halves on a phone, Files / Terminal / Preview),
// the first form error brought into view, character counters, files opened in the pane.
(function () {
  "use strict";

  function select(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var chosen = other === tab;
      other.setAttribute("aria-selected", chosen ? "true" : "false");
      other.tabIndex = chosen ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) { panel.classList.toggle("tab-hidden", !chosen); }
    });
  }

  function initTabs(root) {
    root.querySelectorAll("[data-tabs]").forEach(function (list) {
      if (list.dataset.ready) { return; }
      list.dataset.ready = "1";
      var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
      tabs.forEach(function (tab, index) {
        tab.addEventListener("click", function () { select(tab); });
        tab.addEventListener("keydown", function (event) {  // arrows move along the tabs
          var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
          if (!step) { return; }
          var next = tabs[(index + step + tabs.length) % tabs.length];
          select(next);
          next.focus();
        });
      });
      select(tabs.filter(function (t) { return t.getAttribute("aria-selected") === "true"; })[0] || tabs[0]);
    });
  }

  // Make ``node`` visible: select every tab whose hidden panel holds it, open its details.
  function reveal(node) {
    for (var up = node; up && up !== document.body; up = up.parentElement) {
      if (up.classList.contains("tab-hidden")) {
        var tab = document.querySelector('[role=tab][aria-controls="' + up.id + '"]');
        if (tab) { select(tab); }
      }
      if (up.tagName === "DETAILS") { up.open = true; }
    }
  }

  function showFirstError(root) {
    var error = root.querySelector(".messages .error, .field.invalid, .errors[role=alert]");
    if (!error) { return; }
    reveal(error);
    var input = error.querySelector("input, textarea, select") ||
      (error.closest("form") && error.closest("form").querySelector("input:not([type=hidden]), textarea, select"));
    error.scrollIntoView({ block: "center" });
    if (input) { input.focus({ preventScroll: true }); }
  }

  function initCounters(root) {
    root.querySelectorAll("[data-limit]").forEach(function (field) {
      if (field.dataset.counted) { return; }
      field.dataset.counted = "1";
      var limit = Number(field.dataset.limit);
      var counter = document.createElement("small");
      counter.className = "counter help";
      counter.id = field.id + "-counter";
      counter.setAttribute("aria-live", "polite");
      field.insertAdjacentElement("afterend", counter);
      field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + counter.id).trim());
      var template = field.dataset.counter || "%(n)s / %(limit)s";
      function update() {
        var n = field.value.length;
        counter.textContent = template.replace("%(n)s", n.toLocaleString(document.documentElement.lang)).replace("%(limit)s", limit.toLocaleString(document.documentElement.lang));
        counter.classList.toggle("over", n > limit);
      }
      field.addEventListener("input", update);
      update();
    });
  }

  // A file link in the workspace opens the file beside the conversation, not a new page.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-file-link]");
    var pane = document.getElementById("file-pane");
    if (!link || !pane || !window.htmx || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    htmx.ajax("GET", link.href, { target: "#file-pane", select: "#file-view", swap: "innerHTML" }).then(function () {
      reveal(pane);
      pane.scrollIntoView({ block: "start" });
    });
  });

  // A rate-limited form: its button waits out the Retry-After the page says.
  function initWaits(root) {
    root.querySelectorAll("button[data-wait]").forEach(function (button) {
      var seconds = Number(button.dataset.wait);
      if (!(seconds > 0) || button.dataset.waiting) { return; }
      button.dataset.waiting = "1";
      button.disabled = true;
      setTimeout(function () { button.disabled = false; }, seconds * 1000);
    });
  }

  function init(root) {
    initWaits(root);
    initTabs(root);
    initCounters(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // After load: a #fragment in the address moves focus to the page once it has loaded.
  window.addEventListener("load", function () { setTimeout(function () { showFirstError(document); }, 0); });
  document.addEventListener("htmx:afterSettle", function (event) {
    init(document);
    showFirstError(event.detail.elt || document);
  });
})();
