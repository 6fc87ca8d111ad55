// Copy buttons: <button data-copy="text" data-copy-status="id of a live region">.
// The confirmation ("Copied") is shown in that region, which screen readers announce.
// A file of its own because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var CLEAR_AFTER_MS = 5000;

  function say(region, text) {
    if (!region) {
      return;
    }
    region.textContent = text;
    window.clearTimeout(region.copyTimer);
    region.copyTimer = window.setTimeout(function () {
      region.textContent = "";
    }, CLEAR_AFTER_MS);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    var region = document.getElementById(button.dataset.copyStatus);
    if (!navigator.clipboard || !window.isSecureContext) {
      say(region, "Copying is not available here: select the text and copy it yourself.");
      return;
    }
    navigator.clipboard.writeText(button.dataset.copy).then(
      function () {
        say(region, "Copied");
      },
      function () {
        say(region, "Could not copy: select the text and copy it yourself.");
      }
    );
  });
})();
