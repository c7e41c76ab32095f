// Live progress of a send on staff pages: each element with data-progress="<status URL>"
// polls that JSON every few seconds and updates its [data-field] parts and its <progress>.
// Without JavaScript the page shows the figures of when it was loaded and a Refresh link.
(function () {
  "use strict";
  var EVERY_MS = 2000;

  function update(block, data) {
    block.querySelectorAll("[data-field]").forEach(function (node) {
      var value = data[node.getAttribute("data-field")];
      if (value !== undefined && value !== null) {
        node.textContent = value === "" ? "—" : String(value);
      }
    });
    var bar = block.querySelector("progress");
    if (bar) {
      bar.value = data.percent;
      bar.textContent = data.percent + " %";
    }
  }

  function watch(block) {
    var url = block.getAttribute("data-progress");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          update(block, data);
          if (data.finished) {
            // The send ended (blocks are only live while it runs): show the results.
            window.location.reload();
            return;
          }
          window.setTimeout(poll, EVERY_MS);
        })
        .catch(function () { window.setTimeout(poll, EVERY_MS * 3); });
    }
    window.setTimeout(poll, EVERY_MS);
  }

  document.querySelectorAll("[data-progress]").forEach(watch);
})();
