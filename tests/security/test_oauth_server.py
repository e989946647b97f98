"""Attacks on the OAuth 2.0 / OpenID Connect server, against a live server.

Each test plays one class of attack (or one rule of RFC 6749, RFC 7662, RFC 8252, RFC 9700
or OpenID Connect Core that an attacker would lean on) through real HTTP: a person's
browser (a logged-in httpx session that reads and posts the consent form), the apps
(registered with `laurels apps create` or by themselves at `/o/register`) and the token
endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import redis

from tests.servers import PASSWORD, RunningServer, free_port, laurels_cli, laurels_server

pytestmark = pytest.mark.server

TIMEOUT = 30
CALLBACK = "https://wall.example.org/oauth/callback"


# --- the people, the apps and the dance --------------------------------------------------


def make_user(server: RunningServer, email: str) -> str:
    laurels_cli(server, "createuser", email, "--password", PASSWORD)
    return email


@contextlib.contextmanager
def browser_for(server: RunningServer, email: str) -> Iterator[httpx.Client]:
    """A person's browser (cookies), logged in through the log-in form."""
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client:
        done = client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": csrf_token(client, "/accounts/login/"),
                "username": email,
                "password": PASSWORD,
            },
        )
        assert done.status_code == 302, done.text[:300]
        yield client


def csrf_token(browser: httpx.Client, path: str) -> str:
    page = browser.get(path)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def cli_app(server: RunningServer, name: str, *options: str) -> dict:
    """An app registered by the server's operator; its summary with the client secret."""
    return json.loads(laurels_cli(server, "apps", "create", "--name", name, *options, "--json"))


def self_register(server: RunningServer, **metadata) -> httpx.Response:
    document = {
        "client_name": f"Badge Wall {secrets.token_hex(4)}",
        "redirect_uris": [CALLBACK],
        **metadata,
    }
    return httpx.post(f"{server.base_url}/o/register", json=document, timeout=TIMEOUT)


def django_shell(server: RunningServer, code: str) -> str:
    """Run Python against the server's database, as its operator could."""
    return laurels_cli(server, "manage", "shell", "-c", code)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def is_consent_page(page: httpx.Response) -> bool:
    return page.status_code == 200 and "wants to connect to your account" in page.text


def authorize(browser: httpx.Client, app: dict, **params: str) -> httpx.Response:
    """Open the app's authorization link; press Allow if the consent page shows. The last
    answer: Laurels' redirect (302) or a page."""
    query = {"response_type": "code", "client_id": app["client_id"], "state": "s-1", **params}
    page = browser.get("/o/authorize?" + urlencode(query))
    if not is_consent_page(page):
        return page
    inputs = HiddenInputs()
    inputs.feed(page.text)
    return browser.post("/o/authorize", data={**inputs.fields, "allow": "true"})


def redirect_params(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text[:500]
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def token_request(server: RunningServer, app: dict, **form: str) -> httpx.Response:
    data = {"client_id": app["client_id"], **form}
    if app.get("client_secret"):
        data["client_secret"] = app["client_secret"]
    return httpx.post(f"{server.base_url}/o/token", data=data, timeout=TIMEOUT)


def password_login(server: RunningServer, email: str, app: dict | None = None) -> dict:
    """Badgr's password log-in (the built-in client `public`), or an app's password grant."""
    if app is None:
        answer = httpx.post(
            f"{server.base_url}/o/token",
            data={"username": email, "password": PASSWORD},
            timeout=TIMEOUT,
        )
    else:
        answer = token_request(
            server, app, grant_type="password", username=email, password=PASSWORD
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def calls_api(server: RunningServer, access_token: str) -> int:
    return httpx.get(
        f"{server.base_url}/v2/users/self",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    ).status_code


def refresh(server: RunningServer, app: dict, refresh_token: str) -> httpx.Response:
    return token_request(server, app, grant_type="refresh_token", refresh_token=refresh_token)


PUBLIC_CLIENT = {"client_id": "public"}


@pytest.fixture(scope="module")
def web_app(live) -> dict:
    """A confidential web app registered by the operator, with one redirect URI."""
    return cli_app(
        live,
        "Wall Display",
        "--redirect-uri",
        CALLBACK,
        "--scopes",
        "r:profile r:backpack",
        "--website",
        "https://wall.example.org",
    )


@pytest.fixture(scope="module")
def dana(live) -> Iterator[httpx.Client]:
    with browser_for(live, make_user(live, "dana@example.org")) as browser:
        yield browser


def code_for(browser: httpx.Client, app: dict, **params: str) -> str:
    params.setdefault("redirect_uri", CALLBACK)
    return redirect_params(authorize(browser, app, **params))["code"]


# --- 1. the password grant -----------------------------------------------------------------


def test_the_password_grant_is_for_first_party_apps_only(live):
    """Only the operator's first-party flag opens the password grant: self-registration and
    RFC 7592 updates refuse it, and an app whose grant type was switched to `password`
    behind the rules (the admin form, a script) still cannot use it."""
    victim = make_user(live, "victim-pw@example.org")
    assert self_register(live, grant_types=["password"], redirect_uris=[]).status_code == 400

    registered = self_register(live)
    assert registered.status_code == 201, registered.text
    app = registered.json()
    update = httpx.put(
        app["registration_client_uri"],
        json={"client_name": app["client_name"], "grant_types": ["password"], "redirect_uris": []},
        headers={"Authorization": f"Bearer {app['registration_access_token']}"},
        timeout=TIMEOUT,
    )
    assert update.status_code == 400, update.text
    denied = token_request(live, app, grant_type="password", username=victim, password=PASSWORD)
    assert denied.json()["error"] == "unauthorized_client", denied.text

    switched = django_shell(
        live,
        "from django.core.exceptions import ValidationError\n"
        "from laurels.connect.models import Application\n"
        f"app = Application.objects.get(client_id={app['client_id']!r})\n"
        "app.authorization_grant_type = Application.GRANT_PASSWORD\n"
        "try:\n"
        "    app.full_clean(exclude=['client_secret'])\n"
        "except ValidationError as error:\n"
        "    print('refused:', error.message_dict.get('authorization_grant_type'))\n"
        "app.save()\n",
    )
    assert "refused:" in switched, "the admin form would save a third-party password grant"
    stolen = token_request(live, app, grant_type="password", username=victim, password=PASSWORD)
    assert stolen.status_code in (400, 401), f"password grant answered {stolen.status_code}"
    assert stolen.json()["error"] == "unauthorized_client"

    first_party = cli_app(live, "Staff Portal", "--scopes", "r:profile", "--first-party")
    assert "access_token" in password_login(live, victim, first_party)


# --- 2. every token is listed and revocable -------------------------------------------------


def connected_apps(browser: httpx.Client) -> list[dict]:
    answer = browser.get("/v2/auth/tokens")
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_every_token_a_user_holds_is_listed_and_revocable(live, web_app):
    """Password-grant tokens (Badgr's log-in through the built-in client `public`, and
    first-party apps) had no consent row, so they were on no Connected apps page and
    nobody could end them there."""
    email = make_user(live, "erin@example.org")
    badgr = password_login(live, email)
    portal = cli_app(live, "Erin Staff Portal", "--scopes", "r:profile", "--first-party")
    portal_tokens = password_login(live, email, portal)
    with browser_for(live, email) as browser:
        code = code_for(browser, web_app, scope="r:profile r:backpack")
        wall = token_request(
            live, web_app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
        ).json()

        page = browser.get("/account/apps/")
        for name in ("Badgr-compatible password log-in", "Erin Staff Portal", "Wall Display"):
            assert name in page.text, f"{name} is not on the Connected apps page"
        listed = {entry["application"]["clientId"]: entry for entry in connected_apps(browser)}
        assert set(listed) == {"public", portal["client_id"], web_app["client_id"]}
        assert listed["public"]["grantTypes"] == ["password"]
        assert listed[web_app["client_id"]]["grantTypes"] == ["authorization_code"]
        assert set(listed["public"]["scope"].split()) == {"rw:profile", "rw:issuer", "rw:backpack"}

        # Disconnect Badgr's log-in on the page, the portal through the API.
        revoked = browser.post(
            "/account/apps/",
            data={
                "csrfmiddlewaretoken": csrf_token(browser, "/account/apps/"),
                "revoke": listed["public"]["entityId"],
            },
        )
        assert revoked.status_code == 302
        assert calls_api(live, badgr["access_token"]) == 401
        assert refresh(live, PUBLIC_CLIENT, badgr["refresh_token"]).status_code == 400

        gone = browser.delete(
            f"/v2/auth/tokens/{listed[portal['client_id']]['entityId']}",
            headers={"X-CSRFToken": browser.cookies["csrftoken"]},
        )
        assert gone.status_code == 204, gone.text
        assert calls_api(live, portal_tokens["access_token"]) == 401
        assert refresh(live, portal, portal_tokens["refresh_token"]).status_code == 400

        assert calls_api(live, wall["access_token"]) == 200  # the others are untouched
        assert [e["application"]["clientId"] for e in connected_apps(browser)] == [
            web_app["client_id"]
        ]


@pytest.mark.browser
def test_the_connected_apps_page_fits_a_phone(live, web_app, chromium):
    email = make_user(live, "fay@example.org")
    password_login(live, email)
    with browser_for(live, email) as browser:
        code_for(browser, web_app, scope="r:profile r:backpack")
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live.base_url}/accounts/login/?next=/account/apps/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/account/apps/")
    assert page.locator("text=Wall Display").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    page.close()
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"


# --- 3. introspection ------------------------------------------------------------------------


def introspect(server: RunningServer, token: str, auth=None, **form) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/o/introspect", data={"token": token, **form}, auth=auth, timeout=TIMEOUT
    )


def test_introspection_needs_the_introspection_privilege(live):
    """Any app with a client secret could read any user's token (its scopes, the user's
    email address) at /o/introspect; a public app needed no secret at all."""
    email = make_user(live, "gus@example.org")
    user_token = password_login(live, email)["access_token"]

    nosy = cli_app(live, "Nosy Web App", "--redirect-uri", CALLBACK, "--scopes", "r:profile")
    answer = introspect(live, user_token, auth=(nosy["client_id"], nosy["client_secret"]))
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "insufficient_scope"

    public = self_register(live, token_endpoint_auth_method="none").json()
    answer = introspect(live, user_token, client_id=public["client_id"], client_secret="")
    assert answer.status_code in (401, 403), answer.text

    asking = self_register(live, scope="introspection", grant_types=["client_credentials"],
                           redirect_uris=[]).json()  # fmt: skip
    assert asking["laurels_review_status"] == "pending"
    answer = introspect(live, user_token, auth=(asking["client_id"], asking["client_secret"]))
    assert answer.status_code in (401, 403), answer.text

    resource = cli_app(live, "Badge API Gateway", "--scopes", "introspection")
    answer = introspect(live, user_token, auth=(resource["client_id"], resource["client_secret"]))
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["active"] is True
    assert document["client_id"] == "public"
    assert email not in answer.text, "the answer names the user by email address"
    assert (
        httpx.get(
            f"{live.base_url}/o/introspect",
            params={"token": user_token},
            auth=(resource["client_id"], resource["client_secret"]),
        ).status_code
        == 405
    )


# --- 4. PKCE downgrade, redirect URI binding -------------------------------------------------


def test_pkce_downgrade_is_refused(live, dana, web_app):
    """A code issued without code_challenge was exchanged with a code_verifier: an attacker
    who injects such a code into a client session passes the PKCE check (RFC 9700 §4.8)."""
    code = code_for(dana, web_app)
    verifier, _ = pkce_pair()
    downgraded = token_request(
        live, web_app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
        code_verifier=verifier,
    )  # fmt: skip
    assert downgraded.status_code == 400, downgraded.text
    assert downgraded.json()["error"] == "invalid_grant"

    verifier, challenge = pkce_pair()
    bound = code_for(dana, web_app, code_challenge=challenge, code_challenge_method="S256")
    missing = token_request(
        live, web_app, grant_type="authorization_code", code=bound, redirect_uri=CALLBACK
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"  # the verifier is missing
    exchanged = token_request(
        live, web_app, grant_type="authorization_code", code=bound, redirect_uri=CALLBACK,
        code_verifier=verifier,
    )  # fmt: skip
    assert exchanged.status_code == 200, exchanged.text


def test_a_code_is_exchanged_only_with_the_redirect_uri_it_was_issued_for(live, dana, web_app):
    """RFC 6749 §4.1.3: a code asked for with redirect_uri was exchanged without it."""
    code = code_for(dana, web_app)
    without = token_request(live, web_app, grant_type="authorization_code", code=code)
    assert without.status_code == 400, without.text
    assert without.json()["error"] == "invalid_grant"
    other = token_request(
        live, web_app, grant_type="authorization_code", code=code,
        redirect_uri="https://wall.example.org/oauth/other",
    )  # fmt: skip
    assert other.json()["error"] == "invalid_grant"

    # Asked for without redirect_uri (one is registered): the exchange may leave it out.
    unnamed = redirect_params(authorize(dana, web_app))
    assert unnamed["code"]
    plain = token_request(live, web_app, grant_type="authorization_code", code=unnamed["code"])
    assert plain.status_code == 200, plain.text


# --- 5. concurrency --------------------------------------------------------------------------


def all_at_once(count: int, send) -> list[httpx.Response]:
    """`count` requests released together from as many threads."""
    start = threading.Barrier(count)
    answers: list[httpx.Response] = [None] * count  # type: ignore[list-item]

    def run(index: int) -> None:
        start.wait()
        answers[index] = send()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def outcomes(answers: list[httpx.Response]) -> Counter:
    return Counter(
        answer.status_code if answer.status_code != 400 else answer.json().get("error")
        for answer in answers
    )


def test_concurrent_refreshes_of_one_refresh_token_have_exactly_one_winner(live, web_app):
    """8 concurrent refreshes gave 500s and up to three winners; and a loser's invalid_grant
    must not count as reuse that revokes the winner's new tokens."""
    email = make_user(live, "hal@example.org")
    with browser_for(live, email) as browser:
        code = code_for(browser, web_app)
    first = token_request(
        live, web_app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
    ).json()

    answers = all_at_once(8, lambda: refresh(live, web_app, first["refresh_token"]))
    assert outcomes(answers) == Counter({200: 1, "invalid_grant": 7}), outcomes(answers)
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    assert calls_api(live, winner["access_token"]) == 200
    again = refresh(live, web_app, winner["refresh_token"])
    assert again.status_code == 200, again.text


# --- 6. prompt -------------------------------------------------------------------------------


def test_prompt_none_consent_and_login(live, web_app):
    """prompt=none showed the consent page instead of answering consent_required;
    prompt=consent skipped the page once approved; prompt=login let the session through."""
    email = make_user(live, "ivy@example.org")
    request = {"response_type": "code", "client_id": web_app["client_id"], "state": "s-1",
               "redirect_uri": CALLBACK}  # fmt: skip
    with browser_for(live, email) as browser:
        silent = browser.get("/o/authorize", params={**request, "prompt": "none"})
        assert not is_consent_page(silent), "prompt=none showed the consent page"
        params = redirect_params(silent)
        assert silent.headers["location"].startswith(CALLBACK + "?")
        assert params["error"] == "consent_required", params
        assert params["state"] == "s-1" and params["iss"] == live.base_url
        assert "code" not in params

        code_for(browser, web_app)  # approve once
        assert "code" in redirect_params(
            authorize(browser, web_app, redirect_uri=CALLBACK, prompt="none")
        )
        oidc = authorize(browser, web_app, redirect_uri=CALLBACK, prompt="none", scope="openid")
        assert oidc.status_code == 302, oidc.text[:300]

        again = browser.get("/o/authorize", params={**request, "prompt": "consent"})
        assert is_consent_page(again), "prompt=consent skipped the consent page"

        again = browser.get("/o/authorize", params={**request, "prompt": "login"})
        assert again.status_code == 302
        login_page = browser.get(again.headers["location"])
        assert login_page.status_code == 200 and 'name="password"' in login_page.text

    anonymous = httpx.get(
        f"{live.base_url}/o/authorize", params={**request, "prompt": "none", "state": "s-2"}
    )
    params = redirect_params(anonymous)
    assert params["error"] == "login_required" and params["state"] == "s-2"
    assert params["iss"] == live.base_url


# --- 7. discovery ----------------------------------------------------------------------------


def test_discovery_lists_only_what_is_supported(live):
    """The OpenID document offered HS256 and left out grant types (whose default includes
    the implicit grant); the RFC 8414 one offered the device grant and hid public clients."""
    oidc = httpx.get(f"{live.base_url}/.well-known/openid-configuration").json()
    oauth = httpx.get(f"{live.base_url}/.well-known/oauth-authorization-server").json()
    grants = {"authorization_code", "refresh_token", "client_credentials", "password"}
    for document in (oidc, oauth):
        assert set(document["grant_types_supported"]) == grants, document
        assert document["response_types_supported"] == ["code"]
        assert document["response_modes_supported"] == ["query"]
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert set(document["token_endpoint_auth_methods_supported"]) == {
            "client_secret_basic",
            "client_secret_post",
            "none",
        }
        assert document["authorization_response_iss_parameter_supported"] is True
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"sub", "email", "email_verified", "name", "given_name", "family_name"} <= set(
        oidc["claims_supported"]
    )
    assert set(oidc["prompt_values_supported"]) == {"none", "login", "consent"}
    assert oidc["request_parameter_supported"] is False
    assert oidc["request_uri_parameter_supported"] is False
    assert oauth["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


# --- 8. native apps on loopback --------------------------------------------------------------


def test_native_apps_use_loopback_redirect_uris_on_any_port(live, dana):
    """RFC 8252 §7.3: a native app listens on a port the system picks at run time, so it
    registers http://127.0.0.1/cb and comes back on any port. Only for IP literals, only
    for public apps (with PKCE), never for `localhost` or other hosts."""
    registered = self_register(
        live,
        token_endpoint_auth_method="none",
        redirect_uris=["http://127.0.0.1/callback", "http://[::1]/callback"],
    )
    assert registered.status_code == 201, registered.text
    native = registered.json()

    verifier, challenge = pkce_pair()
    uri = "http://127.0.0.1:53117/callback"
    answer = authorize(
        dana, native, redirect_uri=uri, code_challenge=challenge, code_challenge_method="S256"
    )
    assert answer.headers["location"].startswith(uri + "?"), answer.headers
    code = redirect_params(answer)["code"]
    tokens = token_request(
        live, native, grant_type="authorization_code", code=code, redirect_uri=uri,
        code_verifier=verifier,
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    v6 = authorize(
        dana, native, redirect_uri="http://[::1]:8123/callback", code_challenge=challenge,
        code_challenge_method="S256",
    )  # fmt: skip
    assert "code" in redirect_params(v6)

    assert redirect_params(authorize(dana, native, redirect_uri=uri))["error"] == "invalid_request"
    for wrong in (
        "http://localhost:53117/callback",
        "http://127.0.0.1:53117/other",
        "http://127.0.0.2:53117/callback",
        "https://127.0.0.1:53117/callback",
        "http://127.0.0.1:53117@evil.example/callback",
        "http://127.0.0.1:0x50/callback",
    ):
        page = authorize(
            dana, native, redirect_uri=wrong, code_challenge=challenge, code_challenge_method="S256"
        )
        assert page.status_code in (200, 400) and "location" not in page.headers, wrong

    refused = [
        self_register(live, token_endpoint_auth_method="none",
                      redirect_uris=["http://localhost/callback"]),
        self_register(live, redirect_uris=["http://127.0.0.1/callback"]),  # confidential
    ]  # fmt: skip
    assert [answer.status_code for answer in refused] == [400, 400], [r.text for r in refused]


# --- 9. codes at rest ------------------------------------------------------------------------


def test_authorization_codes_are_stored_as_digests(live, dana, web_app):
    """Whoever reads the database (a backup, a replica) could exchange the codes in it."""
    code = code_for(dana, web_app)
    with closing(sqlite3.connect(live.home / "laurels.sqlite3")) as database:
        stored = [row[0] for row in database.execute("SELECT code FROM oauth2_provider_grant")]
    assert code not in stored
    assert hashlib.sha256(code.encode()).hexdigest() in stored
    exchanged = token_request(
        live, web_app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
    )
    assert exchanged.status_code == 200, exchanged.text


# --- 10. refresh token lifetimes ---------------------------------------------------------------

IDLE_SECONDS = 4
ABSOLUTE_SECONDS = 6


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("short-lived") / "var"
    with laurels_server(
        home,
        LAURELS_REFRESH_TOKEN_IDLE_SECONDS=str(IDLE_SECONDS),
        LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS=str(ABSOLUTE_SECONDS),
    ) as server:
        yield server


def test_refresh_tokens_end_when_idle_and_at_the_absolute_limit(short_lived):
    """A refresh token lived forever: one stolen from a backup years later still worked."""
    email = make_user(short_lived, "jo@example.org")
    idle = password_login(short_lived, email)
    time.sleep(IDLE_SECONDS + 0.5)
    assert refresh(short_lived, PUBLIC_CLIENT, idle["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )

    started = time.monotonic()
    current = password_login(short_lived, email)["refresh_token"]
    for _ in range(2):  # each refresh well within the idle limit, and the family young
        time.sleep(2.5)
        answer = refresh(short_lived, PUBLIC_CLIENT, current)
        assert answer.status_code == 200, answer.text
        current = answer.json()["refresh_token"]
    time.sleep(max(0.0, ABSOLUTE_SECONDS + 1.5 - (time.monotonic() - started)))
    late = refresh(short_lived, PUBLIC_CLIENT, current)
    assert late.status_code == 400, late.text
    assert late.json()["error"] == "invalid_grant"


# --- 11. refresh-token reuse: the grace spares only the same client -------------------------

THIEF_ADDRESS = "127.0.0.2"  # another loopback address: another client, to the server


def refresh_from(
    server: RunningServer, app: dict, refresh_token: str, address: str = "127.0.0.1"
) -> httpx.Response:
    """A refresh sent from the client address `address`."""
    data = {
        "client_id": app["client_id"],
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        return client.post(f"{server.base_url}/o/token", data=data)


def reuse_audit(server: RunningServer, email: str) -> list[dict]:
    """The audit rows of refresh tokens of `email` presented again after their rotation."""
    printed = django_shell(
        server,
        "import json\n"
        "from laurels.connect.models import AuditEvent\n"
        "rows = AuditEvent.objects.filter(kind='refresh_token_reused', "
        f"user__email={email!r}).order_by('created_at')\n"
        "print(json.dumps([{**row.detail, 'ip': row.ip_address} for row in rows]))\n",
    )
    return json.loads(printed.strip().splitlines()[-1])


def test_a_thief_who_wins_the_refresh_race_loses_the_grant(live):
    """A refresh token presented again within the reuse grace was refused without
    revoking its family: a thief who refreshed first kept the grant for good, and one who
    replayed just after the app's own refresh went unnoticed. From another client address
    a duplicate is reuse (RFC 9700 §4.14.2): the whole family is revoked, and audited."""
    email = make_user(live, "kit@example.org")
    stolen = password_login(live, email)
    thief = refresh_from(live, PUBLIC_CLIENT, stolen["refresh_token"], THIEF_ADDRESS)
    assert thief.status_code == 200, thief.text
    late = refresh_from(live, PUBLIC_CLIENT, stolen["refresh_token"])  # the app, seconds later
    assert late.json()["error"] == "invalid_grant"
    assert calls_api(live, thief.json()["access_token"]) == 401, "the thief kept the grant"
    kept = refresh_from(live, PUBLIC_CLIENT, thief.json()["refresh_token"], THIEF_ADDRESS)
    assert kept.status_code == 400, "the thief kept the grant"

    # The app refreshes first; the thief's replay seconds later ends the grant for both.
    mine = password_login(live, email)
    fresh = refresh_from(live, PUBLIC_CLIENT, mine["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    replay = refresh_from(live, PUBLIC_CLIENT, mine["refresh_token"], THIEF_ADDRESS)
    assert replay.json()["error"] == "invalid_grant"
    assert calls_api(live, fresh.json()["access_token"]) == 401, "the replay went unnoticed"

    audit = reuse_audit(live, email)  # the app's duplicate, the thief's two tries after
    assert [(row["family_revoked"], row["ip"]) for row in audit] == [
        (True, "127.0.0.1"),
        (True, THIEF_ADDRESS),
        (True, THIEF_ADDRESS),
    ], audit
    assert all(row["seconds_since_spent"] < 10 for row in audit), audit


def test_concurrent_refreshes_from_two_addresses_end_the_grant(live):
    """The thief's race run at once: whichever request wins, those of the other client
    (losing at validation, or at the lock after it) revoke the family."""
    email = make_user(live, "kai@example.org")
    stolen = password_login(live, email)
    addresses = ["127.0.0.1", THIEF_ADDRESS] * 4
    answers = all_at_once(
        8,
        lambda: refresh_from(live, PUBLIC_CLIENT, stolen["refresh_token"], addresses.pop()),
    )
    assert outcomes(answers) == Counter({200: 1, "invalid_grant": 7}), outcomes(answers)
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    assert calls_api(live, winner["access_token"]) == 401, "the winner kept the grant"
    assert refresh_from(live, PUBLIC_CLIENT, winner["refresh_token"]).status_code == 400


def test_a_duplicate_refresh_from_the_same_client_is_refused_audited_and_spares_the_grant(live):
    """Two tabs of one app, or a retry after a lost answer: the duplicate is refused, the
    winner's new tokens keep working, and the duplicate is on the audit log."""
    email = make_user(live, "lou@example.org")
    first = password_login(live, email)
    winner = refresh_from(live, PUBLIC_CLIENT, first["refresh_token"])
    assert winner.status_code == 200, winner.text
    duplicate = refresh_from(live, PUBLIC_CLIENT, first["refresh_token"])
    assert duplicate.json()["error"] == "invalid_grant"
    assert calls_api(live, winner.json()["access_token"]) == 200
    assert refresh_from(live, PUBLIC_CLIENT, winner.json()["refresh_token"]).status_code == 200
    audit = reuse_audit(live, email)
    assert [(row["family_revoked"], row["ip"]) for row in audit] == [(False, "127.0.0.1")], audit


# --- 12. consent: the toolkit's approval_prompt and skip_authorization decide nothing ---------


def consents_granted(server: RunningServer, email: str) -> int:
    printed = django_shell(
        server,
        "from laurels.connect.models import AuditEvent\n"
        "print(AuditEvent.objects.filter(kind='consent_granted', "
        f"user__email={email!r}).count())\n",
    )
    return int(printed.strip().splitlines()[-1])


def test_approval_prompt_cannot_skip_laurels_consent(live, web_app):
    """The toolkit read `approval_prompt=auto` from the query string and, when the app held
    a live token for these scopes, issued a code before Laurels' consent logic looked:
    prompt=consent was skipped, and prompt=none answered a code without any consent. A
    code now needs a consent the person recorded, or their Allow on the consent page,
    which is audited every time."""
    email = make_user(live, "mo@example.org")
    request = {
        "response_type": "code",
        "client_id": web_app["client_id"],
        "state": "s-1",
        "redirect_uri": CALLBACK,
    }
    with browser_for(live, email) as browser:
        code = code_for(browser, web_app)  # approved once; the app holds a live token
        assert (
            token_request(
                live, web_app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
            ).status_code
            == 200
        )
        granted = consents_granted(live, email)
        forced = browser.get(
            "/o/authorize", params={**request, "prompt": "consent", "approval_prompt": "auto"}
        )
        assert is_consent_page(forced), f"prompt=consent skipped: {forced.headers}"
        inputs = HiddenInputs()
        inputs.feed(forced.text)
        allowed = browser.post("/o/authorize", data={**inputs.fields, "allow": "true"})
        assert "code" in redirect_params(allowed)
        assert consents_granted(live, email) == granted + 1, "an Allow went unaudited"

    # A first-party app holds a password-grant token of hers, and no consent.
    portal = cli_app(
        live, "Mo Portal", "--redirect-uri", CALLBACK, "--scopes", "r:profile", "--first-party"
    )
    password_login(live, email, portal)
    request["client_id"] = portal["client_id"]
    with browser_for(live, email) as browser:
        silent = browser.get(
            "/o/authorize", params={**request, "prompt": "none", "approval_prompt": "auto"}
        )
        assert redirect_params(silent).get("error") == "consent_required", silent.headers
        auto = browser.get("/o/authorize", params={**request, "approval_prompt": "auto"})
        assert is_consent_page(auto), f"a code without consent: {auto.headers}"

        # skip_authorization is the toolkit's; set behind the rules, it still asks.
        django_shell(
            live,
            "from laurels.connect.models import Application\n"
            f"Application.objects.filter(client_id={portal['client_id']!r})"
            ".update(skip_authorization=True)\n",
        )
        skipped = browser.get("/o/authorize", params=request)
        assert is_consent_page(skipped), f"a code without consent: {skipped.headers}"
        silent = browser.get("/o/authorize", params={**request, "prompt": "none"})
        assert redirect_params(silent).get("error") == "consent_required", silent.headers


# --- 13. the rate-limit store down -------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis server of the test's own, keeping nothing on disk: its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with closing(redis.Redis.from_url(url)) as client:
            for _ in range(100):
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        break
                time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_with_the_rate_limit_store_down_log_in_is_refused_with_503_not_500(tmp_path):
    """When the Redis of REDIS_URL went down, the log-in page and the password grant
    answered 500. They now fail closed with 503 and Retry-After (their limits are what
    stands between a guesser and the passwords), while apps holding tokens still refresh
    them."""
    with (
        redis_server() as (url, redis_process),
        laurels_server(tmp_path / "var", REDIS_URL=url) as server,
    ):
        email = make_user(server, "nell@example.org")
        held = password_login(server, email)
        redis_process.terminate()
        redis_process.wait(timeout=10)

        answer = httpx.post(
            f"{server.base_url}/o/token",
            data={"username": email, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 503, answer.text[:300]
        assert answer.json()["error"] == "temporarily_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
        with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as browser:
            page = browser.post(
                "/accounts/login/",
                data={
                    "csrfmiddlewaretoken": csrf_token(browser, "/accounts/login/"),
                    "username": email,
                    "password": PASSWORD,
                },
            )
            assert page.status_code == 503, page.text[:300]
            assert int(page.headers["Retry-After"]) > 0

        renewed = refresh(server, PUBLIC_CLIENT, held["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        assert "rate-limit store" in server.log()
