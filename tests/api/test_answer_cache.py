"""Kept answers for polled /v2 lists: the same answer while nothing moved, a fresh one as
soon as anything that could change it did.

Requests go through the real WSGI application (`laurels.wsgi.application`, the one
`laurels serve` runs) so the kept-answer layer in front of Django is exercised; counting
Django's queries tells a kept answer (none) from one Django made.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from io import BytesIO

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from laurels.accounts.models import EmailAddress
from laurels.api.answer_cache import kept_answers
from laurels.backpack.services import entry_acceptance_set
from laurels.connect import services as connect_services
from laurels.issuing import services as issuing
from laurels.issuing.models import Acceptance, IssuerStaff
from laurels.wsgi import application
from tests.connect.oauth_helpers import register_app, token_for
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db

# A kept answer makes no query through Django: its one query (the token and the list's
# stamp, read together) runs on the driver's cursor. Django's answer makes several.
DJANGO_QUERIES_OF_A_KEPT_ANSWER = 0


@pytest.fixture(autouse=True)
def no_kept_answers():
    kept_answers.clear()


@contextmanager
def connection_kept_open():
    """Keep the test's transaction open across a request, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def wsgi_get(path: str, token: str | None, query: str = "", host: str = "testserver", **headers):
    """GET through the WSGI application `laurels serve` runs: status, headers, body (JSON
    when it is), and how many queries went through Django."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        "wsgi.errors": BytesIO(),
        **headers,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered.update(status=int(status.split()[0]), headers=dict(headers))

    with connection_kept_open(), CaptureQueriesContext(connection) as queries:
        body = b"".join(application(environ, start_response))
    if "json" in answered["headers"].get("Content-Type", ""):
        body = json.loads(body)
    return answered["status"], answered["headers"], body, len(queries)


def kept(path: str, token: str, query: str = ""):
    """Ask twice; the second answer must come from the kept one (stamp queries only)."""
    first = wsgi_get(path, token, query)
    second = wsgi_get(path, token, query)
    assert second[3] == DJANGO_QUERIES_OF_A_KEPT_ANSWER, "the second answer was not kept"
    assert second[:3] == first[:3]
    return second


@pytest.fixture
def displayer(user):
    app = register_app(scopes="r:profile r:backpack")
    return app, token_for(user, app, "r:backpack")


@pytest.fixture
def badges(user):
    return [
        AssertionFactory(recipient_plaintext=user.email, issued_on=timezone.now() - timedelta(n))
        for n in range(3)
    ]


BACKPACK = "/v2/backpack/assertions"
# Badgr's expanded backpack (names and texts); such answers are not kept.
EXPANDED = "expand=badgeclass&expand=issuer"


def names(answer) -> list[str]:
    return [b["badgeclass"]["name"] for b in answer[2]["result"]]


def ids(answer) -> list[str]:
    return [b["entityId"] for b in answer[2]["result"]]


def test_a_repeated_list_is_answered_without_rendering_it_again(displayer, badges):
    _, token = displayer
    status, headers, body, _ = kept(BACKPACK, token)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert ids((status, headers, body)) == [a.entity_id for a in badges]
    # A different query string is a different answer.
    assert len(kept(BACKPACK, token, "num=1")[2]["result"]) == 1


def test_a_new_award_shows_at_once(user, displayer, badges):
    _, token = displayer
    kept(BACKPACK, token)
    award = issuing.assertion_award(
        badge_class=badges[0].badge_class,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity=user.email)),
        actor=None,
    )
    assert ids(wsgi_get(BACKPACK, token))[0] == award.entity_id


def test_revoking_rejecting_and_renaming_show_at_once(displayer, badges):
    _, token = displayer
    kept(BACKPACK, token)
    issuing.assertion_revoke(assertion=badges[0], reason="Mistake")
    assert ids(kept(BACKPACK, token)) == [a.entity_id for a in badges[1:]]
    entry_acceptance_set(entry=badges[1], acceptance=Acceptance.REJECTED)
    assert ids(kept(BACKPACK, token)) == [badges[2].entity_id]
    names(wsgi_get(BACKPACK, token, EXPANDED))
    issuing.badge_class_update(badge_class=badges[2].badge_class, name="Renamed")
    assert names(wsgi_get(BACKPACK, token, EXPANDED)) == ["Renamed"]
    issuer = badges[2].issuer
    issuer.email = "new@example.org"  # moves no catalog version
    issuer.save()
    expanded = wsgi_get(BACKPACK, token, EXPANDED)[2]["result"][0]
    assert expanded["badgeclass"]["issuer"]["email"] == "new@example.org"


def test_verified_addresses_decide_at_once(user, displayer, badges):
    _, token = displayer
    other = AssertionFactory(recipient_plaintext="second@example.org")
    address = EmailAddress.objects.create(user=user, email="second@example.org", verified=False)
    assert other.entity_id not in ids(kept(BACKPACK, token))
    address.verified = True
    address.save()
    assert other.entity_id in ids(kept(BACKPACK, token))
    EmailAddress.objects.filter(user=user, email=user.email).update(verified=False)
    assert ids(kept(BACKPACK, token)) == [other.entity_id]


def test_an_expiring_badge_leaves_a_list_without_expired_ones_when_it_expires(
    displayer, badges, monkeypatch
):
    _, token = displayer
    badges[0].expires = timezone.now() + timedelta(minutes=5)
    badges[0].save()
    assert len(kept(BACKPACK, token, "include_expired=false")[2]["result"]) == 3
    later = timezone.now() + timedelta(minutes=6)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert ids(wsgi_get(BACKPACK, token, "include_expired=false")) == [
        a.entity_id for a in badges[1:]
    ]


def test_a_revoked_token_or_disabled_app_or_inactive_user_is_refused_at_once(user, displayer):
    app, token = displayer
    AssertionFactory(recipient_plaintext=user.email)
    kept(BACKPACK, token)
    connect_services.application_set_enabled(application=app.application, enabled=False)
    assert wsgi_get(BACKPACK, token)[0] == 401
    connect_services.application_set_enabled(application=app.application, enabled=True)
    kept(BACKPACK, token)
    user.is_active = False
    user.save()
    assert wsgi_get(BACKPACK, token)[0] == 403
    user.is_active = True
    user.save()
    kept(BACKPACK, token)
    connect_services.app_access_revoke(user=user, application=app.application)
    assert wsgi_get(BACKPACK, token)[0] == 401


def test_an_expired_token_is_refused(displayer, monkeypatch):
    _, token = displayer
    kept(BACKPACK, token)
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert wsgi_get(BACKPACK, token)[0] == 401


def test_answers_are_per_token(user, displayer, badges):
    _, token = displayer
    someone = UserFactory(email="someone@example.org")
    theirs = AssertionFactory(recipient_plaintext=someone.email)
    other_token = token_for(someone, register_app(scopes="r:profile r:backpack"), "r:backpack")
    kept(BACKPACK, token)
    assert ids(kept(BACKPACK, other_token)) == [theirs.entity_id]
    assert wsgi_get(BACKPACK, "not-a-token")[0] == 401


# --- an issuer's awards ----------------------------------------------------------------------


@pytest.fixture
def issuer_app(user):
    issuer = IssuerFactory(owner=user)
    app = register_app(scopes="r:profile rw:issuer")
    return issuer, token_for(user, app, "rw:issuer")


def issuer_awards(issuer, token, query=""):
    return kept(f"/v2/issuers/{issuer.entity_id}/assertions", token, query)


def test_an_issuer_award_list_is_kept_and_follows_awards_and_revocations(user, issuer_app):
    issuer, token = issuer_app
    badge_class = BadgeClassFactory(issuer=issuer)
    first = AssertionFactory(badge_class=badge_class)
    assert ids(issuer_awards(issuer, token)) == [first.entity_id]
    second = AssertionFactory(badge_class=badge_class)
    assert ids(issuer_awards(issuer, token)) == [second.entity_id, first.entity_id]
    issuing.assertion_revoke(assertion=first, reason="Mistake")
    assert ids(issuer_awards(issuer, token)) == [second.entity_id]  # revoked: left out
    assert issuer_awards(issuer, token, "include_revoked=true")[2]["result"][1]["revoked"] is True
    assert len(issuer_awards(issuer, token, "num=1")[2]["result"]) == 1


def test_an_expiring_award_leaves_the_issuer_award_list_when_it_expires(issuer_app, monkeypatch):
    """Award lists leave expired awards out (as Badgr's did): a kept list holds only until
    the first award on it expires."""
    issuer, token = issuer_app
    badge_class = BadgeClassFactory(issuer=issuer)
    lasting = AssertionFactory(badge_class=badge_class)
    expiring = AssertionFactory(
        badge_class=badge_class, expires=timezone.now() + timedelta(minutes=5)
    )
    assert ids(kept(f"/v2/issuers/{issuer.entity_id}/assertions", token)) == [
        expiring.entity_id,
        lasting.entity_id,
    ]
    later = timezone.now() + timedelta(minutes=6)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert ids(issuer_awards(issuer, token)) == [lasting.entity_id]


def test_losing_the_role_closes_the_kept_list(user, issuer_app):
    issuer, token = issuer_app
    AssertionFactory(badge_class=BadgeClassFactory(issuer=issuer))
    issuer_awards(issuer, token)
    other_owner = UserFactory(email="owner2@example.org")
    IssuerStaff.objects.create(issuer=issuer, user=other_owner, role="owner")
    IssuerStaff.objects.filter(issuer=issuer, user=user).delete()
    assert wsgi_get(f"/v2/issuers/{issuer.entity_id}/assertions", token)[0] == 404


def test_an_unknown_issuer_is_not_kept(issuer_app):
    _, token = issuer_app
    for _ in range(2):
        assert wsgi_get("/v2/issuers/nope/assertions", token)[0] == 404


def test_each_process_keeps_a_bounded_number_of_answers_least_recently_used_first():
    from laurels.api.answer_cache import KeptAnswer, KeptAnswers

    def answer(n: int) -> KeptAnswer:
        return KeptAnswer((n,), None, float("inf"), "200 OK", [], b"%d" % n)

    answers = KeptAnswers(size=2, max_bytes=1000)
    answers.put(("a",), answer(1))
    answers.put(("b",), answer(2))
    assert answers.get(("a",)).body == b"1"  # "a" is now the most recently used
    answers.put(("c",), answer(3))
    assert answers.get(("b",)) is None
    assert [answers.get((k,)).body for k in "ac"] == [b"1", b"3"]
    nothing_kept = KeptAnswers(size=0, max_bytes=1000)
    nothing_kept.put(("a",), answer(1))
    assert nothing_kept.get(("a",)) is None


def test_each_process_keeps_a_bounded_number_of_bytes():
    """However many answers may be kept, their bodies together stay under the bound:
    the least recently used go first, and one larger than the bound is not kept."""
    from laurels.api.answer_cache import KeptAnswer, KeptAnswers

    def answer(size: int) -> KeptAnswer:
        return KeptAnswer((size,), None, float("inf"), "200 OK", [], b"x" * size)

    answers = KeptAnswers(size=100, max_bytes=250)
    for key in "abc":
        answers.put((key,), answer(100))
    assert answers.get(("a",)) is None and answers.bytes == 200
    answers.put(("b",), answer(50))  # the same key again replaces, and counts once
    assert answers.bytes == 150
    answers.put(("d",), answer(251))
    assert answers.get(("d",)) is None and answers.bytes == 150
    answers.clear()
    assert answers.bytes == 0
