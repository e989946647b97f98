"""Collections pages (web/collection_views.py) and the public collection page's share
buttons, with the test client on the real database: permissions, every action, hostile
input, and the queries a page costs."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from laurels.backpack import services
from laurels.backpack.models import Collection
from tests.factories import AssertionFactory, BadgeClassFactory, UserFactory
from tests.web.test_backpack_pages import award, imported, page

pytestmark = pytest.mark.django_db


def collection_of(user, name="Sailing", badges=(), **fields) -> Collection:
    return services.collection_save(
        user=user, name=name, assertions=[b.entity_id for b in badges], **fields
    )


def in_order(collection: Collection) -> list[str]:
    collection.refresh_from_db()
    return [(e.assertion or e.imported).entity_id for e in collection.entries.all()]


def detail(collection: Collection) -> str:
    return f"/backpack/collections/{collection.entity_id}/"


# Signed out, other people, methods, CSRF


@pytest.mark.parametrize(
    "path",
    ["/backpack/collections/", "/backpack/collections/x/", "/backpack/collections/x/delete/"],
)
def test_anonymous_people_are_sent_to_log_in(client, path):
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login")


def test_another_persons_collection_is_not_found(client_logged_in):
    bob = UserFactory(email="bob@example.org")
    theirs = collection_of(bob, "Bob's")
    for entity_id in (theirs.entity_id, "no-such-collection", "x" * 10_000):
        base = f"/backpack/collections/{entity_id}/"
        assert client_logged_in.get(base).status_code == 404
        assert client_logged_in.post(base, {"action": "publish"}).status_code == 404
        assert client_logged_in.get(base + "delete/").status_code == 404
        assert client_logged_in.post(base + "delete/").status_code == 404
    theirs.refresh_from_db()
    assert not theirs.published


def test_writes_need_the_csrf_token(csrf_client_logged_in, user):
    mine = collection_of(user)
    assert csrf_client_logged_in.post("/backpack/collections/", {"name": "X"}).status_code == 403
    assert csrf_client_logged_in.post(detail(mine), {"action": "publish"}).status_code == 403
    assert csrf_client_logged_in.post(detail(mine) + "delete/").status_code == 403
    badge = award()
    collect = f"/backpack/badges/{badge.entity_id}/collections"
    assert csrf_client_logged_in.post(collect, {"collection": mine.entity_id}).status_code == 403
    mine.refresh_from_db()
    assert Collection.objects.count() == 1 and not mine.published and not in_order(mine)


def test_pages_answer_only_their_methods(client_logged_in, user):
    mine = collection_of(user)
    assert client_logged_in.put("/backpack/collections/").status_code == 405
    assert client_logged_in.delete(detail(mine)).status_code == 405
    assert (
        client_logged_in.get(f"/backpack/badges/{award().entity_id}/collections").status_code == 405
    )


# The list and making one


def test_the_empty_list_explains_collections(client_logged_in):
    html = page(client_logged_in.get("/backpack/collections/"))
    assert "You have no collections yet" in html
    assert 'aria-current="page">Collections</a>' in html
    assert '<label for="id_name">' in html and '<label for="id_description">' in html


def test_making_a_collection_opens_it(client_logged_in, user):
    response = client_logged_in.post(
        "/backpack/collections/", {"name": "  Sailing  ", "description": "Summer 2026"}
    )
    made = Collection.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == detail(made)
    assert (made.name, made.description, made.published) == ("Sailing", "Summer 2026", False)
    html = page(client_logged_in.get("/backpack/collections/"))
    assert "Sailing" in html and "0 badges" in html and "Private" in html


def test_the_list_shows_counts_and_public_links(client_logged_in, user):
    collection_of(user, "Private one", [award()])
    shared = collection_of(user, "Shared one", [award(), award()], published=True)
    html = page(client_logged_in.get("/backpack/collections/"))
    assert "1 badge<" in html and "2 badges" in html
    assert f'href="http://127.0.0.1:8000/share/collections/{shared.share_hash}"' in html


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 10_000},
        {"name": "ok", "description": "d" * 2001},
    ],
)
def test_a_bad_name_or_description_is_a_400_tied_to_the_field(client_logged_in, data):
    response = client_logged_in.post("/backpack/collections/", data)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Collection.objects.exists()


def page_queries(client, path: str) -> list[str]:
    """The SQL a page runs beyond signing the person in (session, user, second factor),
    which every signed-in page pays and which is not the page's to pin."""
    with CaptureQueriesContext(connection) as captured:
        page(client.get(path))
    sign_in = re.compile(r'FROM "(django_session|accounts_user|otp_\w+)"')
    return [q["sql"] for q in captured.captured_queries if not sign_in.search(q["sql"])]


def test_the_list_costs_the_same_queries_for_few_or_many(client_logged_in, user):
    collection_of(user, "One", [award(), imported(user, name="Far")])
    few = page_queries(client_logged_in, "/backpack/collections/")
    for n in range(15):
        collection_of(user, f"More {n}", [award(), imported(user, name=f"Far {n}")])
    many = page_queries(client_logged_in, "/backpack/collections/")
    # the collections, their entries, those entries' awards and imports
    assert len(few) == len(many) == 4, many


# One collection


def test_the_detail_page_lists_badges_in_order_with_their_buttons(client_logged_in, user):
    first = award(badge_class=BadgeClassFactory(name="Knot Tying"))
    second = imported(user, name="Far Rowing")
    mine = collection_of(user, badges=[first, second])
    html = page(client_logged_in.get(detail(mine)))
    assert html.index("Knot Tying") < html.index("Far Rowing")
    first_item = html.split("Knot Tying", 1)[1].split("</li>", 1)[0]
    assert 'value="up"' not in first_item and 'value="down"' in first_item
    assert 'value="remove"' in first_item
    last_item = html.split("Far Rowing", 1)[1].split("</li>", 1)[0]
    assert 'value="up"' in last_item and 'value="down"' not in last_item
    assert 'name="action" value="publish"' in html
    assert f'href="/backpack/collections/{mine.entity_id}/delete/"' in html


def test_rename_and_describe(client_logged_in, user):
    mine = collection_of(user)
    response = client_logged_in.post(
        detail(mine), {"action": "details", "name": "Rowing", "description": "<b>oars</b>"}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.name, mine.description) == ("Rowing", "<b>oars</b>")
    assert "&lt;b&gt;oars&lt;/b&gt;" in page(client_logged_in.get(detail(mine)))


def test_a_10_kb_rename_is_a_400_and_changes_nothing(client_logged_in, user):
    mine = collection_of(user)
    response = client_logged_in.post(detail(mine), {"action": "details", "name": "x" * 10_240})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    mine.refresh_from_db()
    assert mine.name == "Sailing"


def test_add_lists_only_badges_not_in_it_and_adds_the_ticked_ones(client_logged_in, user):
    inside = award(badge_class=BadgeClassFactory(name="Inside"))
    one, two = award(badge_class=BadgeClassFactory(name="One")), imported(user, name="Two")
    award(badge_class=BadgeClassFactory(name="Left"))
    mine = collection_of(user, badges=[inside])
    html = page(client_logged_in.get(detail(mine)))
    boxes = set(re.findall(r'name="badges" value="([^"]+)"', html))
    assert inside.entity_id not in boxes and {one.entity_id, two.entity_id} <= boxes
    assert f'<label for="add-{one.entity_id}">' in html
    response = client_logged_in.post(
        detail(mine), {"action": "add", "badges": [two.entity_id, one.entity_id, two.entity_id]}
    )
    assert response.status_code == 302
    assert in_order(mine) == [inside.entity_id, two.entity_id, one.entity_id]


def test_add_searches_the_backpack(client_logged_in, user):
    award(badge_class=BadgeClassFactory(name="Knot Tying"))
    award(badge_class=BadgeClassFactory(name="Rowing"))
    html = page(client_logged_in.get(detail(collection_of(user)) + "?q=knot"))
    assert "Knot Tying" in html and "Rowing" not in html


def test_add_pages_through_a_big_backpack(client_logged_in, user):
    badge_class = BadgeClassFactory()
    for _ in range(30):
        award(badge_class=badge_class)
    mine = collection_of(user)
    first = page(client_logged_in.get(detail(mine)))
    assert first.count('name="badges"') == 24 and 'rel="next"' in first
    second = page(client_logged_in.get(detail(mine) + "?page=2"))
    assert second.count('name="badges"') == 6 and 'rel="prev"' in second


@pytest.mark.parametrize("query", ["page=0", "page=abc", "status=bogus", "q=" + "a" * 101])
def test_a_bad_add_query_is_a_400(client_logged_in, user, query):
    assert client_logged_in.get(detail(collection_of(user)) + "?" + query).status_code == 400


def test_adding_someone_elses_or_unknown_badges_is_a_400(client_logged_in, user):
    mine = collection_of(user)
    theirs = AssertionFactory(recipient_plaintext="bob@example.org")
    bob = UserFactory(email="bob@example.org")
    for badges in ([theirs.entity_id], [imported(bob).entity_id], ["nope"], ["x" * 10_000]):
        response = client_logged_in.post(detail(mine), {"action": "add", "badges": badges})
        assert response.status_code == 400, badges
    too_many = [f"id{n}" for n in range(201)]
    assert (
        client_logged_in.post(detail(mine), {"action": "add", "badges": too_many}).status_code
        == 400
    )
    assert in_order(mine) == []


def test_adding_nothing_says_what_to_do(client_logged_in, user):
    mine = collection_of(user)
    response = client_logged_in.post(detail(mine), {"action": "add"}, follow=True)
    assert "Tick the badges to add first." in page(response)


def test_move_up_down_and_remove(client_logged_in, user):
    a, b, c = award(), award(), imported(user)
    mine = collection_of(user, badges=[a, b, c])
    client_logged_in.post(detail(mine), {"action": "up", "badge": c.entity_id})
    assert in_order(mine) == [a.entity_id, c.entity_id, b.entity_id]
    client_logged_in.post(detail(mine), {"action": "down", "badge": a.entity_id})
    assert in_order(mine) == [c.entity_id, a.entity_id, b.entity_id]
    response = client_logged_in.post(detail(mine), {"action": "remove", "badge": a.entity_id})
    assert response.status_code == 302
    assert in_order(mine) == [c.entity_id, b.entity_id]
    a.refresh_from_db()
    assert a.acceptance == "Unaccepted"  # removed from the collection, not the backpack


def test_moving_past_either_end_or_an_absent_badge_is_a_400(client_logged_in, user):
    a, b = award(), award()
    mine = collection_of(user, badges=[a, b])
    for data in (
        {"action": "up", "badge": a.entity_id},
        {"action": "down", "badge": b.entity_id},
        {"action": "up", "badge": "not-in-it"},
        {"action": "down"},
        {"action": "remove", "badge": "x" * 10_000},
        {"action": "shuffle"},
        {},
    ):
        assert client_logged_in.post(detail(mine), data).status_code == 400, data
    assert in_order(mine) == [a.entity_id, b.entity_id]


def test_publish_shows_the_link_and_unpublish_ends_it(client_logged_in, user, client):
    mine = collection_of(user, badges=[award()])
    client_logged_in.post(detail(mine), {"action": "publish"})
    mine.refresh_from_db()
    link = f"/share/collections/{mine.share_hash}"
    html = page(client_logged_in.get(detail(mine)))
    assert f'id="share-url" type="url" readonly value="http://127.0.0.1:8000{link}"' in html
    assert 'data-copy="share-url"' in html and "web/share.js" in html
    assert client.get(link).status_code == 200
    client_logged_in.post(detail(mine), {"action": "unpublish"})
    assert client.get(link).status_code == 404
    assert client.get(f"/public/collections/{mine.share_hash}").status_code == 404


def test_delete_asks_first_then_deletes(client_logged_in, user):
    badge = award()
    mine = collection_of(user, badges=[badge])
    html = page(client_logged_in.get(detail(mine) + "delete/"))
    assert "Delete “Sailing”?" in html and "Keep it" in html
    assert Collection.objects.filter(pk=mine.pk).exists()
    response = client_logged_in.post(detail(mine) + "delete/")
    assert response.status_code == 302 and response["Location"] == "/backpack/collections/"
    assert not Collection.objects.filter(pk=mine.pk).exists()
    assert page(client_logged_in.get(f"/backpack/badges/{badge.entity_id}/"))


def test_the_detail_page_costs_the_same_queries_for_few_or_many(client_logged_in, user):
    mine = collection_of(user, badges=[award(), imported(user, name="Far 0")])
    award(), imported(user, name="Spare 0")
    few = page_queries(client_logged_in, detail(mine))
    more = [award(badge_class=BadgeClassFactory()) for _ in range(20)]
    more += [imported(user, name=f"Far {n}") for n in range(1, 20)]
    services.collection_save(
        user=user, collection=mine, assertions=in_order(mine) + [b.entity_id for b in more]
    )
    for n in range(1, 40):
        award(badge_class=BadgeClassFactory(name=f"Spare {n}"))
        imported(user, name=f"Spare {n}")
    many = page_queries(client_logged_in, detail(mine))
    # the collection, its entries, their awards, imports, badge classes and issuers; the
    # add list: verified addresses, the page's keys, its awards, its imports
    assert len(few) == len(many) == 10, many


def badges_of(user, n: int) -> list:
    """`n` badges of the person's backpack: awards, each of its own badge class and
    issuer, and imports in turn."""
    return [
        award(badge_class=BadgeClassFactory()) if k % 2 == 0 else imported(user, name=f"Far {k}")
        for k in range(n)
    ]


@pytest.mark.parametrize("n", [2, 20])
def test_a_move_costs_the_same_for_few_or_many(
    client_logged_in, user, n, django_assert_num_queries
):
    badges = badges_of(user, n)
    mine = collection_of(user, badges=badges)
    first = badges[0].entity_id
    client_logged_in.get(detail(mine))  # the session's first read is not the move's
    # session, user; the collection; lock and reload it, read its list, delete and write
    # it, touch it; the session's messages; the savepoint and its release
    with django_assert_num_queries(10):
        response = client_logged_in.post(detail(mine), {"action": "down", "badge": first})
    assert response.status_code == 302
    assert in_order(mine)[:2] == [badges[1].entity_id, first]


# The badge page's "Add to collection"


def test_a_badge_page_adds_the_badge_to_a_collection(client_logged_in, user):
    badge = award()
    mine = collection_of(user, "Sailing")
    html = page(client_logged_in.get(f"/backpack/badges/{badge.entity_id}/"))
    assert '<label for="collect-choice">Add to collection</label>' in html
    assert f'<option value="{mine.entity_id}">Sailing</option>' in html
    collect = f"/backpack/badges/{badge.entity_id}/collections"
    response = client_logged_in.post(collect, {"collection": mine.entity_id}, follow=True)
    assert "Added to “Sailing”." in page(response)
    assert in_order(mine) == [badge.entity_id]
    again = client_logged_in.post(collect, {"collection": mine.entity_id}, follow=True)
    assert "already in" in page(again)
    assert in_order(mine) == [badge.entity_id]


def test_a_badge_page_without_collections_says_how_to_make_one(client_logged_in):
    html = page(client_logged_in.get(f"/backpack/badges/{award().entity_id}/"))
    assert "Make a collection" in html and "collect-choice" not in html


def test_adding_to_someone_elses_collection_or_their_badge_is_a_404(client_logged_in, user):
    bob = UserFactory(email="bob@example.org")
    theirs = collection_of(bob, "Bob's")
    mine = collection_of(user)
    badge = award()
    their_badge = imported(bob)
    cases = [
        (badge.entity_id, theirs.entity_id),
        (badge.entity_id, "x" * 10_000),
        (badge.entity_id, ""),
        (their_badge.entity_id, mine.entity_id),
    ]
    for entity_id, collection in cases:
        response = client_logged_in.post(
            f"/backpack/badges/{entity_id}/collections", {"collection": collection}
        )
        assert response.status_code == 404
    assert in_order(theirs) == [] and in_order(mine) == []


# The public page's share buttons


def test_the_public_page_has_share_buttons_open_graph_and_oembed_discovery(client, user):
    badge = award(badge_class=BadgeClassFactory(name="Knot Tying"))
    shared = collection_of(user, "Sea & Sky", [badge], published=True, description="Summer")
    html = page(client.get(f"/share/collections/{shared.share_hash}", HTTP_ACCEPT="text/html"))
    url = f"http://127.0.0.1:8000/share/collections/{shared.share_hash}"
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:title" content="Sea &amp; Sky">' in html
    assert '<meta property="og:description" content="Summer">' in html
    assert '<meta property="og:image" content="http://127.0.0.1:8000/public/assertions/' in html
    assert 'type="application/json+oembed"' in html
    assert "/oembed?url=http%3A%2F%2F127.0.0.1%3A8000%2Fshare%2Fcollections%2F" in html
    assert "https://www.linkedin.com/shareArticle?" in html
    assert "https://twitter.com/intent/tweet?" in html
    assert "https://www.facebook.com/sharer/sharer.php?u=http%3A%2F%2F127.0.0.1" in html
    assert "mailto:?subject=Sea%20%26%20Sky&amp;body=http%3A%2F%2F127.0.0.1" in html
    assert f'id="share-url" type="url" readonly value="{url}"' in html
    assert "<script>" not in html and "style=" not in html
    assert "ada@example.org" not in html  # recipients are never shown
    # Badgr's address shows the same page.
    badgr = client.get(f"/public/collections/{shared.share_hash}", HTTP_ACCEPT="text/html")
    assert url in page(badgr)


@pytest.mark.parametrize("n", [2, 12])
def test_the_public_page_costs_two_queries_for_few_or_many(
    client, user, n, django_assert_num_queries
):
    shared = collection_of(user, badges=badges_of(user, n), published=True)
    path = f"/share/collections/{shared.share_hash}"
    for accept in ("text/html", "application/json"):
        # the collection with its owner; its entries with their awards' badge classes,
        # issuers and imports
        with django_assert_num_queries(2):
            response = client.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 200
    assert len(response.json()["badges"]) == n
