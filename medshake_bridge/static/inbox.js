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
})();
