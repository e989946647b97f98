"""The interactive API docs at /docs: Swagger UI whose Authorize button runs the real
authorization-code flow with PKCE against this server, as the first-party public client
`api-docs` (made by `laurels serve`)."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from ninja.openapi.docs import Swagger

from laurels.connect.scopes import APP_LEVEL_SCOPES, SCOPE_DESCRIPTIONS
from laurels.connect.services import API_DOCS_CLIENT_ID
from laurels.core.csp import allow_sources

# Schemes the docs page leaves out of what it shows (swagger-init.js): the session cookie
# is the browser's own, and Swagger UI would ask for its value in the Authorize dialog.
HIDDEN_SECURITY_SCHEMES = ["SessionCaller"]


def docs_scopes() -> dict[str, str]:
    return {str(s): d for s, d in SCOPE_DESCRIPTIONS.items() if s not in APP_LEVEL_SCOPES}


def oauth_security_scheme() -> dict:
    base = settings.LAURELS_BASE_URL
    return {
        "type": "oauth2",
        "description": "Connected apps: the authorization-code flow with PKCE.",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": f"{base}/o/authorize",
                "tokenUrl": f"{base}/o/token",
                "refreshUrl": f"{base}/o/token",
                "scopes": docs_scopes(),
            }
        },
    }


class LaurelsSwagger(Swagger):
    template = "api/swagger.html"

    def render_page(self, request: HttpRequest, api, **kwargs) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        self.settings["oauth2RedirectUrl"] = f"{settings.LAURELS_BASE_URL}/docs/oauth2-redirect"
        self.settings["persistAuthorization"] = False
        # Deep links put a link inside each operation's button (axe: nested-interactive).
        self.settings["deepLinking"] = False
        init_oauth = {
            "clientId": API_DOCS_CLIENT_ID,
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": "r:profile",
            "appName": "Laurels API docs",
        }
        context = {
            "swagger_settings": json.dumps(self.settings),
            "init_oauth": json.dumps(init_oauth),
            "api": api,
            "add_csrf": True,
            "hidden_schemes": json.dumps(HIDDEN_SECURITY_SCHEMES),
            "site_name": settings.LAURELS_SITE_NAME,
        }
        # Swagger UI's stylesheet draws its icons from data: URIs; nothing else is opened.
        return allow_sources(render(request, self.template, context), img_src=["data:"])


@require_GET
def oauth2_redirect(request: HttpRequest) -> HttpResponse:
    """Where the authorization server sends the docs' pop-up back to."""
    return render(request, "api/oauth2-redirect.html")
