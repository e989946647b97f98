"""A Badge Connect client's requests, as Moodle's "Open Badges 2.1" backpack sends them."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

from django.test import Client

from laurels.connect.models import Application
from laurels.connect.scopes import Scope
from tests.connect.oauth_helpers import REDIRECT_URI, RegisteredApp

BC_SCOPES = " ".join(
    [
        Scope.BADGE_CONNECT_ASSERTIONS_READ,
        Scope.BADGE_CONNECT_ASSERTIONS_CREATE,
        Scope.BADGE_CONNECT_PROFILE_READ,
    ]
)
# The site every link of the registration is on (oauth_helpers' REDIRECT_URI's host).
SITE = "https://app.example.org"


def moodle_metadata(site: str = SITE, redirect_uri: str = REDIRECT_URI, **changes) -> dict:
    """What Moodle posts to the manifest's registrationUrl (core\\oauth2 discovery):
    every link on its own site, `moodle` as the software and its version number."""
    metadata = {
        "client_name": "Moodle Academy",
        "client_uri": site,
        "logo_uri": f"{site}/pix/moodlelogo.png",
        "tos_uri": site,
        "policy_uri": site,
        "software_id": "moodle",
        "software_version": "2024100700",
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": BC_SCOPES,
    }
    return {**metadata, **changes}


def register(metadata: dict, client: Client | None = None):
    return (client or Client()).post(
        "/o/register", json.dumps(metadata), content_type="application/json"
    )


def registered_bc_app(**changes) -> RegisteredApp:
    """A Badge Connect app registered through /o/register, as oauth_helpers' apps are."""
    response = register(moodle_metadata(**changes))
    assert response.status_code == 201, response.content
    body = response.json()
    return RegisteredApp(
        Application.objects.get(client_id=body["client_id"]), body["client_secret"]
    )


def basic_auth(app: RegisteredApp) -> str:
    """client_secret_basic (RFC 6749 §2.3.1: both parts form-encoded first)."""
    pair = f"{quote(app.client_id, safe='')}:{quote(app.secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def token_by_basic_auth(app: RegisteredApp, **form):
    return token_by_basic_auth_at(app, "/o/token", **form)


def token_by_basic_auth_at(app: RegisteredApp, path: str, **form):
    """A form post to the token (or revocation) endpoint, authenticated as Moodle does."""
    return Client().post(
        path,
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic_auth(app)},
    )


def bc_get(token: str | None, path: str, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Client().get(path, headers={"Accept": "application/json", **headers})


def bc_post(token: str | None, path: str, body, content_type="application/json", **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return Client().post(path, data, content_type=content_type, headers=headers)


def status_of(response) -> dict:
    """The Badge Connect envelope's `status`, checked to be whole."""
    body = response.json()
    status = body["status"]
    assert set(status) == {"error", "statusCode", "statusText"}, body
    return status
