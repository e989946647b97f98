/* Swagger UI for Laurels: session calls carry the CSRF token; the Authorize button runs
   the authorization-code flow with PKCE as the first-party client "api-docs". */
const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
const oauth = JSON.parse(document.getElementById("swagger-oauth").textContent);
const csrfToken = document.body.dataset.csrfToken;

settings.dom_id = "#swagger-ui";
settings.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
settings.requestInterceptor = (request) => {
  if (csrfToken && !request.headers.Authorization) {
    request.headers["X-CSRFToken"] = csrfToken;
  }
  return request;
};

// The session cookie is sent by the browser itself: its scheme would only add a stray
// "SessionCaller" field to the Authorize dialog, so the page leaves it out of what it shows.
const hiddenSchemes = JSON.parse(document.getElementById("swagger-hidden-schemes").textContent);

function withoutHiddenSchemes(spec) {
  const schemes = (spec.components || {}).securitySchemes || {};
  hiddenSchemes.forEach((name) => delete schemes[name]);
  const keep = (requirement) => !hiddenSchemes.some((name) => name in requirement);
  Object.values(spec.paths || {}).forEach((operations) => {
    Object.values(operations).forEach((operation) => {
      if (operation && Array.isArray(operation.security)) {
        operation.security = operation.security.filter(keep);
      }
    });
  });
  if (Array.isArray(spec.security)) spec.security = spec.security.filter(keep);
  return spec;
}

fetch(settings.url, { credentials: "same-origin" })
  .then((answer) => answer.json())
  .then((spec) => {
    delete settings.url;
    settings.spec = withoutHiddenSchemes(spec);
    const ui = SwaggerUIBundle(settings);
    ui.initOAuth(oauth);
    window.ui = ui;
  });

// Swagger UI draws some controls without names and scrolling code blocks that a keyboard
// cannot reach (axe-core: button-name, scrollable-region-focusable); mend them as drawn.
function mendAccessibility(root) {
  root.querySelectorAll(".copy-to-clipboard button:not([aria-label])").forEach((button) => {
    button.setAttribute("aria-label", "Copy to clipboard");
  });
  root.querySelectorAll("button.close-modal:not([aria-label])").forEach((button) => {
    button.setAttribute("aria-label", "Close");
  });
  root.querySelectorAll(".curl, .highlight-code pre, .microlight").forEach((block) => {
    if (!block.hasAttribute("tabindex")) block.setAttribute("tabindex", "0");
  });
}
new MutationObserver(() => mendAccessibility(document)).observe(document.body, {
  childList: true,
  subtree: true,
});
