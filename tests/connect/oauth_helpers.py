"""Driving the OAuth dance with Django's test client, step by step, as an app would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

from laurels.connect import services
from laurels.connect.models import Application

REDIRECT_URI = "https://app.example.org/callback"


@dataclass
class RegisteredApp:
    application: Application
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.application.client_id


def register_app(
    *, scopes="r:profile rw:profile r:backpack", public=False, redirect_uris=None, **extra
) -> RegisteredApp:
    created = services.application_create(
        name=extra.pop("name", "Example App"),
        redirect_uris=redirect_uris or [REDIRECT_URI],
        scopes=scopes,
        public=public,
        website_url="https://app.example.org",
        **extra,
    )
    return RegisteredApp(created.application, created.client_secret)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(
    app: RegisteredApp,
    *,
    scope="r:profile",
    state="state-123",
    redirect_uri=REDIRECT_URI,
    challenge=None,
    **extra,
) -> str:
    params = {
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "response_type": "code",
        "state": state,
        **extra,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return "/o/authorize?" + urlencode(params)


def consent_form_data(response, *, allow=True) -> dict:
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    if allow:
        data["allow"] = "true"
    return data


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 302, response.content[:500]
    location = urlsplit(response["Location"])
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def obtain_code(client, app, *, scope="r:profile", challenge=None, state="state-123") -> str:
    """Ask, see the consent page, allow; the code from the redirect."""
    page = client.get(authorize_url(app, scope=scope, challenge=challenge, state=state))
    if page.status_code == 302:  # consent remembered
        return redirect_params(page)["code"]
    assert page.status_code == 200, page.content[:500]
    answer = client.post("/o/authorize", consent_form_data(page))
    params = redirect_params(answer)
    assert params["state"] == state
    return params["code"]


def token_request(client, app, **form) -> dict:
    data = {"client_id": app.client_id, **form}
    if app.secret:
        data["client_secret"] = app.secret
    return client.post(
        "/o/token", urlencode(data), content_type="application/x-www-form-urlencoded"
    )


def exchange(client, app, code, *, verifier=None, redirect_uri=REDIRECT_URI):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        form["code_verifier"] = verifier
    return token_request(client, app, **form)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(user, app, scope) -> str:
    """An access token for `user`, obtained through the consent flow as an app would
    (with PKCE for a public app, which must use it)."""
    browser = Client()
    browser.force_login(user)
    verifier, challenge = pkce_pair() if app.secret is None else (None, None)
    code = obtain_code(browser, app, scope=scope, challenge=challenge)
    response = exchange(Client(), app, code, verifier=verifier)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]
