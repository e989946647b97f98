"""Public Open Badges documents and pages: shapes, negotiation, caching, revocation."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from joserfc import jws
from joserfc.jwk import RSAKey

from laurels.issuing import services as issuing
from laurels.openbadges import baking
from laurels.openbadges import services as openbadges
from tests.factories import BadgeClassFactory, IssuerFactory

pytestmark = pytest.mark.django_db
LD = {"HTTP_ACCEPT": "application/ld+json"}
BASE = "http://127.0.0.1:8000"
HTML = "text/html,application/xhtml+xml,*/*;q=0.8"  # what browsers send


@pytest.fixture
def award():
    badge_class = BadgeClassFactory(issuer=IssuerFactory(), criteria_narrative="Do **it**.")
    return issuing.assertion_award(
        badge_class=badge_class,
        actor=None,
        award=issuing.AwardInput(
            recipient=issuing.Recipient(identity="Earner@Example.org"), narrative="Great work"
        ),
    )


def get_json(path, **headers):
    response = Client().get(path, **{**LD, **headers})
    return response, (json.loads(response.content) if response.content else None)


def test_hosted_assertion_document(award):
    response, document = get_json(f"/public/assertions/{award.entity_id}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json"
    assert document["@context"] == "https://w3id.org/openbadges/v2"
    assert document["type"] == "Assertion"
    assert document["id"] == f"{BASE}/public/assertions/{award.entity_id}"
    assert document["verification"] == {"type": "HostedBadge"}
    assert document["recipient"]["hashed"] is True
    assert document["recipient"]["identity"].startswith("sha256$")
    assert "earner" not in json.dumps(document)
    assert document["badge"] == f"{BASE}/public/badges/{award.badge_class.entity_id}"
    assert document["issuedOn"].endswith("Z")


def test_badge_class_and_issuer_documents(award):
    _, badge = get_json(f"/public/badges/{award.badge_class.entity_id}")
    assert badge["type"] == "BadgeClass"
    assert badge["criteria"] == {"narrative": "Do **it**."}
    assert badge["issuer"] == f"{BASE}/public/issuers/{award.issuer.entity_id}"
    _, issuer = get_json(f"/public/issuers/{award.issuer.entity_id}?format=json", HTTP_ACCEPT="*/*")
    assert issuer["type"] == "Issuer"
    assert {"name", "url", "email"} <= set(issuer)


def test_browsers_get_a_page(award):
    page = Client().get(
        f"/public/assertions/{award.entity_id}",
        HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8",
    )
    html = page.content.decode()
    assert page["Content-Type"].startswith("text/html")
    assert "Valid" in html and award.badge_class.name in html
    assert "e••••@example.org" in html and "Earner@" not in html
    assert "<strong>it</strong>" in html  # Markdown criteria
    assert 'property="og:image"' in html
    assert "Download baked badge" in html


def test_revoked_answers_410_with_the_reason(award):
    issuing.assertion_revoke(assertion=award, reason="Issued by mistake")
    cache.clear()
    response, document = get_json(f"/public/assertions/{award.entity_id}")
    assert response.status_code == 410
    assert document == {
        "@context": "https://w3id.org/openbadges/v2",
        "id": f"{BASE}/public/assertions/{award.entity_id}",
        "revoked": True,
        "revocationReason": "Issued by mistake",
    }
    page = Client().get(f"/public/assertions/{award.entity_id}", HTTP_ACCEPT=HTML).content.decode()
    assert "Revoked" in page and "Issued by mistake" in page


def test_expired_award_says_so(award):
    from datetime import timedelta

    from django.utils import timezone

    award.issued_on = timezone.now() - timedelta(days=10)
    award.expires = timezone.now() - timedelta(days=1)
    award.save()
    _, document = get_json(f"/public/assertions/{award.entity_id}")
    assert document["expires"].endswith("Z")
    page = Client().get(f"/public/assertions/{award.entity_id}", HTTP_ACCEPT=HTML)
    assert "Expired" in page.content.decode()


def test_etag_and_conditional_requests(award):
    first, _ = get_json(f"/public/assertions/{award.entity_id}")
    etag, modified = first["ETag"], first["Last-Modified"]
    again, _ = get_json(f"/public/assertions/{award.entity_id}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    since, _ = get_json(f"/public/assertions/{award.entity_id}", HTTP_IF_MODIFIED_SINCE=modified)
    assert since.status_code == 304


def test_cache_is_cleared_by_a_revocation(award, django_capture_on_commit_callbacks):
    assert get_json(f"/public/assertions/{award.entity_id}")[0].status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        issuing.assertion_revoke(assertion=award, reason="Gone")
    assert get_json(f"/public/assertions/{award.entity_id}")[0].status_code == 410


def test_cached_answers_need_no_database(award, django_assert_num_queries):
    get_json(f"/public/assertions/{award.entity_id}")
    with django_assert_num_queries(0):
        assert get_json(f"/public/assertions/{award.entity_id}")[0].status_code == 200


def test_unknown_ids_are_404(award):
    for path in (
        "/public/assertions/nope",
        "/public/badges/nope",
        "/public/issuers/nope",
        "/public/keys/nope",
        "/public/assertions/nope/image",
    ):
        assert Client().get(path, **LD).status_code == 404


def test_baked_png_image_carries_the_assertion_url(award):
    response = Client().get(f"/public/assertions/{award.entity_id}/image?download=1")
    assert response["Content-Type"] == "image/png"
    assert "attachment" in response["Content-Disposition"]
    assert baking.unbake(response.content) == f"{BASE}/public/assertions/{award.entity_id}"
    # The second request is served from storage and is byte-identical.
    assert Client().get(f"/public/assertions/{award.entity_id}/image").content == response.content


class TestSigned:
    def test_signed_assertion_verifies_with_the_published_key(self, award):
        key = openbadges.issuer_signing_enable(issuer=award.issuer)
        cache.clear()
        baked = Client().get(f"/public/assertions/{award.entity_id}/image").content
        token = baking.unbake(baked)
        _, key_document = get_json(f"/public/keys/{key.entity_id}")
        assert key_document["type"] == "CryptographicKey"
        assert key_document["owner"] == f"{BASE}/public/issuers/{award.issuer.entity_id}"
        public = RSAKey.import_key(key_document["publicKeyPem"])
        payload = json.loads(jws.deserialize_compact(token, public, algorithms=["RS256"]).payload)
        assert payload["verification"] == {
            "type": "SignedBadge",
            "creator": f"{BASE}/public/keys/{key.entity_id}",
        }
        _, issuer = get_json(f"/public/issuers/{award.issuer.entity_id}")
        assert issuer["publicKey"] == key_document["id"]

    def test_rotation_keeps_old_keys_published(self, award):
        old = openbadges.issuer_signing_enable(issuer=award.issuer)
        new = openbadges.issuer_signing_rotate(issuer=award.issuer)
        cache.clear()
        assert get_json(f"/public/keys/{old.entity_id}")[0].status_code == 200
        _, issuer = get_json(f"/public/issuers/{award.issuer.entity_id}")
        assert issuer["publicKey"] == f"{BASE}/public/keys/{new.entity_id}"

    def test_after_signing_is_disabled_the_last_key_stays_listed(self, award):
        """What it signed keeps verifying (it was listed by no key at all before)."""
        key = openbadges.issuer_signing_enable(issuer=award.issuer)
        openbadges.issuer_signing_disable(issuer=award.issuer)
        cache.clear()
        _, issuer = get_json(f"/public/issuers/{award.issuer.entity_id}")
        assert issuer["publicKey"] == f"{BASE}/public/keys/{key.entity_id}"
        assert issuer["revocationList"].endswith("/revocations")

    def test_revocation_list(self, award):
        openbadges.issuer_signing_enable(issuer=award.issuer)
        issuing.assertion_revoke(assertion=award, reason="Fraud")
        _, revocations = get_json(f"/public/issuers/{award.issuer.entity_id}/revocations")
        assert revocations["type"] == "RevocationList"
        assert revocations["revokedAssertions"] == [
            {"id": f"{BASE}/public/assertions/{award.entity_id}", "revocationReason": "Fraud"}
        ]
