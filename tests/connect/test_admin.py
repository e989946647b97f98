import pytest

from laurels.connect.models import Application, AuditEvent
from tests.connect.oauth_helpers import register_app

pytestmark = pytest.mark.django_db


def test_admins_see_the_audit_trail(admin_client):
    register_app(name="Audited App")
    page = admin_client.get("/admin/connect/auditevent/")
    assert page.status_code == 200
    assert "app_registered" in page.content.decode()
    event = AuditEvent.objects.first()
    assert admin_client.get(f"/admin/connect/auditevent/{event.pk}/change/").status_code == 200
    assert admin_client.get("/admin/connect/auditevent/add/").status_code == 403


def test_admins_approve_pending_apps(admin_client):
    pending = register_app(name="Waiting", review=Application.Review.PENDING).application
    response = admin_client.post(
        "/admin/connect/application/",
        {"action": "approve", "_selected_action": [pending.pk]},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.review == Application.Review.APPROVED


def test_admins_register_apps_in_the_admin(admin_client):
    page = admin_client.get("/admin/connect/application/add/")
    assert page.status_code == 200
    assert "allowed_scopes" in page.content.decode()


def test_non_staff_cannot_see_the_audit_trail(client_logged_in):
    assert client_logged_in.get("/admin/connect/auditevent/").status_code == 302
