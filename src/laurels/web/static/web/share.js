// Copy-link buttons on the badge page: a button with data-copy="<input id>" copies that
// input's value. Without JavaScript the button stays hidden and the link can be copied
// from its read-only input.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest(".share-link").querySelector(".copy-status");
    if (!input || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = "Link copied."; },
        function () { input.select(); status.textContent = "Select the link and copy it."; }
      );
    });
  });
})();
