// A document being made in the background (templates/_record_documents.html): ask its status every
// half second and reload the page once it is ready or has failed, so the link (or Try again) appears.
// Without JavaScript the region's <noscript> refresh reloads the page instead.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-job-status]");
  if (!regions.length || !window.fetch) { return; }
  var started = Date.now();
  function check() {
    var pending = Array.prototype.map.call(regions, function (region) {
      return fetch(region.getAttribute("data-job-status"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { state: "pending" }; })
        .catch(function () { return { state: "pending" }; });
    });
    Promise.all(pending).then(function (states) {
      var settled = states.some(function (s) { return s.ready || s.failed; });
      if (settled) { window.location.reload(); return; }
      // A retry waits seconds, not milliseconds: ask less often after the first ten seconds.
      window.setTimeout(check, Date.now() - started < 10000 ? 500 : 3000);
    });
  }
  window.setTimeout(check, 300);
})();
