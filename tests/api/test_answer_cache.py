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
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from laurels.accounts.models import EmailAddress
from laurels.api.answer_cache import kept_answers
from laurels.backpack.services import entry_acceptance_set
from laurels.connect import services as connect_services
from laurels.connect.models import Application
from laurels.connect.oauth import checksum
from laurels.issuing import services as issuing
from laurels.issuing.models import Acceptance, IssuerStaff
from laurels.wsgi import application
from tests.connect.oauth_helpers import register_app, token_for, token_request
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


# --- one kept answer for every token alike: the same user, app and exact scopes ------------


def issuer_list(issuer) -> str:
    return f"/v2/issuers/{issuer.entity_id}/assertions"


def as_django_answers(path: str, token: str, query: str = ""):
    """The answer to `token`, checked to be exactly what Django itself answers it: made by
    Django (it queried), and the same bytes when nothing is kept at all."""
    started = []

    def count(**kwargs):
        started.append(1)

    request_started.connect(count)
    try:
        answer = wsgi_get(path, token, query)
    finally:
        request_started.disconnect(count)
    assert started, "a kept answer was served"
    kept_answers.clear()
    assert wsgi_get(path, token, query)[:3] == answer[:3]
    return answer


@pytest.fixture
def listed_issuer(user):
    """An issuer of `user` with two awards in two badge classes, and an app for its list."""
    issuer = IssuerFactory(owner=user)
    classes = [BadgeClassFactory(issuer=issuer) for _ in range(2)]
    for badge_class in classes:
        AssertionFactory(badge_class=badge_class)
    app = register_app(scopes="r:profile rw:issuer r:badgeclass:* rw:issuer:*")
    return issuer, app, classes


def test_a_new_token_of_the_same_user_app_and_scopes_gets_the_kept_answer(user, listed_issuer):
    issuer, app, _ = listed_issuer
    first = kept(issuer_list(issuer), token_for(user, app, "rw:issuer"), "num=1")
    new_token = token_for(user, app, "rw:issuer")
    again = wsgi_get(issuer_list(issuer), new_token, "num=1")
    assert again[3] == DJANGO_QUERIES_OF_A_KEPT_ANSWER
    assert again[:3] == first[:3]
    kept_answers.clear()
    assert wsgi_get(issuer_list(issuer), new_token, "num=1")[:3] == first[:3]  # Django's own


def test_tokens_with_other_scopes_apps_or_users_get_what_django_answers(user, listed_issuer):
    issuer, app, classes = listed_issuer
    path = issuer_list(issuer)
    everything = kept(path, token_for(user, app, "rw:issuer"))
    assert len(ids(everything)) == 2
    narrower = {
        "r:profile": 403,  # no scope for the list
        "rw:issuer r:profile": 200,  # more scopes: another set, made again
        f"r:badgeclass:{classes[0].entity_id}": 200,  # one badge class's awards only
        f"rw:issuer:{IssuerFactory(owner=user).entity_id}": 404,  # confined to another one
        f"r:issuer:{issuer.entity_id}": 200,  # bound to this issuer
    }
    for scope, status in narrower.items():
        answer = as_django_answers(path, token_for(user, app, scope))
        assert answer[0] == status, scope
        kept(path, token_for(user, app, "rw:issuer"))
    bound = as_django_answers(path, token_for(user, app, f"r:badgeclass:{classes[0].entity_id}"))
    assert len(ids(bound)) == 1
    other_app = register_app(scopes="r:profile rw:issuer", name="Other App")
    kept(path, token_for(user, app, "rw:issuer"))
    assert as_django_answers(path, token_for(user, other_app, "rw:issuer"))[2] == everything[2]
    kept(path, token_for(user, app, "rw:issuer"))
    # Another owner sees the same list, with the same stamp: still not the same holder.
    co_owner = UserFactory(email="co-owner@example.org")
    IssuerStaff.objects.create(issuer=issuer, user=co_owner, role="owner")
    assert as_django_answers(path, token_for(co_owner, app, "rw:issuer"))[2] == everything[2]
    kept(path, token_for(user, app, "rw:issuer"))
    stranger = UserFactory(email="stranger@example.org")
    assert as_django_answers(path, token_for(stranger, app, "rw:issuer"))[0] == 404


def kept_then_refused(path: str, keeper: str, refused: str, status: int) -> None:
    kept(path, keeper)
    assert as_django_answers(path, refused)[0] == status


def test_refused_tokens_never_get_a_kept_answer(user, listed_issuer, monkeypatch):
    issuer, app, _ = listed_issuer
    path = issuer_list(issuer)
    new = [token_for(user, app, "rw:issuer") for _ in range(5)]
    AccessToken = get_access_token_model()
    AccessToken.objects.filter(token_checksum=checksum(new[0])).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    kept_then_refused(path, new[1], new[0], 401)
    AccessToken.objects.filter(token_checksum=checksum(new[2])).delete()  # revoked
    kept_then_refused(path, new[1], new[2], 401)
    AccessToken.objects.filter(token_checksum=checksum(new[3])).update(
        resource=["https://elsewhere.example.org/"]
    )
    kept_then_refused(path, new[1], new[3], 401)
    kept(path, new[1])
    Application.objects.filter(pk=app.application.pk).update(enabled=False)
    assert as_django_answers(path, new[4])[0] == 401
    Application.objects.filter(pk=app.application.pk).update(enabled=True)
    kept(path, new[1])
    Application.objects.filter(pk=app.application.pk).update(review="pending")
    assert as_django_answers(path, new[4])[0] == 401
    Application.objects.filter(pk=app.application.pk).update(review="approved")
    kept(path, new[1])
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert as_django_answers(path, new[4])[0] == 404  # an inactive user is no member


def test_owner_tokens_end_with_the_switch_and_their_answers_too(user, listed_issuer):
    issuer, _, _ = listed_issuer
    app = register_app(scopes="r:profile rw:issuer", redirect_uris=[], name="Sync job")
    connect_services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=True, owner=user, actor=None
    )
    path = issuer_list(issuer)

    def owner_token() -> str:
        answer = token_request(Client(), app, grant_type="client_credentials", scope="rw:issuer")
        assert answer.status_code == 200, answer.content
        return answer.json()["access_token"]

    keeper, later = owner_token(), owner_token()
    # The race the services' ending cannot see: a token saved as the switch was cleared.
    kept(path, keeper)
    Application.objects.filter(pk=app.application.pk).update(acts_as_owner=False)
    assert as_django_answers(path, later)[0] == 401
    assert as_django_answers(path, keeper)[0] == 401
    Application.objects.filter(pk=app.application.pk).update(acts_as_owner=True)
    kept(path, keeper)
    connect_services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=user, actor=None
    )
    assert as_django_answers(path, later)[0] == 401


def test_an_answer_is_kept_only_for_whom_the_view_made_it(user, listed_issuer, monkeypatch):
    """Were the token's scopes to change while Django answers, the answer is not kept
    under the scopes read before (another token with those would get it)."""
    from laurels.api import answer_cache

    issuer, app, _ = listed_issuer
    token = token_for(user, app, "rw:issuer")
    monkeypatch.setattr(answer_cache, "made_for", lambda caller: (caller.user.pk, "", ()))
    for _ in range(2):
        assert wsgi_get(issuer_list(issuer), token)[3] > DJANGO_QUERIES_OF_A_KEPT_ANSWER
