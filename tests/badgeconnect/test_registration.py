"""Badge Connect apps register themselves (RFC 7591) with Badge Connect's required
metadata, are approved at once for its scopes, and still obey the server's switch."""

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from laurels.connect.models import Application
from tests.badgeconnect.helpers import BC_SCOPES, SITE, moodle_metadata, register

pytestmark = pytest.mark.django_db


def test_moodles_registration_is_approved_at_once_and_answered_in_full():
    response = register(moodle_metadata())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["laurels_review_status"] == "approved"
    assert body["scope"] == BC_SCOPES
    assert isinstance(body["client_id_issued_at"], int)
    assert body["client_secret_expires_at"] == 0
    assert body["client_secret"]
    for field, value in moodle_metadata().items():
        if field not in ("scope", "grant_types", "response_types"):
            assert body[field] == value, field
    application = Application.objects.get(client_id=body["client_id"])
    assert (application.software_id, application.software_version) == ("moodle", "2024100700")
    assert application.terms_url == SITE


@pytest.mark.parametrize(
    "field",
    ["client_uri", "logo_uri", "tos_uri", "policy_uri", "software_id", "software_version"],
)
def test_each_required_field_is_required(field):
    metadata = moodle_metadata()
    del metadata[field]
    response = register(metadata)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert response.json()["error_description"].startswith(field)
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("logo_uri", "https://cdn.example.net/logo.png", "invalid_client_metadata"),
        ("tos_uri", "https://elsewhere.example.org/tos", "invalid_client_metadata"),
        ("policy_uri", "http://app.example.org/privacy", "invalid_client_metadata"),
        ("redirect_uris", ["https://evil.example.org/callback"], "invalid_redirect_uri"),
        ("redirect_uris", ["http://app.example.org/callback"], "invalid_redirect_uri"),
        ("redirect_uris", ["http://localhost:8080/callback"], "invalid_redirect_uri"),
        ("grant_types", ["client_credentials"], "invalid_client_metadata"),
        ("software_id", "x" * 256, "invalid_client_metadata"),
        ("software_version", 2024100700, "invalid_client_metadata"),
    ],
)
def test_links_and_redirects_must_be_https_on_the_apps_own_host(field, value, error):
    metadata = moodle_metadata(**{field: value})
    if field == "grant_types":
        metadata["response_types"] = []
    response = register(metadata)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error
    assert not Application.objects.exists()


def test_the_rules_are_badge_connects_only():
    """An app asking for no Badge Connect scope registers as before, without them."""
    response = register(
        {
            "client_name": "Badge Wall",
            "redirect_uris": ["https://wall.example.org/cb"],
            "scope": "r:profile",
            "logo_uri": "https://cdn.example.net/logo.png",
        }
    )
    assert response.status_code == 201, response.content
    assert "software_id" not in response.json()


def test_badge_connect_approves_only_its_own_scopes():
    body = register(moodle_metadata(scope=f"{BC_SCOPES} rw:issuer")).json()
    assert body["laurels_review_status"] == "pending"


def test_the_operator_may_have_badge_connect_apps_reviewed(settings):
    settings.LAURELS_BADGE_CONNECT_WITHOUT_REVIEW = False
    body = register(moodle_metadata()).json()
    assert body["laurels_review_status"] == "pending"


def test_self_registration_switched_off_is_off_for_badge_connect(settings):
    from oauth2_provider.settings import oauth2_settings

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DCR_ENABLED": False}
    oauth2_settings.reload()
    try:
        assert register(moodle_metadata()).status_code == 404
    finally:
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DCR_ENABLED": True}
        oauth2_settings.reload()
    assert not Application.objects.exists()


def _update(body: dict, metadata: dict):
    path = urlsplit(body["registration_client_uri"]).path
    return Client().put(
        path,
        json.dumps(metadata),
        content_type="application/json",
        headers={"Authorization": f"Bearer {body['registration_access_token']}"},
    )


def test_an_app_in_testing_may_also_redirect_to_loopback():
    body = register(moodle_metadata()).json()
    local = moodle_metadata(redirect_uris=["https://app.example.org/cb", "http://localhost/cb"])
    refused = _update(body, local)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"

    Application.objects.filter(client_id=body["client_id"]).update(testing=True)
    renewed = _update(body, {**local, "software_version": "2025041400"})
    assert renewed.status_code == 200, renewed.content
    application = Application.objects.get(client_id=body["client_id"])
    assert application.redirect_uris.split() == local["redirect_uris"]
    assert application.software_version == "2025041400"
    assert renewed.json()["laurels_review_status"] == "approved"
