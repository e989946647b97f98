"""Log in with your institution (accounts.institution): which account a provider's person
gets, how the ID token is checked, and the pages of the flow on real servers, with a
second Laurels as the upstream OpenID Connect provider. The whole walk in Chromium is
tests/browser/test_institution_login.py."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path

from laurels.accounts import institution, services
from laurels.accounts.institution_views import LINKING_SESSION_KEY, refused
from laurels.accounts.models import EmailAddress, InstitutionLink, User
from laurels.config import InstitutionLogin
from laurels.jobs.models import OutboxMail
from laurels.urls import urlpatterns as site_urls  # (under the test settings: no /oidc/)
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.servers import free_port, laurels_cli, laurels_server

CLIENT_ID = "laurels-here"


def configured(issuer: str = "https://login.example.edu", *, create_accounts: bool = True):
    """These tests' settings as if LAURELS_OIDC_* named `issuer`."""
    return override_settings(
        LAURELS_OIDC=InstitutionLogin(
            issuer=issuer,
            client_id=CLIENT_ID,
            client_secret="secret",
            name="Example University",
            scopes="openid email profile",
            create_accounts=create_accounts,
        ),
        LAURELS_OIDC_CREATE_ACCOUNTS=create_accounts,
        LAURELS_ALLOW_PRIVATE_FETCH="127.0.0.1/32",
    )


def claims(sub: str = "u-1", email: str = "ada@uni.example.edu", verified=True, **more):
    return {"sub": sub, "email": email, "email_verified": verified, **more}


@pytest.mark.django_db
class TestWhichAccount:
    """`institution_user_for_claims`: a link, else a verified address on both sides, else
    a new account."""

    def test_a_new_person_gets_an_account_and_a_link(self):
        with configured():
            user = services.institution_user_for_claims(
                claims=claims(given_name="Ada", family_name="Lovelace")
            )
        assert (user.email, user.first_name, user.last_name) == (
            "ada@uni.example.edu",
            "Ada",
            "Lovelace",
        )
        assert user.email_addresses.get().verified
        assert not user.has_usable_password()
        link = InstitutionLink.objects.get(user=user)
        assert (link.issuer, link.subject) == ("https://login.example.edu", "u-1")
        assert link.last_login_at is not None

    def test_the_link_finds_the_account_again_whatever_the_address_becomes(self):
        with configured():
            first = services.institution_user_for_claims(claims=claims())
            again = services.institution_user_for_claims(
                claims=claims(email="someone.else@example.org", verified=False)
            )
        assert again == first
        assert User.objects.count() == 1

    def test_an_address_the_provider_did_not_verify_makes_an_unverified_account(self):
        with configured():
            user = services.institution_user_for_claims(claims=claims(verified=False))
            # ... which may still hold the session its log-in made: the provider vouches.
            assert institution.InstitutionBackend().get_user(user.pk) == user
        assert not user.email_addresses.get().verified

    @pytest.mark.parametrize("value", [True, "true", "TRUE"])
    def test_verified_both_sides_links_the_existing_account(self, value):
        existing = UserFactory(email="ada@uni.example.edu")
        with configured():
            user = services.institution_user_for_claims(claims=claims(verified=value))
        assert user == existing
        assert InstitutionLink.objects.get().user == existing
        assert existing.has_usable_password()

    @pytest.mark.parametrize("value", [False, None, "false", "yes", 1])
    def test_an_unverified_upstream_address_never_opens_an_existing_account(self, value):
        UserFactory(email="ada@uni.example.edu")
        with configured(), pytest.raises(services.UnverifiedEmailTaken) as caught:
            services.institution_user_for_claims(claims=claims(verified=value))
        assert caught.value.status == 409
        assert not InstitutionLink.objects.exists()
        assert User.objects.count() == 1

    def test_an_address_only_claimed_here_is_not_linked(self):
        pending = UserFactory(email="ada@uni.example.edu", verified=False)
        with configured():
            user = services.institution_user_for_claims(claims=claims())
        assert user != pending
        assert EmailAddress.objects.get(email="ada@uni.example.edu", verified=True).user == user
        # The sign-up nobody proved goes, as when anyone proves the address first.
        assert not User.objects.filter(pk=pending.pk).exists()
        assert not InstitutionLink.objects.exclude(user=user).exists()

    def test_no_new_accounts_when_the_operator_says_so(self):
        with configured(create_accounts=False), pytest.raises(services.AccountsNotCreated):
            services.institution_user_for_claims(claims=claims())
        assert not User.objects.exists()

    @pytest.mark.parametrize("email", ["", "not an address", None, "ada@uni.example.edu\x00"])
    def test_no_usable_address_no_new_account(self, email):
        with configured(), pytest.raises(services.NoUsableEmail):
            services.institution_user_for_claims(claims=claims(email=email))
        assert not User.objects.exists()

    @pytest.mark.parametrize("sub", ["", None, 42, "x" * 256, "u\x00"])
    def test_a_subject_that_names_nobody_is_refused(self, sub):
        with configured(), pytest.raises(institution.InstitutionLoginRefused):
            services.institution_user_for_claims(claims=claims(sub=sub))

    def test_a_long_name_is_cut_not_refused(self):
        with configured():
            user = services.institution_user_for_claims(claims=claims(given_name="A" * 400))
        assert user.first_name == "A" * 150

    def test_linking_from_settings_joins_the_signed_in_account(self):
        ada = UserFactory(email="ada@home.example.org")
        with configured():
            linked = services.institution_user_for_claims(claims=claims(), link_to=ada)
            again = services.institution_user_for_claims(claims=claims())
        assert linked == again == ada
        assert not User.objects.filter(email="ada@uni.example.edu").exists()

    def test_a_subject_linked_to_another_account_is_not_moved(self):
        ada, grace = UserFactory(), UserFactory()
        with configured():
            services.institution_user_for_claims(claims=claims(), link_to=ada)
            with pytest.raises(services.InstitutionLinkedElsewhere):
                services.institution_user_for_claims(claims=claims(), link_to=grace)
            with pytest.raises(services.InstitutionLinkedElsewhere):
                services.institution_user_for_claims(claims=claims(sub="u-2"), link_to=ada)
        assert InstitutionLink.objects.get().user == ada

    def test_an_account_linked_to_another_subject_is_not_joined_by_address(self):
        ada = UserFactory(email="ada@uni.example.edu")
        with configured():
            services.institution_user_for_claims(claims=claims(sub="old"), link_to=ada)
            with pytest.raises(services.InstitutionLinkedElsewhere):
                services.institution_user_for_claims(claims=claims(sub="new"))
        assert list(InstitutionLink.objects.values_list("subject", flat=True)) == ["old"]

    def test_unlinking_needs_a_password_to_log_in_with(self):
        with configured():
            made = services.institution_user_for_claims(claims=claims())
            with pytest.raises(ValidationError):
                services.institution_unlink(user=made)
            ada = UserFactory()
            services.institution_user_for_claims(claims=claims(sub="u-2"), link_to=ada)
            assert services.institution_unlink(user=ada) == 1
        assert list(InstitutionLink.objects.values_list("user", flat=True)) == [made.pk]


@pytest.mark.django_db
class TestTheOwnerIsTold:
    """Every new link to an existing account, and every unlinking, is mailed to its owner:
    a link is a way in that a password change or reset does not end."""

    @staticmethod
    def mails(to: str) -> list[OutboxMail]:
        return list(OutboxMail.objects.filter(to=to).order_by("pk"))

    def test_linking_from_settings_and_unlinking_are_mailed(self):
        ada = UserFactory(email="ada@home.example.org")
        with configured():
            services.institution_user_for_claims(claims=claims(), link_to=ada)
            linked = self.mails("ada@home.example.org")
            assert [m.subject for m in linked] == [
                "An account at Example University was linked to your Laurels account"
            ]
            assert "Unlink Example University" in linked[0].body
            assert "http://127.0.0.1:8000/account/" in linked[0].body
            services.institution_unlink(user=ada)
        unlinked = self.mails("ada@home.example.org")[1:]
        assert [m.subject for m in unlinked] == [
            "Example University was unlinked from your Laurels account"
        ]

    def test_a_link_made_by_a_verified_address_at_log_in_is_mailed(self):
        UserFactory(email="ada@uni.example.edu")
        with configured():
            services.institution_user_for_claims(claims=claims())
            services.institution_user_for_claims(claims=claims())  # the link again: no mail
        assert len(self.mails("ada@uni.example.edu")) == 1

    def test_a_new_account_has_nobody_else_to_tell(self):
        with configured():
            services.institution_user_for_claims(claims=claims())
        assert not OutboxMail.objects.exists()

    def test_nothing_to_unlink_is_not_mailed(self):
        ada = UserFactory()
        with configured():
            assert services.institution_unlink(user=ada) == 0
        assert not OutboxMail.objects.exists()


def test_the_refusal_pages_say_what_happened_and_where_to_go(db):
    request = RequestFactory().get("/oidc/callback/")
    request.user = UserFactory()
    request.session = {}
    with configured():
        response = refused(request, services.UnverifiedEmailTaken())
    assert response.status_code == 409
    page = response.content.decode()
    assert "Log in with your email address and password, then link Example University" in page
    assert 'href="/account/"' in page


def test_without_a_provider_there_is_no_button_and_no_oidc_urls(db):
    client = Client()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert "Log in with" not in client.get("/accounts/login/").content.decode()


# --- the ID token, against a stub provider (the upstream is not our code here) -----------------


class StubProvider:
    """A discovery document and JWKS served by tests/httpstub.py, and tokens signed by its
    keys (RSA and EC), for checks no well-behaved provider would ever make fail."""

    def __init__(self, serve) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.server = serve()
        self.routes = self.server.routes
        self.issuer = self.server.url
        self.publish(self.rsa_jwk("rsa-1"), self.ec_jwk("ec-1"))
        self.routes["/.well-known/openid-configuration"] = self.json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256"],
            }
        )

    @staticmethod
    def json(document) -> tuple:
        return (200, {"Content-Type": "application/json"}, json.dumps(document).encode(), 0)

    def rsa_jwk(self, kid: str, key=None) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk((key or self.rsa).public_key()))
        return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}

    def ec_jwk(self, kid: str) -> dict:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}

    def publish(self, *jwks: dict) -> None:
        self.routes["/jwks"] = self.json({"keys": list(jwks)})

    def token(self, *, key=None, alg="RS256", kid="rsa-1", **overrides) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "u-1",
            "iat": now,
            "exp": now + 300,
            "nonce": "the-nonce",
            **overrides,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        signing_key = key or (self.ec if alg == "ES256" else self.rsa)
        return jwt.encode(payload, signing_key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def stub(serve, db):
    provider = StubProvider(serve)
    with configured(provider.issuer):
        yield provider


class TestIdToken:
    def test_rs256_and_es256_tokens_of_the_provider_pass(self, stub):
        for token in (stub.token(), stub.token(alg="ES256", kid="ec-1")):
            assert institution.id_token_claims(token, nonce="the-nonce")["sub"] == "u-1"

    @pytest.mark.parametrize(
        "overrides",
        [
            {"aud": "another-app"},
            {"aud": [CLIENT_ID, "another-app"]},  # several audiences and no azp
            {"iss": "https://elsewhere.example"},
            {"exp": int(time.time()) - 3600},
            {"nonce": "another-nonce"},
            {"nonce": None},
            {"iat": None},
        ],
    )
    def test_a_token_not_for_this_log_in_is_refused(self, stub, overrides):
        with pytest.raises(institution.InstitutionLoginRefused):
            institution.id_token_claims(stub.token(**overrides), nonce="the-nonce")

    def test_hs256_with_our_own_client_secret_is_refused(self, stub):
        forged = jwt.encode(
            {"iss": stub.issuer, "aud": CLIENT_ID, "sub": "u-1", "nonce": "the-nonce"},
            "secret-secret-secret-secret-secret",
            algorithm="HS256",
        )
        with pytest.raises(institution.InstitutionLoginRefused):
            institution.id_token_claims(forged, nonce="the-nonce")

    def test_a_key_the_provider_does_not_publish_is_refused(self, stub):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(institution.InstitutionLoginRefused):
            institution.id_token_claims(stub.token(key=other), nonce="the-nonce")

    def test_a_rotated_key_is_fetched_once_more(self, stub):
        institution.id_token_claims(stub.token(), nonce="the-nonce")  # keeps the JWKS
        new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        stub.publish(stub.rsa_jwk("rsa-2", new))
        token = stub.token(key=new, kid="rsa-2")
        assert institution.id_token_claims(token, nonce="the-nonce")["sub"] == "u-1"

    def test_a_discovery_document_of_another_issuer_is_unusable(self, stub):
        stub.routes["/.well-known/openid-configuration"] = stub.json(
            {"issuer": "https://evil.example", "jwks_uri": "https://evil.example/jwks"}
        )
        with pytest.raises(institution.InstitutionUnreachable):
            institution.provider()

    @pytest.mark.parametrize(
        ("endpoint", "usable"),
        [
            ("https://login.example.edu/token", True),  # another host, but https
            ("{issuer}/token", True),  # the http issuer's own origin (loopback)
            ("http://login.example.edu/token", False),  # plain http elsewhere
            ("http://127.0.0.1:9/token", False),  # the issuer's host, another port
            ("https:///token", False),
            ("javascript:alert(1)", False),
            (["{issuer}/token"], False),
        ],
    )
    def test_endpoints_are_https_or_on_the_issuers_own_origin(self, stub, endpoint, usable):
        """The token and UserInfo requests (mozilla-django-oidc's `requests`, not
        core.fetch) carry the client secret and the person's tokens: never plain http to
        anywhere the discovery document names."""
        document = json.loads(stub.routes["/.well-known/openid-configuration"][2])
        endpoint = json.loads(json.dumps(endpoint).replace("{issuer}", stub.issuer))
        stub.routes["/.well-known/openid-configuration"] = stub.json(
            {**document, "token_endpoint": endpoint}
        )
        if usable:
            assert institution.provider().token_endpoint == endpoint
        else:
            with pytest.raises(institution.InstitutionUnreachable):
                institution.provider()

    def test_garbage_instead_of_a_discovery_document_is_unusable(self, stub):
        stub.routes["/.well-known/openid-configuration"] = (200, {}, b"<html>", 0)
        with pytest.raises(institution.InstitutionUnreachable):
            institution.provider()


# --- linking from the account settings: the password first -----------------------------------

# These tests' URLs: the site's, with /oidc/ as a server with a provider mounts it.
urlpatterns = [path("oidc/", include("laurels.accounts.institution_views")), *site_urls]


@pytest.fixture
def linking(stub):
    """The stub provider configured, /oidc/ served, and mozilla-django-oidc's settings as
    laurels.settings makes them for a configured provider."""
    with override_settings(
        ROOT_URLCONF=__name__,
        OIDC_AUTHENTICATION_CALLBACK_URL="institution:callback",
        OIDC_USE_PKCE=True,
        OIDC_RP_SCOPES="openid email",
    ):
        yield stub


def logged_in(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


class TestLinkPage:
    def test_signed_out_it_sends_to_log_in(self, linking):
        answer = Client().get("/oidc/link/")
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/login/")

    def test_it_asks_for_the_password_and_says_what_a_link_does(self, linking):
        page = logged_in(UserFactory()).get("/oidc/link/")
        assert page.status_code == 200
        text = page.content.decode()
        assert '<label for="id_current_password">Current password' in text
        assert 'autocomplete="current-password"' in text
        assert "We email you when it is linked" in text
        # Its answer redirects to the provider, which the form-action policy must allow.
        assert f"form-action 'self' {linking.issuer}" in page["Content-Security-Policy"]

    def test_a_wrong_password_starts_nothing_and_counts_as_a_failed_log_in(self, linking, settings):
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 3
        ada = UserFactory()
        client = logged_in(ada)
        for _ in range(3):
            answer = client.post("/oidc/link/", {"current_password": "not it"})
            assert answer.status_code == 400
            assert "This is not your current password." in answer.content.decode()
            assert 'aria-invalid="true"' in answer.content.decode()
        assert LINKING_SESSION_KEY not in client.session
        assert "oidc_states" not in client.session
        limited = client.post("/oidc/link/", {"current_password": DEFAULT_PASSWORD})
        assert limited.status_code == 429
        assert limited["Retry-After"]

    def test_the_password_sends_to_the_provider_to_link_this_account(self, linking):
        ada = UserFactory()
        client = logged_in(ada)
        answer = client.post("/oidc/link/", {"current_password": DEFAULT_PASSWORD})
        assert answer.status_code == 302
        assert answer["Location"].startswith(f"{linking.issuer}/authorize?")
        state = parse_qs(urlsplit(answer["Location"]).query)["state"][0]
        assert client.session[LINKING_SESSION_KEY] == {state: ada.pk}

    def test_an_account_without_a_password_cannot_link(self, linking):
        ada = UserFactory()
        ada.set_unusable_password()
        ada.save()
        client = logged_in(ada)
        assert "has no password yet" in client.get("/oidc/link/").content.decode()
        answer = client.post("/oidc/link/", {"current_password": ""})
        assert answer.status_code == 400
        assert LINKING_SESSION_KEY not in client.session
        with pytest.raises(ValidationError):
            services.institution_link_authorize(user=ada, current_password="", client_ip=None)

    def test_another_site_cannot_post_it(self, linking):
        client = logged_in(UserFactory(), csrf=True)
        answer = client.post("/oidc/link/", {"current_password": DEFAULT_PASSWORD})
        assert answer.status_code == 403
        assert LINKING_SESSION_KEY not in client.session

    def test_the_log_in_start_no_longer_links(self, linking):
        client = logged_in(UserFactory())
        answer = client.get("/oidc/authenticate/?link=anything")
        assert answer.status_code == 403
        assert "from your account settings" in answer.content.decode()
        assert LINKING_SESSION_KEY not in client.session

    def test_a_provider_that_is_down_gets_the_refusal_page(self, linking):
        linking.routes["/.well-known/openid-configuration"] = (503, {}, b"", 0)
        answer = logged_in(UserFactory()).get("/oidc/link/")
        assert answer.status_code == 502
        assert "could not be reached just now" in answer.content.decode()

    def test_hostile_input_is_a_4xx(self, linking):
        client = logged_in(UserFactory())
        for data in ({}, {"current_password": "x" * 5000}, {"current_password": "\x00"}):
            assert client.post("/oidc/link/", data).status_code == 400
        assert client.put("/oidc/link/").status_code == 405


# --- on real servers ---------------------------------------------------------------------------


def upstream_app(upstream, redirect_uri: str) -> dict:
    """A confidential app registered at the upstream Laurels, as its operator would."""
    made = laurels_cli(
        upstream,
        "apps",
        "create",
        "--name",
        "Laurels here",
        "--redirect-uri",
        redirect_uri,
        "--scopes",
        "openid email r:profile",
        "--testing",
        "--json",
    )
    return json.loads(made)


def here_env(upstream_url: str, app: dict) -> dict[str, str]:
    return {
        "LAURELS_OIDC_ISSUER": upstream_url,
        "LAURELS_OIDC_CLIENT_ID": app["client_id"],
        "LAURELS_OIDC_CLIENT_SECRET": app["client_secret"],
        "LAURELS_OIDC_NAME": "Example University",
        "LAURELS_OIDC_SCOPES": "openid email r:profile",
        # The upstream is on loopback, which only tests (or an intranet's operator) open.
        "LAURELS_ALLOW_PRIVATE_FETCH": "127.0.0.1/32",
    }


@pytest.mark.server
def test_the_flow_starts_at_the_upstream_and_hostile_callbacks_get_pages(tmp_path):
    with laurels_server(tmp_path / "upstream") as upstream:
        app = upstream_app(upstream, "http://localhost:9/oidc/callback/")
        with laurels_server(tmp_path / "here", **here_env(upstream.base_url, app)) as here:
            client = httpx.Client(base_url=here.base_url, timeout=30)
            login = client.get("/accounts/login/?next=/backpack/")
            assert "Log in with Example University" in login.text
            assert 'href="/oidc/authenticate/?next=/backpack/"' in login.text

            start = client.get("/oidc/authenticate/?next=/backpack/")
            assert start.status_code == 302
            target = urlsplit(start.headers["location"])
            query = parse_qs(target.query)
            assert f"{target.scheme}://{target.netloc}{target.path}" == (
                f"{upstream.base_url}/o/authorize"
            )
            assert query["client_id"] == [app["client_id"]]
            assert query["code_challenge_method"] == ["S256"]
            assert query["scope"] == ["openid email r:profile"]
            assert query["nonce"] and query["state"]

            state = query["state"][0]
            cancelled = client.get(f"/oidc/callback/?error=access_denied&state={state}")
            assert cancelled.status_code == 400
            assert "cancelled or refused" in cancelled.text
            assert 'href="/accounts/login/"' in cancelled.text
            # The state was spent by the refusal: a code for it now is stale.
            stale = client.get(f"/oidc/callback/?code=abc&state={state}")
            assert stale.status_code == 400
            assert "Start again from the log-in page" in stale.text

            client.get("/oidc/authenticate/")
            for query_string in ["", "?code=abc", "?state=nope&code=abc", "?state=%00&code=%ff"]:
                answer = client.get(f"/oidc/callback/{query_string}")
                assert answer.status_code == 400, query_string

            # A code the upstream never gave, for a state this session holds: the upstream
            # refuses it at the token endpoint, and the page says so.
            fresh = parse_qs(urlsplit(client.get("/oidc/authenticate/").headers["location"]).query)
            bogus = client.get(f"/oidc/callback/?code=forged&state={fresh['state'][0]}")
            assert bogus.status_code == 400
            assert "did not confirm who you are" in bogus.text

            # Linking needs the account page's token (and a signed-in account).
            assert client.get("/oidc/authenticate/?link=guess").status_code == 403
            assert client.post("/oidc/unlink/").status_code in (302, 403)
            assert "Traceback" not in here.log()


@pytest.mark.server
def test_an_upstream_that_is_down_gets_a_friendly_page(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    app = {"client_id": "anything", "client_secret": "anything"}
    with laurels_server(tmp_path / "here", **here_env(down, app)) as here:
        answer = httpx.get(f"{here.base_url}/oidc/authenticate/", timeout=30)
        assert answer.status_code == 502
        assert "could not be reached just now" in answer.text
        assert 'href="/accounts/login/"' in answer.text
        assert re.search(r"<h1>Not logged in with Example University</h1>", answer.text)
        # The log-in page itself does not depend on the upstream.
        assert httpx.get(f"{here.base_url}/accounts/login/", timeout=30).status_code == 200
