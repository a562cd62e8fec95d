/* medshake-bridge inbox: progress of "collect now", counts kept fresh.
   Every page works without this file (the server answers with the outcome either way). */
(function () {
  "use strict";
  /* "Collect now": say it is running; a second click while it runs says so. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "collect-form") { return; }
    var status = document.getElementById("collect-progress");
    if (form.dataset.collecting === "1") {
      event.preventDefault();
      if (status) { status.textContent = form.getAttribute("data-again"); }
      return;
    }
    form.dataset.collecting = "1";
    form.classList.add("running");
    if (status) { status.textContent = form.getAttribute("data-running"); }
  });
  /* The unread count, refreshed without reloading the page. */
  var badge = document.querySelector("[data-unread]");
  var source = document.querySelector("[data-unread-url]");
  if (badge && source && window.fetch) {
    window.setInterval(function () {
      window.fetch(source.getAttribute("data-unread-url"), {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          badge.textContent = data.unread;
          badge.hidden = !data.unread;
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    }, 60000);
  }
  /* Keyboard triage: j/k next/previous, c file, u back to the list, / search. */
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    var key = event.key;
    if (key === "/") {
      var search = document.querySelector('#inbox-filters input[name="q"]');
      if (search) { event.preventDefault(); search.focus(); }
      return;
    }
    var jump = document.querySelector('.document-nav a[data-key="' + key + '"]');
    if (jump) { event.preventDefault(); window.location.href = jump.href; return; }
    if (key === "c") {
      var filing = document.querySelector('#candidates input[type="radio"], form[action$="/file"] input[type="radio"], #q');
      if (filing) { event.preventDefault(); filing.focus(); }
      return;
    }
    if (key === "j" || key === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("table.inbox tbody td:first-child a"));
      if (!links.length) { return; }
      var index = links.indexOf(document.activeElement);
      index = key === "j" ? Math.min(index + 1, links.length - 1) : Math.max(index - 1, 0);
      event.preventDefault();
      links[index].focus();
    }
  });
})();
