"""The OAuth dance against a live `laurels serve`, driven by a real OAuth client library
(Authlib) the way a connected app would, with the app registered through the CLI."""

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.servers import LAURELS, laurels_cli, laurels_server, server_env

pytestmark = pytest.mark.server
REDIRECT_URI = "http://localhost:8765/callback"
PASSWORD = "a sturdy passphrase"
TIMEOUT = 30  # seconds; generous for a loaded CI machine, a hang still fails


class HiddenInputs(HTMLParser):
    """The hidden fields of the consent form, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # No grace for concurrent duplicate refreshes here: any replay counts as theft at once
    # (tests/security/test_oauth_server.py covers the grace).
    with laurels_server(
        tmp_path_factory.mktemp("oauth") / "var", LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS="0"
    ) as running:
        laurels_cli(
            running,
            "createuser",
            "dana@example.org",
            "--password",
            PASSWORD,
            "--first-name",
            "Dana",
        )
        yield running


@pytest.fixture(scope="module")
def registered(server) -> dict:
    out = laurels_cli(
        server,
        "apps",
        "create",
        "--name",
        "Live Test App",
        "--redirect-uri",
        REDIRECT_URI,
        "--scopes",
        "r:profile rw:profile r:backpack",
        "--testing",
        "--json",
    )
    return json.loads(out)


@pytest.fixture
def browser(server):
    """A person's browser, logged in to Laurels."""
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "dana@example.org",
                "password": PASSWORD,
            },
        )
        assert done.status_code == 302
        yield client


def app_session(server, registered, **kwargs) -> OAuth2Client:
    return OAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered["client_secret"],
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        **kwargs,
    )


def authorize_in_browser(browser, url: str) -> str:
    """Open the app's link, press Allow if asked; the URL Laurels redirects back to."""
    page = browser.get(url)
    if page.status_code == 200:
        inputs = HiddenInputs()
        inputs.feed(page.text)
        assert "wants to connect to your account" in page.text
        page = browser.post("/o/authorize", data={**inputs.fields, "allow": "true"})
    assert page.status_code == 302, page.text[:500]
    return page.headers["location"]


def full_dance(server, registered, browser, scope: str):
    verifier = "v" * 20 + "a-long-random-code-verifier-for-pkce"
    session = app_session(server, registered, scope=scope)
    url, state = session.create_authorization_url(
        f"{server.base_url}/o/authorize", code_verifier=verifier
    )
    callback = authorize_in_browser(browser, url)
    assert f"state={state}" in callback
    token = session.fetch_token(
        f"{server.base_url}/o/token", authorization_response=callback, code_verifier=verifier
    )
    return session, token


def test_metadata_documents_name_the_badgr_paths(server):
    oauth = httpx.get(f"{server.base_url}/.well-known/oauth-authorization-server").json()
    oidc = httpx.get(f"{server.base_url}/.well-known/openid-configuration").json()
    for document in (oauth, oidc):
        assert document["issuer"] == server.base_url
        assert document["authorization_endpoint"] == f"{server.base_url}/o/authorize"
        assert document["token_endpoint"] == f"{server.base_url}/o/token"
    assert oauth["code_challenge_methods_supported"] == ["S256"]
    assert "rw:backpack" in oauth["scopes_supported"]
    assert oidc["jwks_uri"] == f"{server.base_url}/o/jwks"
    assert oidc["userinfo_endpoint"] == f"{server.base_url}/o/userinfo"


def test_the_whole_dance_with_authlib(server, registered, browser):
    session, token = full_dance(server, registered, browser, "r:profile rw:profile")
    assert set(token) >= {"token_type", "access_token", "expires_in", "refresh_token", "scope"}
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400
    assert set(token["scope"].split()) == {"r:profile", "rw:profile"}

    me = session.get(f"{server.base_url}/v2/users/self").json()["result"][0]
    assert me["firstName"] == "Dana"

    changed = session.put(f"{server.base_url}/v2/users/self", json={"lastName": "Scully"})
    assert changed.status_code == 200
    assert changed.json()["result"][0]["lastName"] == "Scully"


def test_refresh_rotation_and_reuse_detection(server, registered, browser):
    session, first = full_dance(server, registered, browser, "r:profile")
    second = session.refresh_token(f"{server.base_url}/o/token")
    assert second["refresh_token"] != first["refresh_token"]
    assert session.get(f"{server.base_url}/v2/user/profile").status_code == 200

    replay = httpx.post(
        f"{server.base_url}/o/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
        },
    )
    assert replay.status_code == 400
    # The whole grant is gone, including the tokens the legitimate refresh produced.
    assert session.get(f"{server.base_url}/v2/user/profile").status_code == 401


def test_revocation_and_introspection(server, registered, browser):
    resource_server = json.loads(
        laurels_cli(
            server,
            "apps",
            "create",
            "--name",
            "Resource server",
            "--scopes",
            "introspection",
            "--json",
        )
    )
    checker = OAuth2Client(
        client_id=resource_server["client_id"],
        client_secret=resource_server["client_secret"],
        scope="introspection",
    )
    checker.fetch_token(f"{server.base_url}/o/token", grant_type="client_credentials")

    session, token = full_dance(server, registered, browser, "r:profile r:backpack")
    active = checker.post(f"{server.base_url}/o/introspect", data={"token": token["access_token"]})
    assert active.json()["active"] is True
    assert set(active.json()["scope"].split()) == {"r:profile", "r:backpack"}

    session.revoke_token(f"{server.base_url}/o/revoke_token", token=token["access_token"])
    gone = checker.post(f"{server.base_url}/o/introspect", data={"token": token["access_token"]})
    assert gone.json() == {"active": False}
    assert session.get(f"{server.base_url}/v2/users/self").status_code == 401


def test_openid_connect_id_token_verifies_with_the_published_keys(server, registered, browser):
    session, token = full_dance(server, registered, browser, "openid email r:profile")
    keys = KeySet.import_key_set(httpx.get(f"{server.base_url}/o/jwks").json())
    id_token = jwt.decode(token["id_token"], keys)
    assert id_token.header["alg"] == "RS256"
    me = session.get(f"{server.base_url}/v2/users/self").json()["result"][0]
    claims = id_token.claims
    assert claims["iss"] == server.base_url
    assert claims["aud"] == registered["client_id"]
    assert claims["sub"] == me["entityId"]
    assert claims["email"] == "dana@example.org"

    userinfo = session.get(f"{server.base_url}/o/userinfo").json()
    assert userinfo["sub"] == me["entityId"]
    assert userinfo["email"] == "dana@example.org"
    assert userinfo["given_name"] == "Dana"


def test_pkce_challenge_is_bound_to_the_code(server, registered, browser):
    session = app_session(server, registered, scope="r:profile")
    verifier = "w" * 60
    url, _ = session.create_authorization_url(
        f"{server.base_url}/o/authorize", code_verifier=verifier
    )
    assert f"code_challenge={create_s256_code_challenge(verifier)}" in url
    callback = authorize_in_browser(browser, url)
    with pytest.raises(Exception, match="invalid_grant"):
        session.fetch_token(
            f"{server.base_url}/o/token", authorization_response=callback, code_verifier="z" * 60
        )


def test_the_shell_example_in_the_docs_works(server):
    """docs/examples/oauth-dance.sh: register with `laurels apps create --json`, then the
    dance with curl, exactly as the developer guide shows it."""
    script = Path(__file__).parents[2] / "docs" / "examples" / "oauth-dance.sh"
    env = server_env(
        server.home, LAURELS_BASE_URL=server.base_url, EMAIL="dana@example.org", PASSWORD=PASSWORD
    )
    env["PATH"] = f"{LAURELS.parent}:{env['PATH']}"
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== done" in result.stdout
    assert '"token_type": "Bearer"' in result.stdout
    assert '"entityType":"BadgeUser"' in result.stdout
    assert result.stdout.count('"success":true') == 2
