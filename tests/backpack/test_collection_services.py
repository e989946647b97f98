"""Collections' services (backpack/services.py): badges looked up in a few queries
however many, changes made to the list as it is now (under a lock on the collection), and
on PostgreSQL, additions from many tabs at once all kept."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from laurels.backpack import selectors, services
from laurels.backpack.models import Collection
from laurels.core.errors import NotFound
from tests.factories import AssertionFactory, BadgeClassFactory, UserFactory
from tests.web.test_backpack_pages import award, imported


def badges_of(user, n: int) -> list[str]:
    """`n` badges of the user's backpack, awards (each its own badge class and issuer)
    and imports in turn."""
    return [
        award(badge_class=BadgeClassFactory()).entity_id
        if k % 2 == 0
        else imported(user, name=f"Far {k}").entity_id
        for k in range(n)
    ]


def in_order(collection: Collection) -> list[str]:
    return [
        (e.assertion or e.imported).entity_id
        for e in Collection.objects.get(pk=collection.pk).entries.all()
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 20])
def test_backpack_entries_keeps_order_in_three_queries(user, n, django_assert_num_queries):
    ids = badges_of(user, n)
    wanted = [*reversed(ids), ids[0]]
    with django_assert_num_queries(3):  # the imports, the verified addresses, the awards
        found = selectors.backpack_entries(user=user, entity_ids=wanted)
    assert [b.entity_id for b in found] == list(reversed(ids))
    assert selectors.backpack_entries(user=user, entity_ids=[]) == []


@pytest.mark.django_db
def test_backpack_entries_refuses_what_is_not_in_the_backpack(user):
    mine = badges_of(user, 2)
    bob = UserFactory(email="bob@example.org")
    theirs = [imported(bob).entity_id, AssertionFactory(recipient_plaintext="bob@x.org").entity_id]
    for stranger in [*theirs, "nope", "x" * 10_000]:
        with pytest.raises(NotFound):
            selectors.backpack_entries(user=user, entity_ids=[*mine, stranger])


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 20])
def test_a_move_costs_the_same_for_few_or_many(user, n, django_assert_num_queries):
    ids = badges_of(user, n)
    mine = services.collection_save(user=user, name="Sailing", assertions=ids)
    stale = Collection.objects.get(pk=mine.pk)
    # lock and reload, read the list, delete it, write it back, touch the collection;
    # and the savepoint the test's transaction puts around the service's, and its release
    with django_assert_num_queries(7):
        services.collection_move(collection=stale, entity_id=ids[0], step=+1)
    assert in_order(mine) == [ids[1], ids[0], *ids[2:]]


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 20])
def test_saving_the_whole_list_costs_the_same_for_few_or_many(user, n, django_assert_num_queries):
    ids = badges_of(user, n)
    mine = services.collection_save(user=user, name="Sailing", assertions=ids)
    # lock and reload, look the badges up (3), save, delete the list, write it; and the
    # savepoint around the service's transaction, and its release
    with django_assert_num_queries(9):
        services.collection_save(user=user, collection=mine, assertions=ids[::-1])
    assert in_order(mine) == ids[::-1]


@pytest.mark.django_db
def test_two_tabs_adding_both_count(user):
    first, second = badges_of(user, 2)
    mine = services.collection_save(user=user, name="Sailing", assertions=[])
    tab_a = selectors.collection_for(user=user, entity_id=mine.entity_id)
    tab_b = selectors.collection_for(user=user, entity_id=mine.entity_id)
    assert list(tab_a.entries.all()) == list(tab_b.entries.all()) == []  # both read it empty
    assert services.collection_add(user=user, collection=tab_a, entity_ids=[first]) == [first]
    assert services.collection_add(user=user, collection=tab_b, entity_ids=[second]) == [second]
    assert in_order(mine) == [first, second]
    # a badge already in it stays where it is, and adding it again adds nothing
    assert services.collection_add(user=user, collection=tab_a, entity_ids=[first]) == []
    assert in_order(mine) == [first, second]


@pytest.mark.django_db
def test_remove_and_move_refuse_what_they_cannot_do(user):
    a, b = badges_of(user, 2)
    mine = services.collection_save(user=user, name="Sailing", assertions=[a, b])
    with pytest.raises(NotFound):
        services.collection_remove(collection=mine, entity_id="not-in-it")
    with pytest.raises(NotFound):
        services.collection_move(collection=mine, entity_id="not-in-it", step=-1)
    with pytest.raises(ValidationError):
        services.collection_move(collection=mine, entity_id=a, step=-1)
    with pytest.raises(ValidationError):
        services.collection_move(collection=mine, entity_id=b, step=+1)
    with pytest.raises(NotFound):
        services.collection_add(user=user, collection=mine, entity_ids=["nope"])
    assert in_order(mine) == [a, b]
    services.collection_remove(collection=mine, entity_id=a)
    assert in_order(mine) == [b]


@pytest.mark.django_db
def test_a_collection_deleted_meanwhile_is_not_found(user):
    (a,) = badges_of(user, 1)
    mine = services.collection_save(user=user, name="Sailing", assertions=[a])
    stale = Collection.objects.get(pk=mine.pk)
    services.collection_delete(collection=mine)
    with pytest.raises(NotFound):
        services.collection_add(user=user, collection=stale, entity_ids=[a])
    with pytest.raises(NotFound):
        services.collection_save(user=user, collection=stale, name="Renamed")


@pytest.mark.django_db
def test_a_list_longer_than_a_collection_holds_is_refused(user, monkeypatch):
    ids = badges_of(user, 3)
    monkeypatch.setattr(services, "MAX_COLLECTION_BADGES", 2)
    with pytest.raises(ValidationError) as refused:
        services.collection_save(user=user, name="Sailing", assertions=ids)
    assert "assertions" in refused.value.message_dict
    mine = services.collection_save(user=user, name="Sailing", assertions=ids[:2])
    with pytest.raises(ValidationError):
        services.collection_add(user=user, collection=mine, entity_ids=ids[2:])
    assert in_order(mine) == ids[:2]


PARALLEL = 8


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_from_many_tabs_all_stay():
    """Each thread is its own signed-in browser tab with its own database connection,
    released together, each adding a different badge: none is lost."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite runs one writer at a time")
    user = UserFactory(email="ada@example.org")
    ids = badges_of(user, PARALLEL)
    mine = services.collection_save(user=user, name="Sailing", assertions=[])
    path = f"/backpack/collections/{mine.entity_id}/"
    start = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def add(entity_id: str) -> None:
        client = Client()
        client.force_login(user)
        try:
            start.wait()
            statuses.append(client.post(path, {"action": "add", "badges": [entity_id]}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(entity_id,)) for entity_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * PARALLEL
    assert sorted(in_order(mine)) == sorted(ids)
