// Progressive enhancement of the agent console: every page works without it.
// - The queue table refreshes every 30 seconds from the same URL (?partial=1):
//   its rows, the count and the pager are replaced in place, so the filter, the
//   sort, the page and the scroll position stay where they are.  The
//   major-incident board's rows refresh the same way (countdowns, roles, links).
// - The hotline intake asks the server (the same GET form the "Preview
//   priority" button sends) while the title is typed and when impact or
//   urgency change: the known solutions and the resulting priority update;
//   choosing another process or offering shows its fields (a GET of the form).
(function () {
  var swap = function (html, ids) {  // replace the elements of these ids by the server's
    var doc = new DOMParser().parseFromString(html, "text/html");
    ids.forEach(function (id) {
      var fresh = doc.getElementById(id), here = document.getElementById(id);
      if (fresh && here) here.innerHTML = fresh.innerHTML;
    });
  };
  // a table with data-refresh is asked again every data-every seconds; the
  // elements named in data-swap (default: the queue's rows, count and pager) are replaced
  Array.prototype.forEach.call(document.querySelectorAll("table[data-refresh]"), function (table) {
    if (!window.fetch || !window.DOMParser) return;
    var every = parseInt(table.getAttribute("data-every"), 10) || 30;
    var ids = (table.getAttribute("data-swap") || "rows count pager").split(" ");
    setInterval(function () {
      fetch(table.getAttribute("data-refresh"), {credentials: "same-origin"})
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
        .then(function (html) { if (html !== null) swap(html, ids); })
        .catch(function () {});
    }, every * 1000);
  });
  var intake = document.getElementById("intake");
  if (intake && window.fetch && window.DOMParser) {
    var timer = null;
    var refresh = function () {
      var params = new URLSearchParams();
      ["caller", "process", "offering", "title", "description", "service", "impact", "urgency"].forEach(function (name) {
        var field = intake.elements[name];
        if (field && field.value) params.set(name, field.value);
      });
      fetch(intake.getAttribute("data-preview") + "?" + params.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) swap(html, ["solutions", "priority"]); })
        .catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 300); };
    intake.elements.title.addEventListener("input", later);
    ["impact", "urgency"].forEach(function (name) { intake.elements[name].addEventListener("change", refresh); });
    // another process or offering has other fields: the page is asked for them
    // (as the "Show its fields" button does without JavaScript), the values kept
    ["process", "offering"].forEach(function (name) {
      var field = intake.elements[name];
      if (field) field.addEventListener("change", function () { document.getElementById("choose").click(); });
    });
  }
})();
