"""Self-registration of apps (RFC 7591 / 7592) under the admin's no-review policy."""

import json

import pytest
from django.test import Client

from laurels.connect.models import Application, AuditEvent
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
    ("metadata", "fragment"),
    [
        (
            {
                "client_name": "X",
                "redirect_uris": ["https://x.example.org/cb"],
                "scope": "god:mode",
            },
            "Unknown scope",
        ),
        ({"client_name": "X", "redirect_uris": ["http://localhost/cb"]}, "localhost"),
        ({"client_name": "X", "redirect_uris": ["http://x.example.org/cb"]}, "https"),
        ({"client_name": "X", "redirect_uris": "https://x.example.org/cb"}, "array"),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_stored(metadata, fragment):
    response = register(metadata)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
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
