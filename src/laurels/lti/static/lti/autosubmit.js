// The LTI interstitial: send its form on as soon as the page loads (the Continue button
// does the same without script). A file, not inline script: the CSP allows no inline.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-lti-autosubmit]");
  if (form) {
    form.submit();
  }
});
