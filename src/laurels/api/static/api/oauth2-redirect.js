/* Hands the authorization response back to the Swagger UI window that opened this one
   (the contract of Swagger UI's window.swaggerUIRedirectOauth2 callback). */
(function () {
  const redirect = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!redirect) {
    document.body.textContent = "Open this page from the Authorize button of /docs.";
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const flow = redirect.auth.schema.get("flow");
  const stateMatches = params.get("state") === redirect.state;
  if (flow === "authorizationCode" || flow === "accessCode") {
    if (params.get("code") && stateMatches) {
      redirect.auth.code = params.get("code");
      redirect.callback({ auth: redirect.auth, redirectUrl: redirect.redirectUrl });
    } else {
      const reason = params.get("error")
        ? `[${params.get("error")}]: ${params.get("error_description") || "no description"}`
        : stateMatches ? "no authorization code received" : "the state did not match";
      redirect.errCb({ authId: redirect.auth.name, source: "auth", level: "error", message: reason });
    }
  }
  window.close();
})();
