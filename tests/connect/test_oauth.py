"""The OAuth2 provider through Django's test client: the dance, and every way to abuse it."""

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from laurels.connect import services
from laurels.connect.models import AppConsent, AuditEvent
from laurels.connect.oauth import checksum
from laurels.connect.views import TokenView
from tests.connect.oauth_helpers import (
    REDIRECT_URI,
    authorize_url,
    bearer,
    consent_form_data,
    exchange,
    obtain_code,
    pkce_pair,
    redirect_params,
    register_app,
    token_request,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def app():
    return register_app()


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def dance(browser, app, *, scope="r:profile", verifier=None, challenge=None) -> dict:
    code = obtain_code(browser, app, scope=scope, challenge=challenge)
    response = exchange(Client(), app, code, verifier=verifier)
    assert response.status_code == 200, response.content
    return response.json()


class TestAuthorizationCode:
    def test_token_document_has_exactly_badgrs_shape(self, browser, app):
        document = dance(browser, app, scope="r:profile rw:profile")
        assert set(document) == {
            "token_type",
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
        }
        assert document["token_type"] == "Bearer"
        assert document["expires_in"] == 86400
        assert set(document["scope"].split()) == {"r:profile", "rw:profile"}

    def test_consent_page_shows_the_app_and_each_scope_in_words(self, browser, app):
        page = browser.get(authorize_url(app, scope="r:profile r:backpack"))
        html = page.content.decode()
        assert "Example App wants to connect" in html
        assert "https://app.example.org" in html
        assert "See your name and your email addresses" in html
        assert "See the badges in your backpack" in html

    def test_not_logged_in_goes_to_login_then_back(self, app):
        client = Client()
        url = authorize_url(app)
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
        UserFactory(email="carol@example.org")
        logged_in = client.post(
            response["Location"], {"username": "carol@example.org", "password": DEFAULT_PASSWORD}
        )
        assert logged_in["Location"] == url

    def test_state_comes_back_untouched(self, browser, app):
        state = '{"return":"/x?y=1&z=2"}'
        code_page = browser.get(authorize_url(app, state=state))
        params = redirect_params(browser.post("/o/authorize", consent_form_data(code_page)))
        assert params["state"] == state
        assert params["iss"] == "http://127.0.0.1:8000"  # RFC 9207

    def test_deny_redirects_with_access_denied(self, browser, app):
        page = browser.get(authorize_url(app))
        params = redirect_params(browser.post("/o/authorize", consent_form_data(page, allow=False)))
        assert params["error"] == "access_denied"
        assert params["state"] == "state-123"
        assert AuditEvent.objects.filter(kind="consent_denied").exists()
        assert not AppConsent.objects.exists()

    def test_approval_is_remembered_for_the_same_or_fewer_scopes(self, browser, app, user):
        dance(browser, app, scope="r:profile r:backpack")
        again = browser.get(authorize_url(app, scope="r:backpack"))
        assert "code" in redirect_params(again)
        more = browser.get(authorize_url(app, scope="r:backpack rw:profile"))
        assert more.status_code == 200  # a new scope: ask again
        consent = AppConsent.objects.get(user=user, application=app.application)
        assert consent.scope_set() == {"r:profile", "r:backpack"}

    def test_r_profile_is_available_to_every_app(self, browser):
        narrow = register_app(scopes="r:backpack")
        assert "r:profile" in dance(browser, narrow, scope="r:profile")["scope"]

    def test_no_scope_means_r_profile(self, browser, app):
        page = browser.get(authorize_url(app, scope=""))
        assert page.status_code == 200
        assert page.context["scopes"] == ["r:profile"]

    def test_grant_and_consent_are_audited(self, browser, app, user):
        dance(browser, app)
        kinds = set(AuditEvent.objects.filter(user=user).values_list("kind", flat=True))
        assert {"consent_granted", "token_issued"} <= kinds


class TestAuthorizeRefusals:
    @pytest.mark.parametrize(
        "redirect_uri",
        [
            "https://evil.example.org/callback",
            "https://app.example.org/callback/extra",  # suffix
            "https://app.example.org/call",  # prefix
            "https://APP.example.org/callback",  # case
            "https://app.example.org/Callback",
            "https://app.example.org/callback?next=https://evil.example.org",  # extra query
            "http://app.example.org/callback",  # scheme
            "https://app.example.org:444/callback",  # port
        ],
    )
    def test_unregistered_redirect_uri_is_an_error_page_that_never_redirects(
        self, browser, app, redirect_uri
    ):
        response = browser.get(authorize_url(app, redirect_uri=redirect_uri))
        assert response.status_code in (200, 400)
        assert "Location" not in response
        assert "This app cannot connect" in response.content.decode()

    def test_unknown_client_is_an_error_page(self, browser, app):
        app.application.client_id = "nope"
        response = browser.get(authorize_url(app))
        assert "Location" not in response
        assert "This app cannot connect" in response.content.decode()

    def test_scope_not_registered_is_invalid_scope(self, browser, app):
        params = redirect_params(browser.get(authorize_url(app, scope="r:profile rw:issuer")))
        assert params["error"] == "invalid_scope"

    @pytest.mark.parametrize("scope", ["rw:nonsense", "introspection", "rw:badgeclass:abc"])
    def test_unknown_app_level_or_unbound_scopes_are_refused(self, browser, scope):
        app = register_app(scopes="r:profile introspection rw:badgeclass:*")
        params = redirect_params(browser.get(authorize_url(app, scope=scope)))
        assert params["error"] == "invalid_scope"

    def test_disabled_app_cannot_start_a_flow(self, browser, app):
        services.application_set_enabled(application=app.application, enabled=False)
        response = browser.get(authorize_url(app))
        assert "Location" not in response
        assert "This app cannot connect" in response.content.decode()

    def test_consent_form_without_csrf_token_is_refused(self, user, app):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        page = client.get(authorize_url(app))
        answer = client.post("/o/authorize", consent_form_data(page))
        assert answer.status_code == 403
        assert not AppConsent.objects.exists()

    def test_implicit_grant_is_refused(self, browser, app):
        response = browser.get(authorize_url(app, response_type="token"))
        assert "access_token" not in response.get("Location", "")


class TestCodeExchange:
    @pytest.mark.parametrize("device_code", [None, "a-guess"])
    def test_the_device_grant_is_not_offered(self, app, device_code):
        """The toolkit's device grant read `device_code` unchecked: a 500 without one."""
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
        if device_code:
            form["device_code"] = device_code
        response = token_request(Client(), app, **form)
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"

    def test_code_is_single_use_and_replay_revokes_its_tokens(self, browser, app):
        code = obtain_code(browser, app)
        first = exchange(Client(), app, code)
        assert first.status_code == 200
        token = first.json()["access_token"]
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 200

        replay = exchange(Client(), app, code)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401
        refreshed = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
        )
        assert refreshed.status_code == 400
        assert AuditEvent.objects.filter(kind="code_replayed").exists()

    def test_code_from_another_client_is_refused(self, browser, app):
        other = register_app(name="Other")
        code = obtain_code(browser, app)
        stolen = exchange(Client(), other, code)
        assert stolen.status_code == 400
        assert stolen.json()["error"] == "invalid_grant"
        assert exchange(Client(), app, code).status_code == 200  # the owner still can

    def test_expired_code_is_refused(self, browser, app, settings):
        from oauth2_provider.models import get_grant_model

        code = obtain_code(browser, app)
        digest = hashlib.sha256(code.encode()).hexdigest()  # codes are stored as digests
        get_grant_model().objects.filter(code=digest).update(
            expires=timezone.now() - timedelta(seconds=1)
        )
        assert exchange(Client(), app, code).json()["error"] == "invalid_grant"

    def test_redirect_uri_must_match_the_authorization_request(self, browser, app):
        code = obtain_code(browser, app)
        response = exchange(Client(), app, code, redirect_uri="https://app.example.org/other")
        assert response.status_code in (400, 401)

    def test_wrong_client_secret(self, browser, app):
        code = obtain_code(browser, app)
        app.secret = "wrong"
        response = exchange(Client(), app, code)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert AuditEvent.objects.filter(kind="token_failed").exists()

    def test_http_basic_client_authentication(self, browser, app):
        import base64
        from urllib.parse import quote, urlencode

        code = obtain_code(browser, app)
        credentials = base64.b64encode(
            f"{quote(app.client_id)}:{quote(app.secret)}".encode()
        ).decode()
        response = Client().post(
            "/o/token",
            urlencode(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
            ),
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": f"Basic {credentials}"},
        )
        assert response.status_code == 200

    def test_token_parameters_in_the_query_string_are_refused(self, browser, app):
        code = obtain_code(browser, app)
        response = Client().post(
            f"/o/token?grant_type=authorization_code&code={code}&client_id={app.client_id}"
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


class TestPkce:
    def test_public_client_must_use_pkce(self, browser):
        public = register_app(public=True)
        response = browser.get(authorize_url(public))
        params = redirect_params(response)
        assert params["error"] == "invalid_request"

    def test_public_client_with_s256(self, browser):
        public = register_app(public=True)
        verifier, challenge = pkce_pair()
        document = dance(browser, public, verifier=verifier, challenge=challenge)
        assert document["token_type"] == "Bearer"

    def test_plain_method_is_refused(self, browser):
        public = register_app(public=True)
        page = browser.get(
            authorize_url(public, code_challenge="x" * 43, code_challenge_method="plain")
        )
        # The toolkit refuses "plain" when the code would be made: no code is issued.
        answer = browser.post("/o/authorize", consent_form_data(page))
        params = redirect_params(answer)
        assert params["error"] == "invalid_request"
        assert "code" not in params

    def test_verifier_mismatch(self, browser):
        public = register_app(public=True)
        _, challenge = pkce_pair()
        code = obtain_code(browser, public, challenge=challenge)
        response = exchange(Client(), public, code, verifier="a-different-verifier-" + "x" * 30)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    def test_confidential_client_may_use_pkce_too(self, browser, app):
        verifier, challenge = pkce_pair()
        assert dance(browser, app, verifier=verifier, challenge=challenge)["access_token"]


class TestRefresh:
    def test_rotation(self, browser, app):
        first = dance(browser, app)
        response = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert response.status_code == 200
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert set(second) == {"token_type", "access_token", "expires_in", "refresh_token", "scope"}
        assert (
            Client().get("/v2/users/self", headers=bearer(second["access_token"])).status_code
            == 200
        )
        assert (
            Client().get("/v2/users/self", headers=bearer(first["access_token"])).status_code == 401
        )
        assert AuditEvent.objects.filter(kind="token_refreshed").exists()

    def test_reuse_of_a_spent_refresh_token_revokes_the_whole_grant(self, browser, app):
        first = dance(browser, app)
        second = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        ).json()
        # Replayed after the grace that spares concurrent duplicates of one refresh.
        RefreshToken.objects.filter(revoked__isnull=False).update(
            revoked=timezone.now() - timedelta(seconds=60)
        )
        reuse = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert reuse.status_code == 400
        assert (
            Client().get("/v2/users/self", headers=bearer(second["access_token"])).status_code
            == 401
        )
        again = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=second["refresh_token"]
        )
        assert again.status_code == 400

    def test_a_refresh_whose_new_tokens_a_concurrent_reuse_ended_still_answers(
        self, browser, app, monkeypatch
    ):
        """The thief's duplicate, from another client, can revoke the family between the
        commit of the winner's new tokens and its answer; the toolkit then looked the new
        access token up with `get()` and answered 500. The winner gets its tokens, dead."""
        first = dance(browser, app)
        spent = RefreshToken.objects.get(token_checksum=checksum(first["refresh_token"]))
        issue = TokenView.create_token_response

        def issue_then_reuse(view, request):
            answer = issue(view, request)
            services.refresh_token_reuse_record(  # what the thief's request does meanwhile
                spent=spent, revoke_family=True, ip_address="192.0.2.9", seconds_since_spent=0
            )
            return answer

        monkeypatch.setattr(TokenView, "create_token_response", issue_then_reuse)
        response = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert response.status_code == 200, response.content
        new = response.json()
        assert Client().get("/v2/users/self", headers=bearer(new["access_token"])).status_code == (
            401
        )

    def test_a_duplicate_in_the_grace_spares_the_grant_only_from_the_same_client(
        self, browser, app
    ):
        """An IPv6 host may answer from another address of its /64: the same client. A
        duplicate from another network is a second holder: the grant ends."""
        first = dance(browser, app)
        home = Client(REMOTE_ADDR="2001:db8:1:2::10")
        second = token_request(
            home, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        ).json()
        same_host = Client(REMOTE_ADDR="2001:db8:1:2:a::99")
        duplicate = token_request(
            same_host, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert duplicate.status_code == 400
        assert (
            Client().get("/v2/users/self", headers=bearer(second["access_token"])).status_code
            == 200
        )
        elsewhere = Client(REMOTE_ADDR="2001:db8:9::1")
        stolen = token_request(
            elsewhere, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert stolen.status_code == 400
        assert (
            Client().get("/v2/users/self", headers=bearer(second["access_token"])).status_code
            == 401
        )
        reused = AuditEvent.objects.filter(kind="refresh_token_reused").order_by("created_at")
        assert [(row.ip_address, row.detail["family_revoked"]) for row in reused] == [
            ("2001:db8:1:2:a::99", False),
            ("2001:db8:9::1", True),
        ]

    def test_a_refresh_for_an_account_without_a_verified_address_is_refused(
        self, browser, app, user
    ):
        """Tokens issued before verification was required everywhere, or to an account
        whose address was since unverified, are not renewed."""
        first = dance(browser, app)
        user.email_addresses.update(verified=False)
        response = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    def test_scope_escalation_on_refresh_is_refused(self, browser, app):
        first = dance(browser, app, scope="r:profile")
        response = token_request(
            Client(),
            app,
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
            scope="r:profile rw:profile",
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"

    def test_narrowing_on_refresh_is_allowed(self, browser, app):
        first = dance(browser, app, scope="r:profile r:backpack")
        response = token_request(
            Client(),
            app,
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
            scope="r:profile",
        )
        assert response.json()["scope"] == "r:profile"

    def test_refresh_by_another_client_is_refused(self, browser, app):
        first = dance(browser, app)
        other = register_app(name="Other")
        response = token_request(
            Client(), other, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert response.status_code == 400


class TestPasswordGrant:
    def test_badgr_style_username_and_password_only(self, user):
        services.builtin_apps_ensure()
        response = Client().post("/o/token", {"username": user.email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 200, response.content
        document = response.json()
        assert set(document["scope"].split()) == {"rw:profile", "rw:issuer", "rw:backpack"}
        me = Client().get("/v2/users/self", headers=bearer(document["access_token"]))
        assert me.json()["result"][0]["entityId"] == user.entity_id

    def test_badgr_password_login_can_be_switched_off(self, user, settings):
        services.builtin_apps_ensure()
        settings.LAURELS_BADGR_PASSWORD_LOGIN = False
        response = Client().post("/o/token", {"username": user.email, "password": DEFAULT_PASSWORD})
        assert response.status_code in (400, 401)

    def test_wrong_password(self, user):
        services.builtin_apps_ensure()
        response = Client().post("/o/token", {"username": user.email, "password": "nope"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    def test_third_party_apps_may_not_use_the_password_grant(self, user, app):
        response = token_request(
            Client(), app, grant_type="password", username=user.email, password=DEFAULT_PASSWORD
        )
        assert response.status_code in (400, 401)
        assert response.json()["error"] == "unauthorized_client"

    def test_first_party_app_may(self, user):
        first_party = register_app(first_party=True)
        response = token_request(
            Client(),
            first_party,
            grant_type="password",
            username=user.email,
            password=DEFAULT_PASSWORD,
            scope="r:profile",
        )
        assert response.status_code == 200


class TestClientCredentials:
    def test_app_level_token_for_introspection(self, browser):
        resource_server = register_app(scopes="r:profile introspection", name="Resource server")
        app_token = token_request(
            Client(), resource_server, grant_type="client_credentials", scope="introspection"
        )
        assert app_token.status_code == 200, app_token.content
        assert "refresh_token" not in app_token.json()

        user_token = dance(browser, register_app(name="Displayer"))["access_token"]
        answer = Client().post(
            "/o/introspect", {"token": user_token}, headers=bearer(app_token.json()["access_token"])
        )
        assert answer.status_code == 200
        assert answer.json()["active"] is True
        assert answer.json()["scope"] == "r:profile"

    def test_user_scopes_are_refused_without_a_user(self):
        app = register_app(scopes="r:profile r:backpack introspection")
        response = token_request(Client(), app, grant_type="client_credentials", scope="r:backpack")
        assert response.json()["error"] == "invalid_scope"

    def test_an_app_token_cannot_call_user_endpoints(self):
        app = register_app(scopes="introspection")
        token = token_request(
            Client(), app, grant_type="client_credentials", scope="introspection"
        ).json()["access_token"]
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401

    def test_public_clients_have_no_client_credentials(self):
        public = register_app(public=True, scopes="introspection")
        response = token_request(Client(), public, grant_type="client_credentials")
        assert response.status_code in (400, 401)


class TestRevocationAndIntrospection:
    def test_revoke_access_token(self, browser, app):
        document = dance(browser, app)
        response = Client().post(
            "/o/revoke_token",
            {
                "token": document["access_token"],
                "client_id": app.client_id,
                "client_secret": app.secret,
            },
        )
        assert response.status_code == 200
        assert (
            Client().get("/v2/users/self", headers=bearer(document["access_token"])).status_code
            == 401
        )
        assert AuditEvent.objects.filter(kind="token_revoked").exists()

    def test_revoke_refresh_token(self, browser, app):
        document = dance(browser, app)
        Client().post(
            "/o/revoke_token",
            {
                "token": document["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": app.client_id,
                "client_secret": app.secret,
            },
        )
        response = token_request(
            Client(), app, grant_type="refresh_token", refresh_token=document["refresh_token"]
        )
        assert response.status_code == 400

    def test_introspection_needs_credentials(self, browser, app):
        document = dance(browser, app)
        assert Client().post("/o/introspect", {"token": document["access_token"]}).status_code in (
            401,
            403,
        )


class TestBearerOnV2:
    def test_scope_needed_per_endpoint(self, browser, app):
        read_only = dance(browser, app, scope="r:profile")["access_token"]
        assert Client().get("/v2/user/profile", headers=bearer(read_only)).status_code == 200
        response = Client().put(
            "/v2/users/self",
            {"firstName": "X"},
            content_type="application/json",
            headers=bearer(read_only),
        )
        assert response.status_code == 403
        assert response.json()["status"]["success"] is False
        assert response["WWW-Authenticate"] == (
            'Bearer realm="laurels", error="insufficient_scope", scope="rw:profile"'
        )

    def test_write_scope_writes_without_csrf(self, browser, app, user):
        token = dance(browser, app, scope="rw:profile")["access_token"]
        response = Client(enforce_csrf_checks=True).put(
            "/v2/users/self",
            {"firstName": "Token"},
            content_type="application/json",
            headers=bearer(token),
        )
        assert response.status_code == 200
        user.refresh_from_db()
        assert user.first_name == "Token"

    def test_bad_token(self):
        response = Client().get("/v2/users/self", headers=bearer("not-a-token"))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]

    def test_expired_token(self, browser, app):
        token = dance(browser, app)["access_token"]
        AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
        response = Client().get("/v2/users/self", headers=bearer(token))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]

    def test_disabled_app_tokens_stop_working(self, browser, app):
        token = dance(browser, app)["access_token"]
        services.application_set_enabled(application=app.application, enabled=False)
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401

    def test_a_bad_token_is_not_rescued_by_a_session(self, browser):
        response = browser.get("/v2/users/self", headers=bearer("not-a-token"))
        assert response.status_code == 401

    def test_token_in_the_query_string_is_not_accepted(self, browser, app):
        token = dance(browser, app)["access_token"]
        assert Client().get(f"/v2/users/self?access_token={token}").status_code == 401

    def test_last_used_is_recorded(self, browser, app, user):
        token = dance(browser, app)["access_token"]
        Client().get("/v2/users/self", headers=bearer(token))
        assert AppConsent.objects.get(user=user).last_used_at is not None


class TestConnectedApps:
    def test_list_and_revoke_through_the_api(self, browser, app, user):
        token = dance(browser, app, scope="r:profile r:backpack")["access_token"]
        listed = browser.get("/v2/auth/tokens").json()["result"]
        assert len(listed) == 1
        assert listed[0]["application"]["name"] == "Example App"
        assert set(listed[0]["scope"].split()) == {"r:profile", "r:backpack"}
        assert len(listed[0]["entityId"]) == 22

        assert browser.get(f"/v2/auth/tokens/{listed[0]['entityId']}").json()["result"] == listed
        gone = browser.delete(f"/v2/auth/tokens/{listed[0]['entityId']}")
        assert gone.status_code == 204 and gone.content == b""
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401
        assert browser.get("/v2/auth/tokens").json()["result"] == []
        assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
        # The next request asks for consent again.
        assert browser.get(authorize_url(app)).status_code == 200

    def test_someone_elses_app_cannot_be_revoked(self, browser, app):
        other_user = Client()
        other_user.force_login(UserFactory())
        dance(other_user, app)
        entity_id = AppConsent.objects.get().entity_id
        assert browser.delete(f"/v2/auth/tokens/{entity_id}").status_code == 404
        assert AppConsent.objects.count() == 1

    def test_apps_cannot_see_or_revoke_connections(self, browser, app):
        token = dance(browser, app, scope="rw:profile")["access_token"]
        assert Client().get("/v2/auth/tokens", headers=bearer(token)).status_code == 403

    def test_the_page_lists_and_disconnects(self, browser, app):
        token = dance(browser, app)["access_token"]
        page = browser.get("/account/apps/")
        assert "Example App" in page.content.decode()
        entity_id = AppConsent.objects.get().entity_id
        assert browser.post("/account/apps/", {"revoke": entity_id}).status_code == 302
        assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401
        assert "You have not connected any apps" in browser.get("/account/apps/").content.decode()

    def test_query_count_of_the_list_is_constant(self, browser, user, django_assert_num_queries):
        for n in range(3):
            dance(browser, register_app(name=f"App {n}"))
        # session, user, consents joined with their apps
        with django_assert_num_queries(3):
            browser.get("/v2/auth/tokens")


def test_an_id_token_is_no_key_to_the_api(user):
    """OpenID Connect hands the app an ID token to learn who signed in; it is not an
    access token. The toolkit's resource check would take one that looks like a JWT on
    its signature alone: past a disabled app, a revoked grant, a resource restriction."""
    app = register_app(scopes="r:profile r:backpack")
    browser = Client()
    browser.force_login(user)
    code = obtain_code(browser, app, scope="openid r:profile r:backpack")
    answer = exchange(Client(), app, code).json()
    access, id_token = answer["access_token"], answer["id_token"]
    assert Client().get("/v2/users/self", headers=bearer(access)).status_code == 200
    for path in ("/v2/users/self", "/v2/backpack/assertions"):
        assert Client().get(path, headers=bearer(id_token)).status_code == 401
    services.application_set_enabled(application=app.application, enabled=False)
    assert Client().get("/v2/users/self", headers=bearer(id_token)).status_code == 401
