"""Regressions from the security review of LTI launch points: a pasted key is only ever
imported, tool URLs are https with a real port and a nameable origin, the LTI 1.1 secret
never reaches a cookie or the session, and /lti/authorize never changes what it echoes."""

import json

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from jwcrypto import jwk

from laurels.core import secrets
from laurels.core.csp import origin_source
from laurels.lti import services
from laurels.lti.models import PEM_MAX_CHARS, LtiLaunch, ToolRegistration
from laurels.lti.services import MAX_PARAMETER_CHARS
from tests.connect.oauth_helpers import register_app
from tests.lti.helpers import (
    JWKS_URL,
    LAUNCH_URL,
    LOGIN_URL,
    assert_nothing_sent,
    auth_request,
    authorize,
    connect,
    form_of,
    press,
    register_tool,
)

URL_FIELDS = ("login_url", "launch_url", "jwks_url", "icon_url")


def save(app, **changes):
    fields = {
        "login_url": LOGIN_URL,
        "launch_url": LAUNCH_URL,
        "jwks_url": JWKS_URL,
        "locations": ["backpack"],
        **changes,
    }
    return services.registration_save(application=app.application, actor=None, **fields)


def refused_key(text: str) -> str:
    with pytest.raises(ValidationError) as refused:
        save(register_app(), jwks_url="", public_key=text)
    return " ".join(refused.value.message_dict["public_key"])


@pytest.fixture
def rsa_key():
    return jwk.JWK.generate(kty="RSA", size=2048)


@pytest.fixture
def no_key_making(monkeypatch):
    """jwcrypto must never be asked to make or load a private key from pasted text."""

    def refuse(*args, **kwargs):
        raise AssertionError("a pasted key made jwcrypto generate or load a private key")

    monkeypatch.setattr(jwk.JWK, "generate_key", refuse)
    monkeypatch.setattr(jwk.JWK, "generate", refuse)


@pytest.mark.django_db
class TestPastedKey:
    @pytest.mark.parametrize(
        "members",
        [
            {"generate": "oct", "size": 80_000_000_000},
            {"generate": "RSA", "size": 16384},
            {"generate": "RSA", "kty": "RSA", "n": "AQAB", "e": "AQAB"},
        ],
    )
    def test_generate_is_refused_not_run(self, no_key_making, members):
        assert "Unknown or malformed member: generate" in refused_key(json.dumps(members))

    def test_unknown_or_malformed_members(self, rsa_key):
        public = rsa_key.export_public(as_dict=True)
        assert "member: note" in refused_key(json.dumps({**public, "note": "x"}))
        assert "member: key_ops" in refused_key(json.dumps({**public, "key_ops": 5}))
        assert "member: n" in refused_key(json.dumps({**public, "n": {"deep": 1}}))
        assert "private key" in refused_key(rsa_key.export_private())
        assert "Paste a public key" in refused_key('["not", "an", "object"]')

    def test_deep_nesting_is_a_form_error_not_a_500(self, client_logged_in, user):
        deep = '{"a":' + "[" * 5000
        assert "Paste a public key" in refused_key(deep)
        app = register_app(owner=user)
        response = client_logged_in.post(
            f"/developer/apps/{app.client_id}/lti/",
            {
                "login_url": LOGIN_URL,
                "launch_url": LAUNCH_URL,
                "public_key": deep,
                "locations": ["backpack"],
            },
        )
        assert response.status_code == 400
        assert b"Paste a public key" in response.content
        assert not ToolRegistration.objects.exists()

    def test_numbers_that_make_no_rsa_key(self):
        assert "Paste a public key" in refused_key('{"kty": "RSA", "n": "AQAB", "e": "AQAB"}')

    def test_private_pem_refused_before_it_is_parsed(self, monkeypatch, rsa_key):
        def refuse(*args, **kwargs):
            raise AssertionError("a private PEM was parsed")

        monkeypatch.setattr(jwk.JWK, "from_pem", refuse)
        pem = rsa_key.export_to_pem(private_key=True, password=None).decode()
        assert "private key" in refused_key(pem)
        public = rsa_key.export_to_pem().decode()
        assert "private key" in refused_key(f"{public}\n{pem}")

    def test_pem_size_is_capped(self, rsa_key):
        public = rsa_key.export_to_pem().decode()
        padded = public.replace("-----END", "\n" * PEM_MAX_CHARS + "-----END")
        assert "too long" in refused_key(padded)

    def test_a_public_jwk_with_its_usual_members_is_accepted(self, rsa_key):
        public = {**rsa_key.export_public(as_dict=True), "alg": "RS256", "use": "sig"}
        registration = save(register_app(), jwks_url="", public_key=json.dumps(public))
        assert json.loads(registration.public_key)["n"] == public["n"]


@pytest.mark.django_db
class TestToolUrls:
    @pytest.mark.parametrize("field", URL_FIELDS)
    @pytest.mark.parametrize("port", ["99999", "0", "-1", "x"])
    def test_a_port_must_be_a_port(self, field, port):
        with pytest.raises(ValidationError) as refused:
            save(register_app(), **{field: f"https://tool.example.org:{port}/x"})
        assert field in refused.value.message_dict

    @pytest.mark.parametrize("field", URL_FIELDS)
    def test_no_loopback_http_for_a_public_app_not_in_testing(self, field):
        app = register_app(public=True, redirect_uris=["http://127.0.0.1/cb"])
        assert not app.application.testing
        with pytest.raises(ValidationError) as refused:
            save(app, **{field: "http://127.0.0.1/x"})
        assert field in refused.value.message_dict

    def test_loopback_http_for_a_public_app_in_testing(self):
        app = register_app(public=True, testing=True, redirect_uris=["http://127.0.0.1/cb"])
        urls = {field: f"http://127.0.0.1:8000/{field}" for field in URL_FIELDS}
        assert save(app, **urls).launch_url == "http://127.0.0.1:8000/launch_url"

    def test_plain_http_elsewhere_even_in_testing(self):
        app = register_app(testing=True, redirect_uris=["http://localhost/cb"])
        with pytest.raises(ValidationError) as refused:
            save(app, launch_url="http://tool.example.org/launch")
        assert "launch_url" in refused.value.message_dict

    @pytest.mark.parametrize(
        "url",
        [
            "https://tool.example.org:8443/launch",
            "https://tool.example.org:443/launch",
            "https://тест.example/launch",
            "https://TOOL.example.org/launch",
            "https://tool.example.org:65536/launch",
            "https://tool_x.example.org/launch",
            "https://[::1]/launch",
            "ftp://tool.example.org/launch",
        ],
    )
    def test_every_saved_url_has_an_origin(self, url):
        try:
            registration = save(register_app(), launch_url=url)
        except ValidationError:
            return
        assert origin_source(registration.launch_url) is not None

    def test_an_lti11_launch_to_a_port(self, client_logged_in, user):
        app = register_app(scopes="openid")
        registration = save(app, launch_url="https://tool.example.org:8443/launch")
        services.lti11_set(registration=registration, enabled=True, actor=None)
        connect(user, registration, scopes=("openid",))
        response = press(client_logged_in, registration, "backpack", version="1.1")
        assert response.status_code == 200
        assert form_of(response)[0] == "https://tool.example.org:8443/launch"
        assert "https://tool.example.org:8443" in response["Content-Security-Policy"]

    def test_an_lti11_launch_url_saved_with_a_bad_port_is_refused_not_a_500(
        self, client_logged_in, user
    ):
        registration = save(register_app(scopes="openid"))
        services.lti11_set(registration=registration, enabled=True, actor=None)
        ToolRegistration.objects.update(launch_url="https://tool.example.org:99999/launch")
        connect(user, registration, scopes=("openid",))
        response = press(client_logged_in, registration, "backpack", version="1.1")
        assert response.status_code == 400
        assert b"cannot be signed" in response.content
        assert_nothing_sent(response)
        assert b"oauth_signature" not in response.content


@pytest.mark.django_db
class TestAdminSecret:
    @pytest.mark.parametrize("action", ["lti11_enable", "lti11_rotate_secret"])
    def test_shown_on_the_page_never_in_a_cookie_or_the_session(self, admin_client, rf, action):
        registration = register_tool()
        if action == "lti11_rotate_secret":
            services.lti11_set(registration=registration, enabled=True, actor=None)
        response = admin_client.post(
            "/admin/lti/toolregistration/",
            {"action": action, "_selected_action": [registration.pk]},
        )
        registration.refresh_from_db()
        secret = secrets.decrypt(registration.lti11_secret)
        assert response.status_code == 200
        page = response.content.decode()
        assert secret in page and registration.lti11_consumer_key in page
        assert "no-store" in response["Cache-Control"]
        if "messages" in response.cookies:
            stored = CookieStorage(rf.get("/"))._decode(response.cookies["messages"].value) or []
            assert not any(secret in str(message) for message in stored)
        assert not any(secret in str(row.get_decoded()) for row in Session.objects.all())
        # The next page shows no leftover of it either.
        listing = admin_client.get("/admin/lti/toolregistration/").content.decode()
        assert secret not in listing

    def test_enabling_what_is_on_goes_back_to_the_list(self, admin_client):
        registration = register_tool()
        services.lti11_set(registration=registration, enabled=True, actor=None)
        response = admin_client.post(
            "/admin/lti/toolregistration/",
            {"action": "lti11_enable", "_selected_action": [registration.pk]},
            follow=True,
        )
        assert response.status_code == 200
        assert b"was on already" in response.content


@pytest.mark.django_db
class TestAuthorizeParameters:
    @pytest.fixture
    def started(self, client_logged_in, connected_tool):
        return form_of(press(client_logged_in, connected_tool, "backpack"))[1]

    @pytest.mark.parametrize("method", ["get", "post"])
    @pytest.mark.parametrize("name", ["state", "nonce", "redirect_uri", "scope"])
    def test_over_long_parameters_are_refused_not_cut(
        self, client_logged_in, started, method, name
    ):
        params = auth_request(started, **{name: "s" * (MAX_PARAMETER_CHARS + 1)})
        response = authorize(client_logged_in, params, method=method)
        assert response.status_code == 400
        assert f"The {name} parameter is longer".encode() in response.content
        assert_nothing_sent(response)
        assert LtiLaunch.objects.get().used_at is None

    def test_the_longest_state_comes_back_unchanged(self, client_logged_in, started):
        state = "s" * MAX_PARAMETER_CHARS
        response = authorize(client_logged_in, auth_request(started, state=state), method="post")
        assert response.status_code == 200
        assert form_of(response)[1]["state"] == state

    def test_a_post_without_session_says_to_send_a_get(self, started):
        posted = authorize(Client(), auth_request(started), method="post")
        assert posted.status_code == 401
        assert b"must send it as a GET redirect" in posted.content
        redirected = authorize(Client(), auth_request(started))
        assert redirected.status_code == 401
        assert b"GET redirect" not in redirected.content
