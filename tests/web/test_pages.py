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
