/* medshake-bridge, Apicrypt keys page: drag-and-drop and an upload progress bar.
   Progressive enhancement only: without this file the form posts normally. */
(function () {
  "use strict";
  var form = document.querySelector("form.key-upload");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector(".drop-zone");
  var progress = form.querySelector("progress");
  var status = form.querySelector("[role=status]");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
  var maxFiles = parseInt(form.getAttribute("data-max-files"), 10);
  var busy = false;

  function say(text) { status.textContent = text; }

  function problem(files) {
    if (files.length > maxFiles) { return form.getAttribute("data-too-many"); }
    for (var i = 0; i < files.length; i += 1) {
      if (files[i].size > maxBytes) {
        return form.getAttribute("data-too-large").replace("{name}", files[i].name);
      }
    }
    return "";
  }

  zone.classList.add("drop-ready");
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("drop-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("drop-over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      say(Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", "));
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var trouble = problem(input.files);
    if (trouble) { say(trouble); form.dataset.sending = "0"; return; }
    busy = true;
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.responseType = "json";
    progress.hidden = false;
    progress.value = 0;
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { progress.value = Math.round((e.loaded / e.total) * 100); }
    });
    request.addEventListener("load", function () {
      var answer = request.response;
      if (answer && answer.redirect) {
        progress.value = 100;
        window.location.assign(answer.redirect);
        return;
      }
      busy = false;
      form.dataset.sending = "0";
      say(form.getAttribute("data-failed"));
    });
    request.addEventListener("error", function () {
      busy = false;
      form.dataset.sending = "0";
      progress.hidden = true;
      say(form.getAttribute("data-failed"));
    });
    request.send(new FormData(form));
  });
})();
