"""Re-verifying imported badges: one service for the daily job and the CLI, each finding
typed, and a signed badge whose signature no longer verifies stops being "verified"."""

import json

import pytest
from django.test import Client
from joserfc import jws
from joserfc.jwk import RSAKey

from laurels import cli
from laurels.backpack.importing import Recheck, badge_import, imported_badges_reverify
from laurels.backpack.models import ImportedBadge
from laurels.jobs.periodic import JOBS, run_due_jobs
from laurels.jobs.runner import drain
from tests.factories import UserFactory, png_data_uri

pytestmark = pytest.mark.django_db
CONTEXT = "https://w3id.org/openbadges/v2"
JSON = {"Content-Type": "application/ld+json"}


def document(body: dict) -> tuple:
    return (200, JSON, json.dumps(body).encode(), 0)


def key_document(base: str, key: RSAKey) -> tuple:
    return document(
        {
            "@context": CONTEXT,
            "type": "CryptographicKey",
            "id": f"{base}/key",
            "owner": f"{base}/issuer",
            "publicKeyPem": key.as_pem(private=False).decode(),
        }
    )


@pytest.fixture
def signed_badge(serve, settings):
    """An issuer on a loopback host that signs its badges; the earner, their imported
    badge, and the host's routes (to change what it serves)."""
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    host = serve()
    routes, base, key = host.routes, host.url, RSAKey.generate_key(2048)
    routes.update(
        {
            "/issuer": document(
                {
                    "@context": CONTEXT,
                    "type": "Issuer",
                    "id": f"{base}/issuer",
                    "name": "Signing College",
                    "url": "https://college.example.org",
                    "email": "badges@college.example.org",
                    "publicKey": f"{base}/key",
                }
            ),
            "/key": key_document(base, key),
            "/badge": document(
                {
                    "@context": CONTEXT,
                    "type": "BadgeClass",
                    "id": f"{base}/badge",
                    "name": "Signed Badge",
                    "description": "Earned by doing the work.",
                    "image": png_data_uri(),
                    "criteria": {"narrative": "Do the work."},
                    "issuer": f"{base}/issuer",
                }
            ),
        }
    )
    assertion = {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": f"{base}/assertion",
        "badge": f"{base}/badge",
        "recipient": {"type": "email", "hashed": False, "identity": "earner@example.org"},
        "issuedOn": "2026-01-01T00:00:00Z",
        "verification": {"type": "SignedBadge", "creator": f"{base}/key"},
    }
    token = jws.serialize_compact({"alg": "RS256"}, json.dumps(assertion).encode(), key)
    user = UserFactory(email="earner@example.org")
    badge, _ = badge_import(user=user, assertion=token)
    return user, badge, base, routes


def test_a_badge_whose_signature_stops_verifying_is_no_longer_verified(signed_badge):
    user, badge, base, routes = signed_badge
    assert imported_badges_reverify() == {Recheck.VERIFIED: 1}
    # The key at the URL the badge names is now another one: its signature fails.
    routes["/key"] = key_document(base, RSAKey.generate_key(2048))
    assert imported_badges_reverify() == {Recheck.SIGNATURE_INVALID: 1}
    badge.refresh_from_db()
    assert badge.status == ImportedBadge.Status.SIGNATURE_INVALID
    client = Client()
    client.force_login(user)
    assert client.get("/v2/backpack/assertions").json()["result"] == []
    shown = client.get("/v2/backpack/assertions?include_revoked=true").json()["result"]
    assert shown[0]["revoked"] is True
    assert shown[0]["revocationReason"] == "Signature no longer verifies"


def test_a_host_that_is_down_proves_nothing(signed_badge):
    _, badge, _, routes = signed_badge
    routes["/key"] = (503, JSON, b"{}", 0)
    assert imported_badges_reverify() == {Recheck.UNCHECKED: 1}
    kept = ImportedBadge.objects.get(pk=badge.pk)
    assert kept.status == ImportedBadge.Status.VERIFIED
    assert kept.verified_at == badge.verified_at  # not verified again


def test_a_gone_key_makes_the_badge_gone_by_the_job_and_the_cli(signed_badge, capsys):
    _, badge, _, routes = signed_badge
    routes["/key"] = (404, JSON, b"{}", 0)
    (job,) = [job for job in JOBS if job.name == "backpack-reverify"]
    assert run_due_jobs(now=0.0, jobs=[job]) == ["backpack-reverify"]
    assert drain("test-runner")["tasks"] == 1  # the sweep is queued in chunks
    badge.refresh_from_db()
    assert badge.status == ImportedBadge.Status.GONE
    assert cli.main(["backpack", "reverify"]) == 0
    assert "Re-verified 1 imported badge(s): 1 gone." in capsys.readouterr().out
