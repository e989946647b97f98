"""The tool's authentication request (/lti/authorize): every refusal, and the signed
id_token a good one gets, verified against /lti/jwks."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from jwcrypto import jwk, jwt

from laurels.connect import services as connect_services
from laurels.issuing.models import IssuerStaff
from laurels.lti import services
from laurels.lti.models import LtiLaunch
from tests.factories import AssertionFactory, UserFactory
from tests.lti.helpers import (
    LAUNCH_URL,
    assert_nothing_sent,
    auth_request,
    authorize,
    connect,
    form_of,
    press,
    register_tool,
)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"


def login_form(client, tool, location="badgeclass", entity_id=""):
    response = press(client, tool, location, entity_id)
    assert response.status_code == 200, response.content[:400]
    return form_of(response)[1]


def verified_claims(client, response) -> dict:
    """The id_token of an authorize answer, verified with jwcrypto against /lti/jwks."""
    action, fields = form_of(response)
    assert action == LAUNCH_URL
    keys = jwk.JWKSet.from_json(json.dumps(client.get("/lti/jwks").json()))
    token = jwt.JWT(jwt=fields["id_token"], key=keys, algs=["RS256"])
    header = json.loads(token.token.objects["protected"])
    assert header["alg"] == "RS256" and header["kid"]
    return {**json.loads(token.claims), "_state": fields.get("state")}


@pytest.fixture
def started(client_logged_in, connected_tool, badge_class):
    return login_form(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)


@pytest.mark.django_db
class TestRefusals:
    def test_not_logged_in(self, started):
        response = authorize(Client(), auth_request(started))
        assert response.status_code == 401
        assert b"Log in to Laurels, then press the button again" in response.content
        assert_nothing_sent(response)

    def test_wrong_client_id(self, client_logged_in, started):
        response = authorize(client_logged_in, auth_request(started, client_id="lti-other"))
        assert response.status_code == 404
        assert_nothing_sent(response)

    def test_unregistered_redirect_uri_is_never_redirected_to(self, client_logged_in, started):
        evil = "https://evil.example/steal"
        response = authorize(client_logged_in, auth_request(started, redirect_uri=evil))
        assert response.status_code == 400
        assert b"nothing was sent to it" in response.content
        assert b"evil.example" not in response.content
        assert "evil.example" not in response["Content-Security-Policy"]
        assert_nothing_sent(response)
        assert LtiLaunch.objects.get().used_at is None

    @pytest.mark.parametrize(
        "override",
        [
            {"scope": "profile"},
            {"response_type": "code"},
            {"response_mode": "query"},
            {"prompt": "login"},
            {"nonce": ""},
            {"lti_message_hint": ""},
            {"lti_message_hint": "x" * 5000},
        ],
    )
    def test_protocol_violations(self, client_logged_in, started, override):
        response = authorize(client_logged_in, auth_request(started, **override))
        assert response.status_code == 400
        assert_nothing_sent(response)

    def test_reused_nonce(self, client_logged_in, connected_tool, badge_class):
        first = login_form(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        assert authorize(client_logged_in, auth_request(first, nonce="n-1")).status_code == 200
        second = login_form(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        response = authorize(client_logged_in, auth_request(second, nonce="n-1"))
        assert response.status_code == 400
        assert b"nonce was used before" in response.content
        assert_nothing_sent(response)
        assert LtiLaunch.objects.get(entity_id=second["lti_message_hint"]).used_at is None

    def test_launch_used_twice(self, client_logged_in, started):
        assert authorize(client_logged_in, auth_request(started, nonce="a")).status_code == 200
        response = authorize(client_logged_in, auth_request(started, nonce="b"))
        assert response.status_code == 400
        assert b"used already" in response.content
        assert_nothing_sent(response)

    def test_expired_launch(self, client_logged_in, started):
        LtiLaunch.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = authorize(client_logged_in, auth_request(started))
        assert response.status_code == 400
        assert b"expired" in response.content
        assert_nothing_sent(response)

    def test_another_users_launch(self, started, connected_tool):
        mallory = UserFactory()
        connect(mallory, connected_tool)
        client = Client()
        client.force_login(mallory)
        # As started: the login_hint names the person who pressed the button.
        assert authorize(client, auth_request(started)).status_code == 403
        # With Mallory's own login_hint (her id for this tool), the launch is still not hers.
        mallory_hint = connected_tool.subject_of(mallory)
        response = authorize(client, auth_request(started, login_hint=mallory_hint))
        assert response.status_code == 403
        assert_nothing_sent(response)
        assert LtiLaunch.objects.get().used_at is None

    def test_app_revoked_after_the_button(self, user, client_logged_in, started, connected_tool):
        connect_services.app_access_revoke(user=user, application=connected_tool.application)
        response = authorize(client_logged_in, auth_request(started))
        assert response.status_code == 403
        assert b"took" in response.content
        assert_nothing_sent(response)

    def test_the_entity_id_is_no_login_hint(self, user, client_logged_in, started):
        response = authorize(client_logged_in, auth_request(started, login_hint=user.entity_id))
        assert response.status_code == 403
        assert_nothing_sent(response)
        assert LtiLaunch.objects.get().used_at is None

    def test_staff_place_lost_after_the_button(self, user, client_logged_in, started):
        IssuerStaff.objects.filter(user=user).delete()
        assert authorize(client_logged_in, auth_request(started)).status_code == 403

    def test_registration_disabled_after_the_button(
        self, client_logged_in, started, connected_tool
    ):
        connected_tool.enabled = False
        connected_tool.save()
        assert authorize(client_logged_in, auth_request(started)).status_code == 404


@pytest.mark.django_db
class TestIdToken:
    def test_claims_of_a_badge_class_launch(
        self, settings, user, client_logged_in, connected_tool, badge_class, started
    ):
        response = authorize(client_logged_in, auth_request(started, nonce="the-nonce"))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert "form-action 'self' https://tool.example.org" in response["Content-Security-Policy"]
        claims = verified_claims(client_logged_in, response)
        assert claims["_state"] == "state-1"
        assert claims["iss"] == settings.LAURELS_BASE_URL
        assert claims["aud"] == claims["azp"] == connected_tool.client_id
        assert claims["sub"] == connected_tool.subject_of(user) == started["login_hint"]
        assert user.entity_id not in json.dumps(claims)
        assert claims["nonce"] == "the-nonce"
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
        assert claims[CLAIM + "version"] == "1.3.0"
        assert claims[CLAIM + "deployment_id"] == connected_tool.deployment_id
        assert claims[CLAIM + "target_link_uri"] == LAUNCH_URL
        assert claims[CLAIM + "resource_link"] == {
            "id": f"badgeclass:{badge_class.entity_id}",
            "title": "Algebra",
        }
        assert claims[CLAIM + "roles"] == [f"{MEMBERSHIP}#Administrator"]
        assert claims[CLAIM + "context"] == {
            "id": badge_class.issuer.entity_id,
            "title": "Maths Dept",
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#Group"],
        }
        assert claims[CLAIM + "custom"] == {
            "course": "101",
            "laurels_location": "badgeclass",
            "laurels_issuer_id": badge_class.issuer.entity_id,
            "laurels_badgeclass_id": badge_class.entity_id,
        }
        assert claims[CLAIM + "tool_platform"]["product_family_code"] == "laurels"
        assert claims[CLAIM + "launch_presentation"] == {
            "document_target": "window",
            "return_url": settings.LAURELS_BASE_URL.rstrip("/") + "/issuers/",
        }
        assert (claims["name"], claims["email"]) == ("Ada Lovelace", "ada@example.org")
        assert LtiLaunch.objects.get().used_at is not None

    def test_answered_to_a_post_too(self, client_logged_in, started):
        response = authorize(client_logged_in, auth_request(started), method="post")
        assert response.status_code == 200
        assert verified_claims(client_logged_in, response)["sub"]

    @pytest.mark.parametrize(
        ("role", "lis_role"),
        [
            ("owner", f"{MEMBERSHIP}#Administrator"),
            ("editor", f"{MEMBERSHIP}#Instructor"),
            ("staff", f"{MEMBERSHIP}/Instructor#TeachingAssistant"),
        ],
    )
    def test_roles_per_issuer_role(
        self, user, client_logged_in, connected_tool, issuer, role, lis_role
    ):
        IssuerStaff.objects.filter(user=user, issuer=issuer).update(role=role)
        form = login_form(client_logged_in, connected_tool, "issuer", issuer.entity_id)
        claims = verified_claims(client_logged_in, authorize(client_logged_in, auth_request(form)))
        assert claims[CLAIM + "roles"] == [lis_role]
        assert claims[CLAIM + "resource_link"]["id"] == f"issuer:{issuer.entity_id}"
        assert claims[CLAIM + "custom"]["laurels_issuer_id"] == issuer.entity_id

    def test_learner_in_the_backpack(self, user, client_logged_in, connected_tool):
        award = AssertionFactory(recipient_plaintext="ada@example.org")
        form = login_form(client_logged_in, connected_tool, "backpack.assertion", award.entity_id)
        claims = verified_claims(client_logged_in, authorize(client_logged_in, auth_request(form)))
        assert claims[CLAIM + "roles"] == [f"{MEMBERSHIP}#Learner"]
        assert claims[CLAIM + "context"]["id"] == f"backpack:{connected_tool.subject_of(user)}"
        assert user.entity_id not in json.dumps(claims)
        assert claims[CLAIM + "custom"] == {
            "course": "101",
            "laurels_location": "backpack.assertion",
            "laurels_issuer_id": award.issuer.entity_id,
            "laurels_badgeclass_id": award.badge_class.entity_id,
            "laurels_assertion_id": award.entity_id,
        }

    def test_profile_has_no_context(self, user, client_logged_in, connected_tool):
        form = login_form(client_logged_in, connected_tool, "profile")
        claims = verified_claims(client_logged_in, authorize(client_logged_in, auth_request(form)))
        assert CLAIM + "context" not in claims
        assert claims[CLAIM + "resource_link"]["id"] == f"profile:{connected_tool.subject_of(user)}"
        assert user.entity_id not in json.dumps(claims)
        assert claims[CLAIM + "roles"] == [f"{MEMBERSHIP}#Learner"]

    def test_resource_link_is_stable(self, client_logged_in, connected_tool, badge_class):
        ids = set()
        for _ in range(2):
            form = login_form(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
            claims = verified_claims(
                client_logged_in, authorize(client_logged_in, auth_request(form))
            )
            ids.add(claims[CLAIM + "resource_link"]["id"])
        assert ids == {f"badgeclass:{badge_class.entity_id}"}

    @pytest.mark.parametrize(
        ("scopes", "released"),
        [
            (("openid",), set()),
            (("r:profile",), {"name", "given_name", "family_name"}),
            (("email",), {"email", "email_verified"}),
            (
                ("r:profile", "email"),
                {"name", "given_name", "family_name", "email", "email_verified"},
            ),
            # What a granted scope implies counts: rw:profile holds r:profile.
            (("rw:profile",), {"name", "given_name", "family_name"}),
        ],
    )
    def test_name_and_email_only_per_grant(self, user, client_logged_in, scopes, released):
        tool = register_tool(scopes="r:profile rw:profile email openid")
        connect(user, tool, scopes=scopes)
        form = login_form(client_logged_in, tool, "profile")
        claims = verified_claims(client_logged_in, authorize(client_logged_in, auth_request(form)))
        person = {"name", "given_name", "family_name", "email", "email_verified"}
        assert person & set(claims) == released

    def test_still_verifies_after_a_rotation(self, client_logged_in, started):
        response = authorize(client_logged_in, auth_request(started))
        services.platform_key_rotate()
        assert verified_claims(client_logged_in, response)["sub"]


@pytest.mark.django_db
class TestPairwiseSub:
    """`sub` (and `login_hint`) is the person's id for one tool: the same at every launch
    of that tool, another for every other tool, and never their entityId."""

    def launched_sub(self, client, tool, location="profile") -> str:
        form = login_form(client, tool, location)
        claims = verified_claims(client, authorize(client, auth_request(form)))
        assert claims["sub"] == form["login_hint"]
        return claims["sub"]

    def test_stable_per_tool_and_different_across_tools(self, user, client_logged_in):
        first = register_tool(name="First Tool")
        second = register_tool(name="Second Tool")
        connect(user, first)
        connect(user, second)
        subs = [
            self.launched_sub(client_logged_in, first, location)
            for location in ("profile", "backpack")
        ]
        other = self.launched_sub(client_logged_in, second)
        assert subs[0] == subs[1]
        assert other != subs[0]
        assert user.entity_id not in (subs[0], other)

    def test_another_person_has_another_sub(self, connected_tool):
        assert connected_tool.subject_of(UserFactory()) != connected_tool.subject_of(UserFactory())

    def test_kept_when_the_registration_changes(self, user, connected_tool):
        before = connected_tool.subject_of(user)
        changed = services.registration_save(
            application=connected_tool.application,
            actor=None,
            login_url=connected_tool.login_url,
            launch_url=connected_tool.launch_url,
            jwks_url=connected_tool.jwks_url,
            locations=["profile"],
            title="Renamed",
        )
        assert changed.subject_of(user) == before
