// Starts Redoc on /schema. A file, not an inline script, so the page's Content-Security-Policy can
// allow scripts from the service alone.
(function () {
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, JSON.parse(container.dataset.options), container);
})();
