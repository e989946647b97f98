"""Awards' public pages kept by the same job as their documents and served to visitors
without a session by the fast path, only while current: after a change, after the
award expires by the clock, or for anyone Django would answer otherwise, Django answers
(`laurels.openbadges.kept`, `laurels.openbadges.fastpath`)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from laurels.issuing import services as issuing
from laurels.jobs.runner import drain
from laurels.openbadges.kept import ASSERTIONS, PAGES, kept_documents_refresh, kept_page_body
from laurels.openbadges.models import KeptDocument
from tests.factories import BadgeClassFactory, UserFactory
from tests.openbadges.test_fastpath import call

pytestmark = pytest.mark.django_db
PAGE = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}


def award_to(badge_class, **award):
    return issuing.assertion_award(
        badge_class=badge_class,
        actor=None,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity="ann@example.org"), **award),
    )


def page_of(award) -> str:
    return f"/public/assertions/{award.entity_id}"


def test_a_kept_page_is_what_django_answers_and_is_served_without_it(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory(), narrative="Built *a bridge*")
    drain("runner-a")
    assert KeptDocument.objects.filter(kind=PAGES, entity_id=award.entity_id).exists()
    first = call(app, page_of(award), **PAGE)  # Django answers; its headers are learned
    assert django.reached == 1 and first["status"] == "200 OK"
    kept = call(app, page_of(award), **PAGE)
    assert django.reached == 1
    via_django = Client().get(page_of(award), **PAGE)
    assert kept["status"] == "200 OK" and kept["body"] == via_django.content == first["body"]
    assert kept["headers"] == first["headers"]
    assert kept["headers"]["Content-Security-Policy"] == via_django["Content-Security-Policy"]
    assert kept["headers"]["Vary"] == via_django["Vary"]
    assert b"<em>a bridge</em>" in kept["body"] and b"Valid" in kept["body"]
    # Another award's page goes out with the headers learned from the first.
    other = award_to(BadgeClassFactory())
    drain("runner-a")
    answer = call(app, page_of(other), **PAGE)
    assert django.reached == 1 and answer["body"] == Client().get(page_of(other), **PAGE).content


def test_only_visitors_without_a_session_get_the_kept_page(fast_path, client):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    reached = django.reached
    user = UserFactory()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    signed_in = call(app, page_of(award), HTTP_COOKIE=f"sessionid={session}", **PAGE)
    assert django.reached == reached + 1 and b"Log out" in signed_in["body"]
    for other in (
        {"HTTP_COOKIE": "messages=whatever"},
        {"HTTP_AUTHORIZATION": "Basic eDp5"},
        {"QUERY_STRING": "utm_source=mail"},
    ):
        call(app, page_of(award), **PAGE, **other)
    assert django.reached == reached + 4
    # Cookies of no meaning to the page (a CSRF token from the log-in form) do not matter.
    call(app, page_of(award), HTTP_COOKIE="csrftoken=abc", **PAGE)
    assert django.reached == reached + 4


def test_a_revoked_award_is_never_shown_as_valid(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    issuing.assertion_revoke(assertion=award, reason="Copied the work", actor=None)
    answer = call(app, page_of(award), **PAGE)  # the job has not run yet: Django answers
    assert django.reached == 2 and b"Revoked" in answer["body"]
    drain("runner-a")
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 2 and b"Copied the work" in answer["body"]


def test_what_the_page_shows_of_the_issuer_and_badge_class_is_current(fast_path):
    app, django = fast_path
    badge_class = BadgeClassFactory()
    award = award_to(badge_class)
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    issuing.issuer_verify(issuer=badge_class.issuer, by="admin")
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 2 and b"Verified issuer" in answer["body"]
    issuing.badge_class_update(badge_class=badge_class, description="New words")
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 3 and b"New words" in answer["body"]


def test_a_page_kept_while_valid_is_not_served_once_the_award_expires(fast_path):
    app, django = fast_path
    expires = timezone.now() + timedelta(seconds=2)
    award = award_to(BadgeClassFactory(), expires=expires)
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 1 and b'state-valid" role="status">Valid' in answer["body"]
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.1)
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 2 and b'state-expired" role="status">Expired' in answer["body"]


def test_a_page_kept_with_other_settings_is_not_served(fast_path, settings):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    settings.LAURELS_SITE_NAME = "Renamed Badges"
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 2 and b"Renamed Badges" in answer["body"]


def test_an_award_that_has_expired_has_no_kept_page(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory(), expires=timezone.now() + timedelta(seconds=1))
    time.sleep(1.1)
    drain("runner-a")
    assert not KeptDocument.objects.filter(kind=PAGES, entity_id=award.entity_id).exists()
    answer = call(app, page_of(award), **PAGE)
    assert django.reached == 1 and b"Expired" in answer["body"]


def test_a_request_django_refuses_is_not_answered_with_a_kept_page(fast_path):
    app, django = fast_path
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    call(app, page_of(award), **PAGE)
    assert call(app, page_of(award) + "\n", **PAGE)["status"].startswith("404")
    assert call(app, page_of(award), CONTENT_LENGTH="abc", **PAGE)["status"].startswith("400")
    assert django.reached == 3


def test_pages_and_documents_kept_by_other_code_or_settings_are_kept_again(settings):
    badge_class = BadgeClassFactory()
    kept, never_kept = award_to(badge_class), award_to(badge_class)
    drain("runner-a")
    KeptDocument.objects.filter(entity_id=never_kept.entity_id).delete()
    assert kept_documents_refresh() == 1  # the one never kept
    drain("runner-a")
    assert kept_documents_refresh() == 0
    settings.LAURELS_SITE_NAME = "Renamed Badges"  # every page's layout changed
    assert kept_documents_refresh() == 2
    drain("runner-a")
    assert kept_documents_refresh() == 0
    page = KeptDocument.objects.get(kind=PAGES, entity_id=kept.entity_id)
    assert b"Renamed Badges" in kept_page_body({"body": bytes(page.body)})


def test_a_runner_without_collected_static_files_still_keeps_the_documents(settings, tmp_path):
    """A page names its static files through the manifest `laurels serve` collects; a
    job runner started elsewhere without it keeps the JSON documents all the same."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    award = award_to(BadgeClassFactory())
    drain("runner-a")
    kept = KeptDocument.objects.filter(entity_id=award.entity_id)
    assert list(kept.values_list("kind", flat=True)) == [ASSERTIONS]


def test_a_refresh_queues_at_most_its_limit_and_needs_no_static_files(settings, monkeypatch):
    from laurels.openbadges import kept as kept_module

    badge_class = BadgeClassFactory()
    for _ in range(3):
        award_to(badge_class)
    monkeypatch.setattr(kept_module, "REFRESH_LIMIT", 2)
    assert kept_documents_refresh() == 2  # none kept yet: the first two
    drain("runner-a")
    assert kept_documents_refresh() == 0
    settings.STATIC_ROOT = "/nonexistent"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    assert kept_documents_refresh() == 0  # pages cannot be made here: documents are current
