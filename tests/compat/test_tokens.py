"""Badgr integrations' token calls against a live server: what a Badgr client library,
LMS plugin or home-made script sends to `/o/token` and the token endpoints, unchanged."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import Client

from laurels.connect.models import PersonalToken
from tests.factories import png_data_uri
from tests.servers import PASSWORD, RunningServer, laurels_cli, laurels_server


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-tokens") / "var"
    with laurels_server(home, workers=2, LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS="0") as server:
        yield server


@pytest.fixture(scope="module")
def person(live) -> str:
    email = "integrator@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    return email


def password_login(live: RunningServer, email: str) -> dict:
    """Badgr's documented log-in: username and password only, no client id."""
    response = httpx.post(
        f"{live.base_url}/o/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh(live: RunningServer, refresh_token: str) -> httpx.Response:
    """Badgr's documented refresh: grant type and refresh token only, no client id."""
    return httpx.post(
        f"{live.base_url}/o/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


def profile_status(live: RunningServer, access_token: str) -> int:
    return httpx.get(
        f"{live.base_url}/v2/users/self", headers={"Authorization": f"Bearer {access_token}"}
    ).status_code


def test_a_refresh_without_a_client_id_renews_a_password_log_in(live, person):
    first = password_login(live, person)
    response = refresh(live, first["refresh_token"])
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert renewed["refresh_token"] != first["refresh_token"]  # rotated
    assert set(renewed["scope"].split()) == set(first["scope"].split())
    assert profile_status(live, renewed["access_token"]) == 200


def test_a_refresh_token_presented_twice_without_a_client_id_ends_the_family(live, person):
    """Reuse detection still applies (the live server gives no grace for duplicates)."""
    first = password_login(live, person)
    renewed = refresh(live, first["refresh_token"]).json()
    again = refresh(live, first["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert refresh(live, renewed["refresh_token"]).status_code == 400
    assert profile_status(live, renewed["access_token"]) == 401


def test_a_refresh_without_a_client_id_is_only_for_the_public_clients_tokens(live, person):
    """Another app's refresh token still needs that app's client authentication; the
    public client's needs none."""
    assert refresh(live, password_login(live, person)["refresh_token"]).status_code == 200
    made = json.loads(
        laurels_cli(
            live,
            "apps",
            "create",
            "--name",
            "Grading tool",
            "--first-party",
            "--scopes",
            "r:profile",
            "--redirect-uri",
            "https://grading.example/cb",
            "--json",
        )
    )
    credentials = (made["client_id"], made["client_secret"])
    tokens = httpx.post(
        f"{live.base_url}/o/token",
        data={"grant_type": "password", "username": person, "password": PASSWORD},
        auth=credentials,
    ).json()
    response = refresh(live, tokens["refresh_token"])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    renewed = httpx.post(
        f"{live.base_url}/o/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=credentials,
    )
    assert renewed.status_code == 200, renewed.text


# --- personal tokens and Badgr's legacy API key ---------------------------------------------


def login_api(live: RunningServer, email: str) -> httpx.Client:
    """An API client carrying the token of Badgr's password log-in."""
    token = password_login(live, email)["access_token"]
    return httpx.Client(
        base_url=live.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )


def status_with(live: RunningServer, path: str, authorization: str) -> int:
    return httpx.get(f"{live.base_url}{path}", headers={"Authorization": authorization}).status_code


def test_a_script_gets_badgrs_api_key_and_sends_it_either_way(live):
    email = "legacy-script@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    with login_api(live, email) as api:
        first = api.get("/v2/auth/token")
        assert first.status_code == 200, first.text
        key = first.json()["result"][0]["token"]
        assert key
        assert status_with(live, "/v2/users/self", f"Token {key}") == 200
        assert status_with(live, "/v2/users/self", f"Bearer {key}") == 200
        # Only the digest is kept: asked again, the key is not shown (documented).
        assert api.get("/v2/auth/token").json()["result"][0]["token"] is None
        replaced = api.put("/v2/auth/token").json()["result"][0]["token"]
        assert replaced and replaced != key
        assert status_with(live, "/v2/users/self", f"Token {key}") == 401
        assert status_with(live, "/v2/users/self", f"Token {replaced}") == 200
        v1 = api.put("/v1/user/auth-token")
        assert v1.status_code == 200, v1.text
        assert v1.json()["replace"] is True
        assert set(v1.json()) == {"username", "token", "replace"}
        assert status_with(live, "/v2/users/self", f"Token {replaced}") == 401
        assert status_with(live, "/v2/users/self", f"Token {v1.json()['token']}") == 200
        assert api.get("/v1/user/auth-token").json()["token"] is None


def test_personal_tokens_are_named_scoped_listed_and_deleted(live):
    email = "personal-tokens@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    with login_api(live, email) as api:
        made = api.post(
            "/v2/auth/personal-tokens", json={"name": "Nightly export", "scope": "r:profile"}
        )
        assert made.status_code == 201, made.text
        token = made.json()["result"][0]
        assert token["name"] == "Nightly export" and token["scope"] == "r:profile"
        listed = api.get("/v2/auth/personal-tokens").json()["result"]
        assert [(t["entityId"], t["token"]) for t in listed] == [(token["entityId"], None)]
        key = token["token"]
        assert status_with(live, "/v2/users/self", f"Bearer {key}") == 200
        assert status_with(live, "/v2/backpack/assertions", f"Bearer {key}") == 403
        bad = api.post("/v2/auth/personal-tokens", json={"name": "x", "scope": "introspection"})
        assert bad.status_code == 400
        gone = api.delete(f"/v2/auth/personal-tokens/{token['entityId']}")
        assert gone.status_code == 204 and gone.content == b""
        assert status_with(live, "/v2/users/self", f"Bearer {key}") == 401
        assert api.get("/v2/auth/personal-tokens").json()["result"] == []


def test_a_personal_token_cannot_make_more_or_broader_tokens(live):
    email = "no-escalation@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    with login_api(live, email) as api:
        key = api.post(
            "/v2/auth/personal-tokens", json={"name": "Profile only", "scope": "rw:profile"}
        ).json()["result"][0]["token"]
    headers = {"Authorization": f"Token {key}"}
    made = httpx.post(
        f"{live.base_url}/v2/auth/personal-tokens",
        json={"name": "Everything", "scope": "rw:issuer rw:backpack"},
        headers=headers,
    )
    assert made.status_code == 403
    assert httpx.put(f"{live.base_url}/v2/auth/token", headers=headers).status_code == 403


def test_the_personal_tokens_page_shows_a_new_token_once_and_deletes_it(client_logged_in):
    page = client_logged_in.get("/account/tokens/")
    assert page.status_code == 200
    assert b"<legend>Permissions</legend>" in page.content
    made = client_logged_in.post(
        "/account/tokens/", {"name": "Grades sync", "scope": ["r:profile"]}
    )
    assert made.status_code == 200
    key = re.search(rb'id="new-token" type="text" readonly value="([^"]+)"', made.content)[1]
    me = Client().get("/v2/users/self", headers={"Authorization": f"Bearer {key.decode()}"})
    assert me.status_code == 200
    listed = client_logged_in.get("/account/tokens/")
    assert b"Grades sync" in listed.content and key not in listed.content
    entity_id = PersonalToken.objects.get(name="Grades sync").entity_id
    deleted = client_logged_in.post("/account/tokens/", {"delete": entity_id})
    assert deleted.status_code == 302
    gone = Client().get("/v2/users/self", headers={"Authorization": f"Token {key.decode()}"})
    assert gone.status_code == 401


def test_personal_token_answers_match_the_api_document(client_logged_in):
    """From a session (the interactive docs); every /v2 answer here is checked against
    the OpenAPI document (tests/api/contract.py)."""
    made = client_logged_in.post(
        "/v2/auth/personal-tokens",
        {"name": "Docs", "scope": "r:backpack"},
        content_type="application/json",
    )
    assert made.status_code == 201
    assert client_logged_in.get("/v2/auth/personal-tokens").json()["result"][0]["name"] == "Docs"
    assert client_logged_in.get("/v2/auth/token").json()["result"][0]["token"]
    assert client_logged_in.put("/v2/auth/token").json()["result"][0]["token"]
    entity_id = made.json()["result"][0]["entityId"]
    assert client_logged_in.delete(f"/v2/auth/personal-tokens/{entity_id}").status_code == 204
    assert client_logged_in.delete(f"/v2/auth/personal-tokens/{entity_id}").status_code == 404


def test_badgrs_token_list_answers_a_password_log_in_with_badgrs_field_names(live):
    email = "token-list@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    with login_api(live, email) as api:
        listed = api.get("/v2/auth/tokens")
        assert listed.status_code == 200, listed.text
        (entry,) = [e for e in listed.json()["result"] if e["application"]["clientId"] == "public"]
        assert {"name", "image", "website_url", "clientId", "policyUri", "termsUri"} <= set(
            entry["application"]
        )
        assert {"entityId", "scope", "expires", "created"} <= set(entry)
        one = api.get(f"/v2/auth/tokens/{entry['entityId']}")
        assert one.status_code == 200 and one.json()["result"][0]["entityId"] == entry["entityId"]
        gone = api.delete(f"/v2/auth/tokens/{entry['entityId']}")
        assert gone.status_code == 204 and gone.content == b""
        assert api.get("/v2/auth/tokens").status_code == 401  # its own token went with it


# --- Badgr's server-to-server pattern: client credentials as the owner, issuer tokens -------


def integration_app(live: RunningServer, owner: str, *extra: str) -> tuple[str, str]:
    """A confidential service app, registered by the operator as Badgr operators did:
    owned by `owner`; its client id and secret."""
    made = json.loads(
        laurels_cli(
            live,
            "apps",
            "create",
            "--name",
            f"Integration of {owner}",
            "--scopes",
            "r:profile rw:issuer rw:issuer:*",
            "--owner",
            owner,
            "--json",
            *extra,
        )
    )
    return made["client_id"], made["client_secret"]


def client_credentials(live: RunningServer, credentials: tuple[str, str], scope: str):
    return httpx.post(
        f"{live.base_url}/o/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=credentials,
    )


def bearer_client(live: RunningServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=live.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )


def test_client_credentials_act_as_the_owner_only_once_switched_on(live):
    owner = "service-owner@example.org"
    laurels_cli(live, "createuser", owner, "--password", PASSWORD)
    credentials = integration_app(live, owner)
    refused = client_credentials(live, credentials, "rw:issuer")
    assert refused.json()["error"] == "invalid_scope"
    laurels_cli(live, "apps", "acts-as-owner", credentials[0], "on")
    granted = client_credentials(live, credentials, "rw:issuer r:profile")
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    with bearer_client(live, token) as api:
        me = api.get("/v2/users/self").json()["result"][0]
        assert me["emails"][0]["email"] == owner
    laurels_cli(live, "apps", "acts-as-owner", credentials[0], "off")
    assert profile_status(live, token) == 401


def test_issuer_tokens_as_badgr_made_them(live):
    owner = "issuer-tokens-owner@example.org"
    laurels_cli(live, "createuser", owner, "--password", PASSWORD)
    credentials = integration_app(live, owner, "--acts-as-owner")
    app_token = client_credentials(live, credentials, "rw:issuer").json()["access_token"]
    issuer_body = {"name": "Bound", "url": "https://bound.example.org", "email": owner}
    with bearer_client(live, app_token) as api:
        bound = api.post("/v2/issuers", json=issuer_body).json()["result"][0]["entityId"]
        other = api.post("/v2/issuers", json={**issuer_body, "name": "Other"}).json()
        other = other["result"][0]["entityId"]
        answer = api.post("/v2/tokens/issuers", json={"issuers": [bound]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"]["success"] is True
        [entry] = answer.json()["result"]
        assert set(entry) == {"token", "issuer", "expires"}
        assert entry["issuer"] == bound and entry["expires"]
        unknown = api.post("/v2/tokens/issuers", json={"issuers": [bound, "no-such-issuer"]})
        assert unknown.status_code == 400
        assert "unknown issuer" in unknown.text
        assert api.post("/v2/tokens/issuers", json={}).status_code == 400
        form = api.post("/v2/tokens/issuers", data={"issuers": bound})  # a form, as Badgr's
        assert form.status_code == 200, form.text

    with bearer_client(live, entry["token"]) as bound_api:
        assert bound_api.get(f"/v2/issuers/{bound}").status_code == 200
        assert bound_api.get(f"/v2/issuers/{other}").status_code == 404
        listed = bound_api.get("/v2/issuers").json()["result"]
        assert [row["entityId"] for row in listed] == [bound]
        badge = bound_api.post(
            f"/v2/issuers/{bound}/badgeclasses",
            json={"name": "Synced", "description": "From the LMS.", "image": png_data_uri()},
        )
        assert badge.status_code == 201, badge.text
        more = bound_api.post("/v2/tokens/issuers", json={"issuers": [bound]})
        assert more.status_code == 403  # no rw:issuer of its own: it cannot make more

    # An issuer the caller does not work for: as unknown as a missing one (no leak).
    stranger = "issuer-tokens-stranger@example.org"
    laurels_cli(live, "createuser", stranger, "--password", PASSWORD)
    with login_api(live, stranger) as theirs:
        foreign = theirs.post("/v2/issuers", json={**issuer_body, "email": stranger})
        foreign_id = foreign.json()["result"][0]["entityId"]
    with bearer_client(live, app_token) as api:
        refused = api.post("/v2/tokens/issuers", json={"issuers": [foreign_id]})
        assert refused.status_code == 400 and "unknown issuer" in refused.text

    laurels_cli(live, "apps", "disable", credentials[0])
    assert status_with(live, f"/v2/issuers/{bound}", f"Bearer {entry['token']}") == 401


def test_issuer_tokens_need_an_apps_token_of_an_app_with_an_owner(live):
    email = "issuer-tokens-public@example.org"
    laurels_cli(live, "createuser", email, "--password", PASSWORD)
    with login_api(live, email) as api:  # Badgr's `public` log-in: an app with no owner
        issuer = api.post(
            "/v2/issuers", json={"name": "Mine", "url": "https://mine.example.org", "email": email}
        ).json()["result"][0]["entityId"]
        refused = api.post("/v2/tokens/issuers", json={"issuers": [issuer]})
        assert refused.status_code == 403
        assert "owner" in refused.json()["status"]["description"]
