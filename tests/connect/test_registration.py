"""Self-registration of apps (RFC 7591 / 7592) under the admin's no-review policy."""

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from laurels.connect.models import Application, AuditEvent
from laurels.connect.names import impersonation_problem, name_key
from tests.connect.oauth_helpers import authorize_url

pytestmark = pytest.mark.django_db


def register(metadata: dict, client=None):
    return (client or Client()).post(
        "/o/register", json.dumps(metadata), content_type="application/json"
    )


def test_low_risk_scopes_are_registered_and_usable_at_once(client_logged_in):
    response = register(
        {
            "client_name": "Badge Wall",
            "redirect_uris": ["https://wall.example.org/cb"],
            "scope": "r:profile r:backpack",
            "client_uri": "https://wall.example.org",
            "logo_uri": "https://wall.example.org/logo.png",
        }
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        "client_id",
        "client_secret",
        "registration_access_token",
        "registration_client_uri",
    } <= set(body)
    assert body["scope"] == "r:profile r:backpack"
    assert body["laurels_review_status"] == "approved"
    application = Application.objects.get(client_id=body["client_id"])
    assert application.website_url == "https://wall.example.org"
    assert application.registration_source == "dcr"
    assert AuditEvent.objects.filter(kind="app_registered", application=application).exists()

    page = client_logged_in.get(
        f"/o/authorize?client_id={body['client_id']}&redirect_uri=https://wall.example.org/cb"
        "&response_type=code&scope=r:backpack"
    )
    assert "Badge Wall wants to connect" in page.content.decode()


def test_more_than_the_policy_waits_for_an_admin(client_logged_in):
    body = register(
        {
            "client_name": "Issuer Bot",
            "redirect_uris": ["https://bot.example.org/cb"],
            "scope": "r:profile rw:issuer",
        }
    ).json()
    assert body["laurels_review_status"] == "pending"
    application = Application.objects.get(client_id=body["client_id"])

    class Registered:  # what the helpers need of an app
        client_id = body["client_id"]

    blocked = client_logged_in.get(
        authorize_url(Registered, redirect_uri="https://bot.example.org/cb")
    )
    assert "This app cannot connect" in blocked.content.decode()

    application.review = Application.Review.APPROVED
    application.save()
    allowed = client_logged_in.get(
        authorize_url(Registered, redirect_uri="https://bot.example.org/cb", scope="rw:issuer")
    )
    assert allowed.status_code == 200


def test_the_registration_can_be_read_with_its_token():
    body = register({"client_name": "Reader", "redirect_uris": ["https://r.example.org/cb"]}).json()
    read = Client().get(
        body["registration_client_uri"].replace("http://testserver", ""),
        headers={"Authorization": f"Bearer {body['registration_access_token']}"},
    )
    assert read.status_code == 200
    assert read.json()["client_id"] == body["client_id"]
    anonymous = Client().get(body["registration_client_uri"].replace("http://testserver", ""))
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("metadata", "error", "fragment"),
    [
        (
            {
                "client_name": "X",
                "redirect_uris": ["https://x.example.org/cb"],
                "scope": "god:mode",
            },
            "invalid_client_metadata",
            "Unknown scope",
        ),
        (
            {"client_name": "X", "redirect_uris": ["http://localhost/cb"]},
            "invalid_redirect_uri",
            "localhost",
        ),
        (
            {"client_name": "X", "redirect_uris": ["http://x.example.org/cb"]},
            "invalid_redirect_uri",
            "https",
        ),
        (
            {"client_name": "X", "redirect_uris": "https://x.example.org/cb"},
            "invalid_client_metadata",
            "array",
        ),
        (
            {"redirect_uris": ["https://x.example.org/cb"]},
            "invalid_client_metadata",
            "client_name",
        ),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_stored(metadata, error, fragment):
    response = register(metadata)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert fragment in response.json()["error_description"]
    assert not Application.objects.exists()


def test_a_body_that_is_not_an_object():
    response = Client().post("/o/register", "[]", content_type="application/json")
    assert response.status_code == 400
    assert not Application.objects.exists()


def test_self_registration_can_be_switched_off(settings):
    from oauth2_provider.settings import oauth2_settings

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DCR_ENABLED": False}
    oauth2_settings.reload()
    try:
        response = register({"client_name": "X", "redirect_uris": ["https://x.example.org/cb"]})
        assert response.status_code == 404
    finally:
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DCR_ENABLED": True}
        oauth2_settings.reload()


def manage(body: dict, method: str, metadata: dict | None = None):
    """A request to the app's RFC 7592 configuration endpoint with its token."""
    path = urlsplit(body["registration_client_uri"]).path
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    data = json.dumps(metadata) if metadata is not None else ""
    return getattr(Client(), method)(path, data, content_type="application/json", headers=headers)


def test_the_registration_uri_is_on_the_public_base_url(settings):
    body = register({"client_name": "Reader", "redirect_uris": ["https://r.example.org/cb"]})
    assert body.json()["registration_client_uri"].startswith(settings.LAURELS_BASE_URL)


def test_an_update_renews_the_registration_token():
    body = register({"client_name": "Mover", "redirect_uris": ["https://m.example.org/cb"]}).json()
    updated = manage(
        body, "put", {"client_name": "Mover Two", "redirect_uris": ["https://m.example.org/2"]}
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["redirect_uris"] == ["https://m.example.org/2"]
    assert manage(body, "get").status_code == 401  # the old token is gone
    assert manage(updated.json(), "get").json()["client_name"] == "Mover Two"
    assert AuditEvent.objects.filter(kind="app_changed", client_id=body["client_id"]).exists()


def test_an_update_keeps_an_admins_decision():
    body = register(
        {"client_name": "Bot", "redirect_uris": ["https://b.example.org/cb"], "scope": "rw:issuer"}
    ).json()
    application = Application.objects.get(client_id=body["client_id"])
    application.review = Application.Review.APPROVED
    application.save()
    same = manage(
        body,
        "put",
        {"client_name": "Bot", "redirect_uris": ["https://b.example.org/cb"], "scope": "r:issuer"},
    )
    assert same.json()["laurels_review_status"] == "approved"  # within what was approved

    application.review = Application.Review.REJECTED
    application.save()
    narrower = manage(
        same.json(),
        "put",
        {"client_name": "Bot", "redirect_uris": ["https://b.example.org/cb"], "scope": "r:profile"},
    )
    assert narrower.json()["laurels_review_status"] == "rejected"


def test_an_app_deletes_its_own_registration():
    body = register({"client_name": "Leaver", "redirect_uris": ["https://l.example.org/cb"]}).json()
    assert manage(body, "delete").status_code == 204
    assert not Application.objects.filter(client_id=body["client_id"]).exists()
    assert AuditEvent.objects.filter(kind="app_deleted", client_id=body["client_id"]).exists()


def test_too_many_registrations_from_one_address(settings):
    settings.LAURELS_SELF_REGISTRATION_RATE_PER_IP = 2
    answers = [
        register({"client_name": f"App {n}", "redirect_uris": ["https://a.example.org/cb"]})
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2]["Retry-After"]


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("Laurels", True),
        ("LAURELS Helpdesk", True),
        ("Ad Min Panel", True),
        ("Badminton Club", False),
        ("Springfield University Badges", True),  # the operator's reserved name
        ("Springfield Badges", False),
        # Lookalikes read every way they may be read: a 1 as l or i, Polish l, dotless i.
        ("Laure\u0142s", True),
        ("Laure\u0131s", True),
        ("Lau\u0280els", True),
        ("Adm1n", True),
        ("Offic1al Badges", True),
        ("Secur1ty Wall", True),
        ("Wall of Fame", False),
    ],
)
def test_the_name_rule_for_every_caller(settings, name, refused):
    settings.LAURELS_SELF_REGISTRATION_RESERVED_NAMES = ["Springfield University"]
    assert (impersonation_problem(name) is not None) == refused


def test_operators_may_use_any_name_and_lookalikes_share_a_key(capsys):
    from laurels import cli

    code = cli.main(
        ["apps", "create", "--name", "Laurels Support", "--redirect-uri", "https://s.example.org"]
    )
    assert code == 0
    application = Application.objects.get(name="Laurels Support")
    assert application.name_key == name_key("laurels  SUPPORT") == "laurelssupport"
