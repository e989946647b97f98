"""Kept /v2 list answers are never stale: each sequence a review found to leave one stale.

The lists were once stamped with counts, sums of ids and the latest `updated_at`, read from
the rows. Each test here is a change that moved none of those, and asks for the list
again at once: the kept answer must not be given. Requests go through the WSGI
application `laurels serve` runs (`tests.api.test_answer_cache.wsgi_get`).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from laurels.accounts.models import EmailAddress
from laurels.api.answer_cache import kept_answers
from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion
from tests.api.test_answer_cache import BACKPACK, ids, kept, wsgi_get
from tests.connect.oauth_helpers import register_app, token_for
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory


@pytest.fixture(autouse=True)
def no_kept_answers():
    kept_answers.clear()


def backpack_token(user) -> str:
    return token_for(user, register_app(scopes="r:profile r:backpack"), "r:backpack")


def issuer_token(user) -> str:
    return token_for(user, register_app(scopes="r:profile rw:issuer"), "rw:issuer")


def awards_path(issuer) -> str:
    return f"/v2/issuers/{issuer.entity_id}/assertions"


@pytest.mark.django_db
def test_an_award_deleted_outside_the_services_leaves_both_lists(user):
    """The admin deleted awards with `Model.delete()`, which moved neither the newest id
    nor the latest change of an issuer's awards when the award was not the newest."""
    issuer = IssuerFactory(owner=user)
    badge_class = BadgeClassFactory(issuer=issuer)
    deleted, kept_award = (
        AssertionFactory(badge_class=badge_class, recipient_plaintext=user.email) for _ in range(2)
    )
    earner, owner = backpack_token(user), issuer_token(user)
    assert set(ids(kept(BACKPACK, earner))) == {kept_award.entity_id, deleted.entity_id}
    assert set(ids(kept(awards_path(issuer), owner))) == {kept_award.entity_id, deleted.entity_id}
    deleted.delete()
    assert ids(kept(BACKPACK, earner)) == [kept_award.entity_id]
    assert ids(kept(awards_path(issuer), owner)) == [kept_award.entity_id]


@pytest.mark.django_db
def test_a_deleted_creator_is_no_longer_named(user):
    """Deleting an account blanks `createdBy` with an UPDATE that moves no `updated_at`."""
    issuer = IssuerFactory(owner=user)
    creator = UserFactory()
    AssertionFactory(badge_class=BadgeClassFactory(issuer=issuer), created_by=creator)
    owner = issuer_token(user)
    assert kept(awards_path(issuer), owner)[2]["result"][0]["createdBy"] == creator.entity_id
    creator.delete()
    assert kept(awards_path(issuer), owner)[2]["result"][0]["createdBy"] is None


@pytest.mark.django_db
def test_addresses_swapped_between_accounts_move_their_badges(user):
    """Two addresses with awards of the same count, sum of ids and times (one batch:
    ada, bob, bob, ada) change hands: each backpack must now list the other's awards."""
    bob = UserFactory(email="bob@example.org")
    badge_class = BadgeClassFactory()
    recipients = [user.email, bob.email, bob.email, user.email]
    made = issuing.assertions_award(
        badge_class=badge_class,
        awards=[
            issuing.AwardInput(recipient=issuing.Recipient(r, hashed=False)) for r in recipients
        ],
        actor=None,
    )
    of = {r: {a.entity_id for a in made if a.recipient_plaintext == r} for r in recipients}
    ada_token, bob_token = backpack_token(user), backpack_token(bob)
    assert set(ids(kept(BACKPACK, ada_token))) == of[user.email]
    assert set(ids(kept(BACKPACK, bob_token))) == of[bob.email]
    # As the admin's address inline does it: each claim deleted, then made anew.
    EmailAddress.objects.filter(user__in=[user, bob]).delete()
    EmailAddress.objects.create(user=user, email=bob.email, verified=True, primary=True)
    EmailAddress.objects.create(user=bob, email=user.email, verified=True, primary=True)
    assert set(ids(kept(BACKPACK, ada_token))) == of[bob.email]
    assert set(ids(kept(BACKPACK, bob_token))) == of[user.email]


@pytest.mark.django_db
def test_a_host_django_refuses_gets_no_kept_answer(user):
    """Django answers 400 to a host outside ALLOWED_HOSTS, kept answer or not."""
    AssertionFactory(recipient_plaintext=user.email)
    earner = backpack_token(user)
    kept(BACKPACK, earner)
    status, _, _, _ = wsgi_get(BACKPACK, earner, host="attacker.example")
    assert status == 400


@pytest.mark.django_db
def test_each_host_and_scheme_gets_its_own_links(user, settings):
    """A page's `Link` to the next one is absolute: made for the host and scheme asked."""
    settings.ALLOWED_HOSTS = ["testserver", "badges.example.org"]
    for _ in range(2):
        AssertionFactory(recipient_plaintext=user.email)
    earner = backpack_token(user)
    kept(BACKPACK, earner, "num=1")
    for host, scheme in (("badges.example.org", "http"), ("testserver", "https")):
        for _ in range(2):  # made, then kept
            _, headers, _, _ = wsgi_get(
                BACKPACK, earner, "num=1", host=host, **{"wsgi.url_scheme": scheme}
            )
            assert headers["Link"].startswith(f"<{scheme}://{host}/v2/backpack/assertions?")


@pytest.mark.django_db
def test_a_kept_answer_costs_one_query(user):
    """The hit path reads the token and the list's versions in one query, whatever the
    list (counted on SQLite's own statement trace: the query bypasses Django's cursor)."""
    if connection.vendor != "sqlite":
        pytest.skip("counts statements with SQLite's trace hook")
    issuer = IssuerFactory(owner=user)
    for _ in range(3):
        AssertionFactory(
            badge_class=BadgeClassFactory(issuer=issuer), recipient_plaintext=user.email
        )
    for path, token in (
        (BACKPACK, backpack_token(user)),
        (awards_path(issuer), issuer_token(user)),
    ):
        kept(path, token)
        statements: list[str] = []
        connection.ensure_connection()
        connection.connection.set_trace_callback(statements.append)
        try:
            status, _, _, django_queries = wsgi_get(path, token)
        finally:
            connection.connection.set_trace_callback(None)
        assert (status, django_queries) == (200, 0)
        assert len(statements) == 1, statements


# --- two writers at once (PostgreSQL) ----------------------------------------------------------


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (set TEST_DATABASE_URL=postgres://...): SQLite runs one writer "
            "at a time, so no change can commit after a later one there"
        )


@pytest.mark.django_db(transaction=True)
def test_a_change_that_commits_after_a_later_one_shows(postgresql):
    """Two revocations at once: the one that stamped the older `updated_at` commits last.
    A list kept between the two commits must not be given after the second."""
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    badge_class = BadgeClassFactory(issuer=issuer)
    first, second = (AssertionFactory(badge_class=badge_class) for _ in range(2))
    token = issuer_token(owner)
    kept(awards_path(issuer), token)
    first_written, may_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def revoke(award: Assertion, hold: bool) -> None:
        try:
            with transaction.atomic():
                issuing.assertion_revoke(assertion=Assertion.objects.get(pk=award.pk), reason="x")
                if hold:
                    first_written.set()
                    assert may_commit.wait(30)
        except BaseException as error:  # shown below
            errors.append(error)
        finally:
            connection.close()

    slow = threading.Thread(target=revoke, args=(first, True))
    slow.start()
    assert first_written.wait(30)
    fast = threading.Thread(target=revoke, args=(second, False))
    fast.start()
    fast.join(2)  # it commits now, or waits for the first to commit: either is correct
    every = "include_revoked=true"  # revoked awards are listed only when asked for (Badgr)
    listed = wsgi_get(awards_path(issuer), token, every)[2]["result"]
    may_commit.set()
    slow.join(30)
    fast.join(30)
    assert not errors, errors
    assert listed  # asked between the two commits
    answer = wsgi_get(awards_path(issuer), token, every)[2]["result"]
    assert {a["entityId"]: a["revoked"] for a in answer} == {
        first.entity_id: True,
        second.entity_id: True,
    }
