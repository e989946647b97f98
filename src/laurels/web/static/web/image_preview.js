// Shows a chosen image before it is uploaded (docs/web.md, "Badge classes"):
// <input type="file" data-image-preview="ID"> and <img id="ID" alt="">. The file is shown
// through an object URL (the page's policy allows img-src blob:); nothing is sent until the
// form is. Choosing no file puts back what the img showed before (or hides it again).
(function () {
  "use strict";
  function wire(input) {
    var img = document.getElementById(input.getAttribute("data-image-preview"));
    if (!img || !window.URL || !URL.createObjectURL) return;
    var original = img.getAttribute("src");
    var wasHidden = img.hidden;
    var current = null;
    input.addEventListener("change", function () {
      if (current) { URL.revokeObjectURL(current); current = null; }
      var file = input.files && input.files[0];
      if (file && /^image\/(png|svg\+xml)$/.test(file.type)) {
        current = URL.createObjectURL(file);
        img.src = current;
        img.hidden = false;
      } else if (original) {
        img.src = original;
        img.hidden = wasHidden;
      } else {
        img.removeAttribute("src");
        img.hidden = true;
      }
    });
  }
  function start() {
    var inputs = document.querySelectorAll("input[type=file][data-image-preview]");
    for (var i = 0; i < inputs.length; i++) wire(inputs[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
