// ctem dashboard: progressive enhancement only. Every page works without
// this script; it adds upload progress, drag and drop, and the refresh
// of a running job's page. No eval, no inline handlers, no third party.
"use strict";
(function () {
  function uploadForm(form) {
    var input = form.querySelector('input[type="file"]');
    var bar = form.querySelector("progress");
    form.addEventListener("dragover", function (e) { e.preventDefault(); form.classList.add("over"); });
    form.addEventListener("dragleave", function () { form.classList.remove("over"); });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      form.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length > 0) { input.files = e.dataTransfer.files; }
    });
    form.addEventListener("submit", function (e) {
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
      });
      xhr.addEventListener("load", function () {
        var loc = null;
        try { loc = JSON.parse(xhr.responseText).location; } catch (err) { loc = null; }
        if (xhr.status === 200 && typeof loc === "string" && loc.charAt(0) === "/" && loc.charAt(1) !== "/") {
          window.location.assign(loc + "?done=uploaded");
        } else {
          var msg = document.createElement("p");
          msg.className = "error";
          msg.setAttribute("role", "alert");
          msg.textContent = "The upload was refused (HTTP " + xhr.status + "). Check the file and try again.";
          form.appendChild(msg);
          bar.hidden = true;
        }
      });
      xhr.send(new FormData(form));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var f = document.getElementById("upload");
    if (f) { uploadForm(f); }
    var r = document.querySelector("[data-refresh]");
    if (r) {
      var secs = parseInt(r.getAttribute("data-refresh"), 10);
      window.setTimeout(function () { window.location.reload(); }, (secs > 0 ? secs : 1) * 1000);
    }
  });
})();
