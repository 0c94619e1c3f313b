// Progressive enhancement of the agent console: every page works without it.
// - The queue table refreshes every 30 seconds from the same URL (?partial=1),
//   so the filter, the sort and the scroll position stay where they are.
// - The hotline intake asks the server (the same GET form the "Preview
//   priority" button sends) while the title is typed and when impact or
//   urgency change: the known solutions and the resulting priority update.
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
  var intake = document.getElementById("intake");
  if (intake && window.fetch && window.DOMParser) {
    var timer = null;
    var refresh = function () {
      var params = new URLSearchParams();
      ["caller", "title", "description", "service", "impact", "urgency"].forEach(function (name) {
        var field = intake.elements[name];
        if (field && field.value) params.set(name, field.value);
      });
      fetch(intake.getAttribute("data-preview") + "?" + params.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["solutions", "priority"].forEach(function (id) {
            var fresh = doc.getElementById(id), here = document.getElementById(id);
            if (fresh && here) here.innerHTML = fresh.innerHTML;
          });
        })
        .catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 300); };
    intake.elements.title.addEventListener("input", later);
    ["impact", "urgency"].forEach(function (name) { intake.elements[name].addEventListener("change", refresh); });
  }
})();
