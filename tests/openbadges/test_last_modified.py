"""A signing-key change alters every hosted document of the issuer (the profile's
publicKey, each award's verification) though no award row changes: a verifier asking
If-Modified-Since must get the new document, not 304."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import parse_http_date

from laurels.issuing.models import Assertion, Issuer
from laurels.openbadges import services as openbadges
from tests.factories import AssertionFactory

pytestmark = pytest.mark.django_db
JSON_LD = {"HTTP_ACCEPT": "application/ld+json"}


@pytest.mark.parametrize(
    "change",
    [
        openbadges.issuer_signing_enable,
        openbadges.issuer_signing_rotate,
        openbadges.issuer_signing_disable,
    ],
)
@pytest.mark.parametrize("kind", ["assertions", "issuers"])
def test_a_signing_key_change_is_newer_than_what_a_verifier_holds(client, change, kind):
    award = AssertionFactory()
    if change is not openbadges.issuer_signing_enable:
        openbadges.issuer_signing_enable(issuer=award.issuer)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Assertion.objects.filter(pk=award.pk).update(updated_at=an_hour_ago)
    Issuer.objects.filter(pk=award.issuer_id).update(updated_at=an_hour_ago)
    entity_id = award.entity_id if kind == "assertions" else award.issuer.entity_id
    path = f"/public/{kind}/{entity_id}"
    # A cached document kept from before, under the versions the change moves on.
    held = client.get(path, **JSON_LD)
    assert held.status_code == 200

    change(issuer=Issuer.objects.get(pk=award.issuer_id))

    again = client.get(path, HTTP_IF_MODIFIED_SINCE=held["Last-Modified"], **JSON_LD)
    assert again.status_code == 200
    if not (kind == "issuers" and change is openbadges.issuer_signing_disable):
        # (the profile keeps listing the last key after signing is disabled)
        assert again.content != held.content
        assert again["ETag"] != held["ETag"]
    assert parse_http_date(again["Last-Modified"]) > parse_http_date(held["Last-Modified"])
