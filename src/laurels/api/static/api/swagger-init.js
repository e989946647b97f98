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

const ui = SwaggerUIBundle(settings);
ui.initOAuth(oauth);
window.ui = ui;
