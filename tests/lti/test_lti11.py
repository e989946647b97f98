"""LTI 1.1 (an administrator's choice per tool): the signed form, checked here by an
independent OAuth 1.0a HMAC-SHA1 computation (RFC 5849 §3.4), not by oauthlib."""

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from laurels.core import secrets
from laurels.core.errors import DomainError
from laurels.lti import services
from laurels.lti.models import LtiLaunch
from tests.factories import AssertionFactory
from tests.lti.helpers import LAUNCH_URL, connect, form_of, press, register_tool


def percent(value: str) -> str:
    """RFC 5849 §3.6: every byte but the unreserved characters, upper-case hex."""
    return quote(value.encode(), safe="-._~")


def rfc5849_hmac_sha1(method: str, url: str, body: dict[str, str], consumer_secret: str) -> str:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}[parts.scheme.lower()]
    host = parts.hostname.lower()
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    base_uri = f"{parts.scheme.lower()}://{host}{parts.path or '/'}"
    params = parse_qsl(parts.query, keep_blank_values=True) + [
        (name, value) for name, value in body.items() if name != "oauth_signature"
    ]
    normalized = "&".join(
        f"{name}={value}" for name, value in sorted((percent(n), percent(v)) for n, v in params)
    )
    base_string = "&".join([method.upper(), percent(base_uri), percent(normalized)])
    key = f"{percent(consumer_secret)}&"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def lti11_tool(connected_tool):
    secret = services.lti11_set(registration=connected_tool, enabled=True, actor=None)
    connected_tool.refresh_from_db()
    return connected_tool, secret


@pytest.mark.django_db
class TestLti11:
    def test_secret_is_shown_once_and_stored_encrypted(self, lti11_tool):
        tool, secret = lti11_tool
        assert secret and tool.lti11_consumer_key
        assert secret not in tool.lti11_secret
        assert secrets.decrypt(tool.lti11_secret) == secret
        assert services.lti11_set(registration=tool, enabled=True, actor=None) is None

    def test_signed_form_verifies_independently(
        self, user, client_logged_in, lti11_tool, badge_class
    ):
        tool, secret = lti11_tool
        response = press(client_logged_in, tool, "badgeclass", badge_class.entity_id, version="1.1")
        assert response.status_code == 200
        assert "form-action 'self' https://tool.example.org" in response["Content-Security-Policy"]
        action, fields = form_of(response)
        assert action == LAUNCH_URL
        assert fields["oauth_signature_method"] == "HMAC-SHA1"
        assert fields["oauth_consumer_key"] == tool.lti11_consumer_key
        assert fields["oauth_signature"] == rfc5849_hmac_sha1("POST", action, fields, secret)
        assert fields["lti_message_type"] == "basic-lti-launch-request"
        assert fields["lti_version"] == "LTI-1p0"
        # The same pairwise id as an LTI 1.3 launch's sub and login_hint, never the entityId.
        assert fields["user_id"] == tool.subject_of(user)
        login_hint = form_of(press(client_logged_in, tool, "profile"))[1]["login_hint"]
        assert fields["user_id"] == login_hint != user.entity_id
        assert fields["roles"] == "Administrator"
        assert fields["resource_link_id"] == f"badgeclass:{badge_class.entity_id}"
        assert fields["context_id"] == badge_class.issuer.entity_id
        assert fields["custom_laurels_badgeclass_id"] == badge_class.entity_id
        assert fields["custom_course"] == "101"
        assert fields["lis_person_contact_email_primary"] == "ada@example.org"
        launch = LtiLaunch.objects.get(location="badgeclass")
        assert launch.used_at is not None  # the form is the launch

    def test_a_changed_field_no_longer_verifies(self, client_logged_in, lti11_tool):
        tool, secret = lti11_tool
        award = AssertionFactory(recipient_plaintext="ada@example.org")
        response = press(
            client_logged_in, tool, "backpack.assertion", award.entity_id, version="1.1"
        )
        action, fields = form_of(response)
        assert fields["roles"] == "Learner"
        assert fields["oauth_signature"] == rfc5849_hmac_sha1("POST", action, fields, secret)
        forged = {**fields, "roles": "Administrator"}
        assert fields["oauth_signature"] != rfc5849_hmac_sha1("POST", action, forged, secret)
        assert fields["oauth_signature"] != rfc5849_hmac_sha1("POST", action, fields, "guess")

    def test_rotated_secret_signs_from_then_on(self, client_logged_in, lti11_tool):
        tool, old = lti11_tool
        new = services.lti11_secret_rotate(registration=tool, actor=None)
        action, fields = form_of(press(client_logged_in, tool, "profile", version="1.1"))
        assert fields["oauth_signature"] == rfc5849_hmac_sha1("POST", action, fields, new)
        assert fields["oauth_signature"] != rfc5849_hmac_sha1("POST", action, fields, old)

    def test_refused_once_disabled(self, client_logged_in, lti11_tool):
        tool, _ = lti11_tool
        services.lti11_set(registration=tool, enabled=False, actor=None)
        tool.refresh_from_db()
        assert (tool.lti11_consumer_key, tool.lti11_secret) == ("", "")
        assert press(client_logged_in, tool, "profile", version="1.1").status_code == 400
        with pytest.raises(DomainError, match=r"LTI 1\.1 is off"):
            services.lti11_secret_rotate(registration=tool, actor=None)

    @pytest.mark.parametrize(
        ("scopes", "released"),
        [
            (("openid",), set()),
            (
                ("rw:profile",),
                {"lis_person_name_full", "lis_person_name_given", "lis_person_name_family"},
            ),
            (("email",), {"lis_person_contact_email_primary"}),
        ],
    )
    def test_names_and_email_per_grant_with_what_it_implies(
        self, user, client_logged_in, scopes, released
    ):
        tool = register_tool(scopes="r:profile rw:profile email openid")
        services.lti11_set(registration=tool, enabled=True, actor=None)
        connect(user, tool, scopes=scopes)
        fields = form_of(press(client_logged_in, tool, "profile", version="1.1"))[1]
        assert {name for name in fields if name.startswith("lis_person_")} == released
