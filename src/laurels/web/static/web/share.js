// Copy buttons: a button with data-copy="<input id>" copies that input's value and says
// so in words its data-copied attribute may give (a link by default). Without JavaScript
// the button stays hidden and the value can be copied from its read-only input.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest(".share-link").querySelector(".copy-status");
    if (!input || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = button.getAttribute("data-copied") || "Link copied."; },
        function () { input.select(); status.textContent = "Select it and copy it."; }
      );
    });
  });
})();
