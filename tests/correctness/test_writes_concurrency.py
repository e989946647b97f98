"""Parallel awards on PostgreSQL: `allowDuplicateAwards: false` holds under concurrency.

Each thread is its own client with its own database connection, so the awards are real
concurrent transactions. Without a lock, every one of them can check "no live award yet"
before any commits, and all insert.
"""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from laurels.issuing.models import Assertion
from tests.factories import BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 12
ROUNDS = 4


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (set TEST_DATABASE_URL=postgres://...): SQLite runs one writer "
            "at a time, so awards cannot race there"
        )


def award_at_once(path: str, owner, body: dict) -> list[int]:
    """POST `body` to `path` from PARALLEL clients released together; their statuses."""
    clients = []
    for _ in range(PARALLEL):
        client = Client()
        client.force_login(owner)
        clients.append(client)
    start = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def award(client: Client) -> None:
        try:
            start.wait()
            response = client.post(path, json.dumps(body), content_type="application/json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=award, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_parallel_awards_to_one_recipient_make_exactly_one(postgresql):
    owner = UserFactory()
    badge_class = BadgeClassFactory(issuer=IssuerFactory(owner=owner))
    path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
    for round_ in range(ROUNDS):
        identity = f"earner{round_}@example.org"
        body = {
            "recipient": {"identity": identity, "type": "email"},
            "allowDuplicateAwards": False,
        }
        statuses = award_at_once(path, owner, body)
        held = Assertion.objects.filter(badge_class=badge_class, recipient_plaintext=identity)
        assert held.count() == 1, f"round {round_}: {held.count()} awards, statuses {statuses}"
        assert sorted(statuses) == [201] + [409] * (PARALLEL - 1)
