"""The admin site: registrations (LTI 1.1 switched there only) and the platform keys."""

import pytest

from laurels.core import secrets
from laurels.lti import services
from laurels.lti.models import ToolRegistration
from tests.connect.oauth_helpers import register_app
from tests.lti.helpers import JWKS_URL, LAUNCH_URL, LOGIN_URL, register_tool


@pytest.mark.django_db
class TestAdmin:
    def test_pages_open(self, admin_client):
        registration = register_tool()
        services.platform_signing_key()
        assert admin_client.get("/admin/lti/toolregistration/").status_code == 200
        page = admin_client.get(f"/admin/lti/toolregistration/{registration.pk}/change/")
        assert page.status_code == 200 and b"lti11_secret" not in page.content
        assert registration.subject_key.encode() not in page.content
        assert admin_client.get("/admin/lti/platformkey/").status_code == 200

    def test_add_through_the_service(self, admin_client):
        app = register_app()
        response = admin_client.post(
            "/admin/lti/toolregistration/add/",
            {
                "application": app.application.pk,
                "login_url": LOGIN_URL,
                "launch_url": LAUNCH_URL,
                "jwks_url": JWKS_URL,
                "public_key": "",
                "locations": '["profile"]',
                "title": "",
                "icon_url": "",
                "custom": "{}",
                "enabled": "on",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        assert ToolRegistration.objects.get().locations == ["profile"]

    def test_the_app_of_a_registration_cannot_be_changed(self, admin_client):
        registration = register_tool()
        other = register_app(name="Other App")
        url = f"/admin/lti/toolregistration/{registration.pk}/change/"
        page = admin_client.get(url)
        assert b'name="application"' not in page.content
        response = admin_client.post(
            url,
            {
                "application": other.application.pk,
                "login_url": LOGIN_URL,
                "launch_url": LAUNCH_URL,
                "jwks_url": JWKS_URL,
                "public_key": "",
                "locations": '["profile"]',
                "title": "Changed",
                "icon_url": "",
                "custom": "{}",
                "enabled": "on",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        changed = ToolRegistration.objects.get()
        assert changed.pk == registration.pk
        assert changed.application_id == registration.application_id
        assert (changed.title, changed.locations) == ("Changed", ["profile"])
        assert changed.subject_key == registration.subject_key

    def test_enabling_lti11_shows_the_secret_once(self, admin_client):
        registration = register_tool()
        response = admin_client.post(
            "/admin/lti/toolregistration/",
            {"action": "lti11_enable", "_selected_action": [registration.pk]},
            follow=True,
        )
        registration.refresh_from_db()
        assert registration.lti11_enabled
        secret = secrets.decrypt(registration.lti11_secret)
        assert secret in response.content.decode()
        page = admin_client.get(f"/admin/lti/toolregistration/{registration.pk}/change/")
        assert secret not in page.content.decode()

    def test_add_without_an_app_is_a_form_error(self, admin_client):
        response = admin_client.post(
            "/admin/lti/toolregistration/add/",
            {"login_url": LOGIN_URL, "launch_url": LAUNCH_URL, "locations": "[]", "custom": "{}"},
        )
        assert response.status_code == 200
        assert b"errornote" in response.content
        assert not ToolRegistration.objects.exists()
