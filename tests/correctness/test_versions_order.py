"""Versions move last, only when something they cover changed, and with the change.

`laurels.core.versions`: row locks before version locks. A change that bumped a version
and then waited for a row another change held, which bumps the same version after
locking that row, would deadlock with it on PostgreSQL (one of them answered 500).
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from laurels.backpack import services as backpack
from laurels.core.models import Version
from laurels.core.versions import CATALOG, version_name, versions_bump
from laurels.issuing import services as issuing
from laurels.issuing.models import Acceptance, Assertion, Issuer
from laurels.openbadges import services as openbadges
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db
VERSIONS = Version._meta.db_table


def rows_written_after_a_bump(call) -> list[str]:
    """The UPDATE and DELETE statements `call` runs after it first moves a version on."""
    with CaptureQueriesContext(connection) as queries:
        call()
    statements = [query["sql"] for query in queries.captured_queries]
    bumps = [n for n, sql in enumerate(statements) if VERSIONS in sql and "INSERT" in sql]
    assert bumps, "the change moved no version"
    return [
        sql
        for sql in statements[bumps[0] :]
        if VERSIONS not in sql and sql.lstrip().upper().startswith(("UPDATE", "DELETE"))
    ]


def test_every_issuing_change_moves_versions_after_its_rows():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    badge_class = BadgeClassFactory(issuer=issuer)
    award = AssertionFactory(badge_class=badge_class)
    lone = BadgeClassFactory(issuer=issuer)
    doomed = IssuerFactory(owner=owner)
    BadgeClassFactory(issuer=doomed)
    changes = {
        "issuer_update": lambda: issuing.issuer_update(
            issuer=issuer, name="Renamed", staff=[(owner.entity_id, "owner")], actor=owner
        ),
        "badge_class_update": lambda: issuing.badge_class_update(
            badge_class=badge_class, name="Renamed"
        ),
        "assertion_update": lambda: issuing.assertion_update(assertion=award, narrative="n"),
        "assertion_revoke": lambda: issuing.assertion_revoke(assertion=award, reason="wrong"),
        "assertions_award": lambda: issuing.assertions_award(
            badge_class=badge_class,
            awards=[
                issuing.AwardInput(recipient=issuing.Recipient(f"r{n}@example.org"))
                for n in range(3)
            ],
            actor=owner,
            notify=True,
        ),
        "issuer_signing_enable": lambda: openbadges.issuer_signing_enable(issuer=issuer),
        "issuer_signing_rotate": lambda: openbadges.issuer_signing_rotate(issuer=issuer),
        "issuer_signing_disable": lambda: openbadges.issuer_signing_disable(issuer=issuer),
    }
    late = {name: rows_written_after_a_bump(change) for name, change in changes.items()}
    assert late == {name: [] for name in changes}
    # A badge class or an issuer without awards leaves no backpack: deleting one moves no
    # version at all (before, the delete bumped its versions and then deleted the row).
    with CaptureQueriesContext(connection) as queries:
        issuing.badge_class_delete(badge_class=lone)
        issuing.issuer_delete(issuer=doomed)
    assert [q["sql"] for q in queries.captured_queries if VERSIONS in q["sql"]] == []


def catalog() -> int:
    return (
        Version.objects.filter(name=version_name(CATALOG)).values_list("n", flat=True).first() or 0
    )


def test_only_what_backpacks_show_moves_every_backpack_on():
    issuer = IssuerFactory()
    badge_class = BadgeClassFactory(issuer=issuer)
    start = catalog()
    issuing.issuer_update(issuer=issuer, description="Not in any backpack list.")
    issuing.badge_class_update(badge_class=badge_class, tags=["unlisted"])
    openbadges.issuer_signing_enable(issuer=issuer)
    issuing.badge_class_delete(badge_class=BadgeClassFactory(issuer=issuer))
    assert catalog() == start
    issuing.badge_class_update(badge_class=badge_class, name="A new name")
    assert catalog() == start + 1
    Issuer.objects.get(pk=issuer.pk).save()  # the admin saves whole rows
    assert catalog() == start + 1
    issuing.issuer_update(issuer=issuer, url="https://elsewhere.example.org")
    assert catalog() == start + 2


def test_too_long_an_address_is_refused_not_a_server_error(client_logged_in, user):
    """RFC 5321 allows 254 characters; longer ones passed Django's validator and then
    overflowed the outbox's `to` (and the version name) on PostgreSQL: a 500."""
    badge_class = BadgeClassFactory(issuer=IssuerFactory(owner=user))
    address = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".org"
    assert 254 < len(address) <= 320
    response = client_logged_in.post(
        f"/v2/badgeclasses/{badge_class.entity_id}/assertions",
        json.dumps({"recipient": {"identity": address}, "notify": True}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "254" in response.content.decode()
    assert not Assertion.objects.exists()


def test_a_version_name_has_no_length_limit():
    """Names hold what they belong to (an address, up to 500 characters for other
    identities); PostgreSQL refused names over 300 characters with an error."""
    name = version_name("awards-to", "x" * 600)
    versions_bump([name])
    assert Version.objects.get(name=name).n == 1


@pytest.mark.django_db(transaction=True)
def test_accepting_an_award_commits_with_its_backpack_version():
    """The award's row and the version its receiver moves commit together: when
    anything after the save fails, the acceptance is not left half made."""
    award = AssertionFactory()

    def fail(sender, **kwargs):
        raise RuntimeError("the version could not be moved")

    post_save.connect(fail, sender=Assertion)
    try:
        with pytest.raises(RuntimeError):
            backpack.entry_acceptance_set(entry=award, acceptance=Acceptance.ACCEPTED)
    finally:
        post_save.disconnect(fail, sender=Assertion)
    assert Assertion.objects.get(pk=award.pk).acceptance == Acceptance.UNACCEPTED
