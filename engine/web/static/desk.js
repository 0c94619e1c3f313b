// Progressive enhancement of the agent console: the pages work without it.
// The queue table refreshes every 30 seconds from the same URL (?partial=1),
// so the filter, the sort and the scroll position stay where they are.
(function () {
  var table = document.getElementById("queue");
  if (table && window.fetch) {
    setInterval(function () {
      fetch(table.getAttribute("data-refresh"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) document.getElementById("rows").innerHTML = html; })
        .catch(function () {});
    }, 30000);
  }
})();
