"""Pressing a button (POST /lti/launch): who may launch what, and where it goes."""

import pytest

from laurels.connect import services as connect_services
from laurels.connect.models import Application
from laurels.lti.models import LtiLaunch
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory
from tests.lti.helpers import LAUNCH_URL, LOGIN_URL, form_of, press, register_tool


@pytest.mark.django_db
class TestRefusals:
    def test_not_logged_in(self, client, connected_tool, badge_class):
        response = press(client, connected_tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 401
        assert b"Log in to Laurels, then press the button again" in response.content
        assert not LtiLaunch.objects.exists()

    def test_tool_not_connected(self, client_logged_in, tool, badge_class):
        response = press(client_logged_in, tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 403
        assert b"not connected" in response.content
        assert not LtiLaunch.objects.exists()

    def test_location_not_registered(self, user, client_logged_in, badge_class):
        from tests.lti.helpers import connect

        registration = register_tool(locations=["backpack"])
        connect(user, registration)
        response = press(client_logged_in, registration, "badgeclass", badge_class.entity_id)
        assert response.status_code == 404
        assert b"has no button here" in response.content

    def test_unknown_location_and_tool(self, client_logged_in, connected_tool):
        assert press(client_logged_in, connected_tool, "nowhere").status_code == 404
        response = client_logged_in.post("/lti/launch", {"tool": "nope", "location": "backpack"})
        assert response.status_code == 404

    def test_badge_class_of_an_issuer_the_viewer_is_not_staff_of(
        self, client_logged_in, connected_tool
    ):
        other = BadgeClassFactory(issuer=IssuerFactory(owner=UserFactory()))
        response = press(client_logged_in, connected_tool, "badgeclass", other.entity_id)
        assert response.status_code == 403
        assert b"Only the issuer&#x27;s staff" in response.content
        assert not LtiLaunch.objects.exists()

    def test_unknown_entity(self, client_logged_in, connected_tool):
        for location in ("issuer", "badgeclass", "assertion", "backpack.assertion"):
            assert press(client_logged_in, connected_tool, location, "x" * 22).status_code == 404
        assert press(client_logged_in, connected_tool, "badgeclass", "").status_code == 404

    def test_entity_for_a_location_without_one(self, client_logged_in, connected_tool, issuer):
        assert (
            press(client_logged_in, connected_tool, "backpack", issuer.entity_id).status_code == 404
        )

    def test_someone_elses_badge_in_the_backpack(self, client_logged_in, connected_tool):
        award = AssertionFactory(recipient_plaintext="someone@example.org")
        response = press(client_logged_in, connected_tool, "backpack.assertion", award.entity_id)
        assert response.status_code == 404

    def test_disabled_registration(self, client_logged_in, connected_tool, badge_class):
        connected_tool.enabled = False
        connected_tool.save()
        response = press(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 404

    def test_app_disabled_or_pending(self, client_logged_in, connected_tool, badge_class):
        app = connected_tool.application
        connect_services.application_set_enabled(application=app, enabled=False)
        response = press(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 403
        Application.objects.filter(pk=app.pk).update(enabled=True, review="pending")
        response = press(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 403

    def test_lti11_not_enabled(self, client_logged_in, connected_tool):
        response = press(client_logged_in, connected_tool, "backpack", version="1.1")
        assert response.status_code == 400
        assert b"LTI 1.3 launches only" in response.content
        assert press(client_logged_in, connected_tool, "backpack", version="2").status_code == 400

    def test_csrf_checked(self, csrf_client_logged_in, connected_tool):
        assert press(csrf_client_logged_in, connected_tool, "backpack").status_code == 403
        assert not LtiLaunch.objects.exists()

    def test_only_post(self, client_logged_in):
        assert client_logged_in.get("/lti/launch").status_code == 405


@pytest.mark.django_db
class TestLoginInitiation:
    def test_posts_the_third_party_login_to_the_tool(
        self, settings, user, client_logged_in, connected_tool, badge_class
    ):
        response = press(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        action, fields = form_of(response)
        launch = LtiLaunch.objects.get()
        assert action == LOGIN_URL
        assert fields == {
            "iss": settings.LAURELS_BASE_URL,
            "login_hint": connected_tool.subject_of(user),
            "target_link_uri": LAUNCH_URL,
            "lti_message_hint": launch.entity_id,
            "client_id": connected_tool.client_id,
            "lti_deployment_id": connected_tool.deployment_id,
        }
        assert (launch.user, launch.badge_class, launch.issuer) == (
            user,
            badge_class,
            badge_class.issuer,
        )
        assert launch.used_at is None and launch.return_url == "/issuers/"
        policy = response["Content-Security-Policy"]
        assert "form-action 'self' https://tool.example.org" in policy
        assert b"lti/autosubmit.js" in response.content
        assert b"Opening Course Tool" in response.content

    def test_earner_launches_from_a_badge_in_their_backpack(self, client_logged_in, connected_tool):
        award = AssertionFactory(recipient_plaintext="ada@example.org")
        response = press(client_logged_in, connected_tool, "backpack.assertion", award.entity_id)
        assert response.status_code == 200
        assert LtiLaunch.objects.get().assertion == award

    def test_a_return_path_elsewhere_is_dropped(self, client_logged_in, connected_tool):
        press(client_logged_in, connected_tool, "profile", return_to="//evil.example/")
        assert LtiLaunch.objects.get().return_url == ""
