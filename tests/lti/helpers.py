"""Registering a tool, connecting it, pressing its button and answering its
authentication request, as the tool and the browser would."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from django.test import Client

from laurels.connect import services as connect_services
from laurels.lti import services
from laurels.lti.locations import LOCATIONS
from laurels.lti.models import ToolRegistration
from tests.connect.oauth_helpers import register_app

LOGIN_URL = "https://tool.example.org/login"
LAUNCH_URL = "https://tool.example.org/launch?course=a+b"
JWKS_URL = "https://tool.example.org/jwks"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]*)" data-lti-autosubmit>')
# A signed JWT as it would be written out: a base64url JSON header ("{" is "eyJ"), a dot,
# a body, a dot.
JWT_TEXT = re.compile(rb"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")


def register_tool(*, locations=None, scopes="r:profile email openid", **extra) -> ToolRegistration:
    app = register_app(scopes=scopes, name=extra.pop("name", "Course Tool"))
    return services.registration_save(
        application=app.application,
        actor=None,
        login_url=LOGIN_URL,
        launch_url=LAUNCH_URL,
        jwks_url=JWKS_URL,
        locations=list(locations or LOCATIONS),
        custom={"course": "101"},
        **extra,
    )


def connect(user, registration: ToolRegistration, scopes=("r:profile", "email", "openid")):
    connect_services.consent_record(
        user=user, application=registration.application, scopes=list(scopes)
    )


def form_of(response) -> tuple[str, dict[str, str]]:
    """The interstitial's form: its action and hidden fields."""
    text = response.content.decode()
    action = FORM_ACTION.search(text)
    if action is None:
        return "", {}
    form = text[action.end() : text.index("</form>", action.end())]
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(form)}
    return html.unescape(action.group(1)), fields


def assert_nothing_sent(response) -> None:
    """A refusal: no form for the tool, and no id_token in the answer, neither as a field
    nor as token text anywhere in the body (a refusal may name the *word*: "The
    response_type must be id_token.")."""
    assert form_of(response) == ("", {})
    assert b'name="id_token"' not in response.content
    assert JWT_TEXT.search(response.content) is None


def press(
    client: Client, registration: ToolRegistration, location: str, entity_id: str = "", **extra
):
    return client.post(
        "/lti/launch",
        {
            "tool": registration.client_id,
            "location": location,
            "entity": entity_id,
            "return_to": "/issuers/",
            **extra,
        },
    )


def auth_request(login_form: dict[str, str], **overrides) -> dict[str, str]:
    """What a tool sends to /lti/authorize after the login initiation `login_form`."""
    return {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": login_form["client_id"],
        "redirect_uri": login_form["target_link_uri"],
        "login_hint": login_form["login_hint"],
        "lti_message_hint": login_form["lti_message_hint"],
        "state": "state-1",
        "nonce": overrides.pop("nonce", "nonce-" + login_form["lti_message_hint"]),
        **overrides,
    }


def authorize(client: Client, params: dict[str, str], method: str = "get"):
    if method == "post":
        return client.post("/lti/authorize", params)
    return client.get("/lti/authorize?" + urlencode(params))
