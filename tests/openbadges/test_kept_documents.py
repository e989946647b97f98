"""Awards' hosted documents rendered by a job once the award commits, kept in the
database, and served by the fast path only while they are current
(`laurels.openbadges.kept`)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion
from laurels.jobs.models import Job
from laurels.jobs.runner import drain
from laurels.openbadges.kept import ASSERTIONS, KEEP_CHUNK, KEEP_TASK, PAGES, documents_keep
from laurels.openbadges.models import KeptDocument
from tests.factories import BadgeClassFactory
from tests.openbadges.test_fastpath import call

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/ld+json"}


def award_to(badge_class, identity: str = "a@example.org"):
    return issuing.assertion_award(
        badge_class=badge_class,
        actor=None,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity=identity)),
    )


def test_an_award_is_kept_once_its_job_runs_and_served_without_django(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    assert Job.objects.filter(task=KEEP_TASK).count() == 1
    drain("runner-a")
    kept = KeptDocument.objects.get(entity_id=award.entity_id, kind=ASSERTIONS)
    path = f"/public/assertions/{award.entity_id}"
    cache.clear()  # no process has asked for it
    answer = call(app, path, **JSON)
    assert django.reached == 0 and answer["status"] == "200 OK"
    assert answer["body"] == bytes(kept.body) and answer["headers"]["ETag"] == kept.etag
    cache.clear()
    via_django = Client().get(path, **JSON)
    assert via_django.content == answer["body"] and via_django["ETag"] == kept.etag
    # A variant is not kept: Django makes it.
    call(app, path, QUERY_STRING="v=1_1", **JSON)
    assert django.reached == 1


def test_a_revoked_award_is_never_served_as_valid(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    issuing.assertion_revoke(assertion=award, reason="Cheated", actor=None)
    path = f"/public/assertions/{award.entity_id}"
    # The revocation committed; its job has not run: the kept document is stale.
    cache.clear()
    answer = call(app, path, **JSON)
    assert django.reached == 1 and answer["status"] == "410 Gone"
    drain("runner-a")  # kept again, revoked
    cache.clear()
    answer = call(app, path, **JSON)
    assert django.reached == 1 and answer["status"] == "410 Gone"
    assert b'"revoked": true' in answer["body"]


def test_a_document_made_from_rows_older_than_a_change_is_never_served(fast_path):
    """The versions are read before the rows: a change the task does not hear of (a
    new issuer name moves every award's document on) leaves the kept ones unserved."""
    app, django = fast_path
    badge_class = BadgeClassFactory()
    award = award_to(badge_class)
    drain("runner-a")
    issuing.issuer_update(issuer=badge_class.issuer, name="Renamed")
    cache.clear()
    call(app, f"/public/assertions/{award.entity_id}", **JSON)
    assert django.reached == 1


def test_a_batch_queues_one_job_a_chunk_and_keeping_twice_is_harmless():
    badge_class = BadgeClassFactory()
    awards = issuing.assertions_award(
        badge_class=badge_class,
        actor=None,
        awards=[
            issuing.AwardInput(recipient=issuing.Recipient(identity=f"r{n}@example.org"))
            for n in range(KEEP_CHUNK + 1)
        ],
    )
    assert Job.objects.filter(task=KEEP_TASK).count() == 2
    drain("runner-a")
    kept = KeptDocument.objects.filter(kind=ASSERTIONS)
    assert kept.count() == KEEP_CHUNK + 1
    assert KeptDocument.objects.filter(kind=PAGES).count() == KEEP_CHUNK + 1
    assert documents_keep(assertions=[awards[0].entity_id, "no-such-award"]) == 1
    assert kept.count() == KEEP_CHUNK + 1


def test_nothing_is_queued_when_switched_off(settings):
    settings.LAURELS_KEEP_DOCUMENTS = False
    award_to(BadgeClassFactory())
    assert not Job.objects.filter(task=KEEP_TASK).exists()


def test_documents_of_deleted_awards_are_pruned():
    from laurels.openbadges.kept import kept_documents_prune

    badge_class = BadgeClassFactory()
    award = award_to(badge_class)
    drain("runner-a")
    issuing.assertion_revoke(assertion=award, reason="Mistake", actor=None)
    drain("runner-a")
    assert kept_documents_prune() == 0
    issuing.issuer_delete(issuer=badge_class.issuer)
    assert kept_documents_prune() == 2  # its document and its page
    assert not KeptDocument.objects.exists()


def test_an_entity_id_made_again_never_gets_the_deleted_awards_document(fast_path):
    """A Badgr import keeps Badgr's entityIds: an award deleted and made again under
    the same id is another row, whose versions may read as the old one's did."""
    app, django = fast_path
    badge_class = BadgeClassFactory()
    first = award_to(badge_class)
    issuing.assertion_update(assertion=first, narrative="edited")  # its version moves on
    drain("runner-a")
    entity_id = first.entity_id
    first.delete()
    second = award_to(badge_class, "other@example.org")
    Assertion.objects.filter(pk=second.pk).update(entity_id=entity_id)
    second.refresh_from_db()
    drain("runner-a")  # the job of `second` ran under its old entityId: nothing kept now
    issuing.assertion_revoke(assertion=second, reason="Cheated", actor=None)
    cache.clear()
    answer = call(app, f"/public/assertions/{entity_id}", **JSON)
    assert django.reached == 1 and answer["status"] == "410 Gone"
    assert b"a@example.org" not in answer["body"]


def test_a_new_base_url_is_never_answered_with_the_old_ids(fast_path, settings):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    settings.LAURELS_BASE_URL = "https://moved.example"
    cache.clear()
    answer = call(app, f"/public/assertions/{award.entity_id}", **JSON)
    assert django.reached == 1
    assert b'"id": "https://moved.example/public/assertions/' in answer["body"]
