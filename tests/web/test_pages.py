import base64

import pytest
from django.db import DatabaseError
from django.test import Client

from laurels.accounts.models import EmailAddress, User

pytestmark = pytest.mark.django_db


def test_home_for_visitors_and_members(client, client_logged_in):
    assert "Create an account" in client.get("/").content.decode()
    assert "ada@example.org" in client_logged_in.get("/").content.decode()


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "database_writes": "ok",
        "disk": "ok",
        "failing": [],
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_503_when_the_database_fails(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def fail(self, sql, params=None):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", fail)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_admin_is_for_staff_only(client_logged_in):
    response = client_logged_in.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_adds_a_user_with_a_verified_primary_address():
    admin_user = User.objects.create_superuser("root@example.org", "an admin passphrase")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Staff@Example.org",
            "first_name": "Sam",
            "last_name": "Lee",
            "password1": "a sturdy passphrase",
            "password2": "a sturdy passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(email="staff@example.org")
    address = EmailAddress.objects.get(user=created)
    assert address.primary and address.verified
    assert created.check_password("a sturdy passphrase")


def test_createsuperuser_manager_makes_a_verified_admin():
    admin_user = User.objects.create_superuser("root@example.org", "an admin passphrase")
    assert admin_user.is_staff and admin_user.is_superuser
    assert admin_user.email_addresses.get().verified


@pytest.mark.parametrize(
    "path",
    [
        "/public/issuers/a%00b",
        "/public/badges/a%00b",
        "/public/assertions/a%00b",
        "/share/collections/a%00b",
        "/public/issuers/abc?format=%00",
    ],
)
def test_nul_in_a_page_url_is_a_400_on_every_database(client, path):
    """PostgreSQL refuses NUL in any lookup (a 500 before this); every page refuses it."""
    response = client.get(path)
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.parametrize(
    ("path", "data", "headers"),
    [
        ("/o/token", {"grant_type": "client_credentials", "client_id": "\x00"}, {}),
        ("/o/revoke_token", {"token": "x", "client_id": "\x00"}, {}),
        (
            "/o/token",
            {"grant_type": "client_credentials"},
            {"Authorization": "Basic " + base64.b64encode(b"\x00:secret").decode()},
        ),
    ],
)
def test_nul_in_a_form_or_in_client_credentials_is_a_400(client, path, data, headers):
    response = client.post(path, data, headers=headers)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_nul_in_a_log_in_next_url_is_ignored(client):
    """`next` is decoded once more than the request was checked."""
    response = client.get("/accounts/login/", {"next": "/o/authorize?client_id=%00"})
    assert response.status_code == 200


def test_nul_in_a_revoke_form_of_a_logged_in_user_is_a_400(client_logged_in):
    response = client_logged_in.post("/account/apps/", {"revoke": "\x00"})
    assert response.status_code == 400


def test_a_multipart_form_without_a_boundary_is_a_400(client):
    response = client.post(
        "/accounts/login/", b"x", content_type="multipart/form-data", HTTP_X_CSRFTOKEN="x"
    )
    assert response.status_code == 400
