// The console's live parts: an element with data-live="URL" listens to
// the server-sent events at URL and takes each "update" event's HTML (the
// server renders it, escaped by html/template) as its content. Nothing
// else runs here; the pages work without it.
"use strict";
document.querySelectorAll("[data-live]").forEach(function (el) {
  var source = new EventSource(el.getAttribute("data-live"));
  source.addEventListener("update", function (e) {
    el.innerHTML = e.data;
    if (el.tagName === "PRE") el.scrollTop = el.scrollHeight; // a log: its last lines
    el.setAttribute("data-updated", String(Date.now()));
  });
  source.addEventListener("end", function () { source.close(); });
});
