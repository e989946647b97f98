"""oEmbed (web/oembed.py): the JSON answer for a published collection and a public award,
the embed pages it frames (the only frameable pages), discovery links, and every way a
request can be wrong."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from laurels.backpack import services
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory
from tests.web.test_backpack_pages import award, imported

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1:8000"
HTML = {"HTTP_ACCEPT": "text/html"}


def oembed(client, url: str, **params):
    query = "&".join(f"{k}={v}" for k, v in {"url": quote(url, safe=""), **params}.items())
    return client.get(f"/oembed?{query}")


@pytest.fixture
def shared(user):
    badges = [award(badge_class=BadgeClassFactory(name="Knot Tying")).entity_id]
    badges.append(imported(user, name="Far Rowing").entity_id)
    return services.collection_save(user=user, name="Sea & Sky", assertions=badges, published=True)


def policy(response) -> dict[str, list[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {d[0]: d[1:] for d in directives if d}


@pytest.mark.parametrize("path", ["/share/collections/{}", "/public/collections/{}"])
def test_a_published_collection(client, shared, path):
    response = oembed(client, BASE + path.format(shared.share_hash), format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    answer = response.json()
    assert answer["version"] == "1.0" and answer["type"] == "rich"
    assert answer["title"] == "Sea & Sky" and answer["author_name"] == "Ada Lovelace"
    assert answer["provider_name"] == "Laurels" and answer["provider_url"] == BASE + "/"
    assert (answer["width"], answer["height"]) == (480, 420)
    embed = f"{BASE}/public/collections/{shared.share_hash}/embed"
    assert answer["html"].startswith(f'<iframe src="{embed}" width="480" height="420"')
    assert 'title="Sea &amp; Sky"' in answer["html"]
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in answer["html"]


def test_max_width_and_height_make_it_smaller_never_larger(client, shared):
    url = f"{BASE}/share/collections/{shared.share_hash}"
    answer = oembed(client, url, maxwidth=300, maxheight=9000).json()
    assert (answer["width"], answer["height"]) == (300, 420)
    assert 'width="300" height="420"' in answer["html"]


def test_a_public_award(client):
    badge = AssertionFactory(
        badge_class=BadgeClassFactory(name="Knot Tying", issuer=IssuerFactory(name="Harbour"))
    )
    answer = oembed(client, f"{BASE}/public/assertions/{badge.entity_id}").json()
    assert answer["type"] == "rich" and answer["title"] == "Knot Tying · Harbour"
    assert f'src="{BASE}/public/assertions/{badge.entity_id}/embed"' in answer["html"]
    assert (answer["width"], answer["height"]) == (480, 260)


def test_an_award_under_the_origin_it_was_hosted_at(client):
    badge = AssertionFactory(hosted_origin="https://api.badgr.io")
    url = f"https://api.badgr.io/public/assertions/{badge.entity_id}"
    answer = oembed(client, url).json()
    assert f'src="{url}/embed"' in answer["html"]
    other = oembed(client, f"https://elsewhere.example/public/assertions/{badge.entity_id}")
    assert other.status_code == 404


def test_a_revoked_award_is_embedded_saying_so(client):
    badge = AssertionFactory(revoked_for=True)
    assert oembed(client, f"{BASE}/public/assertions/{badge.entity_id}").status_code == 200
    html = client.get(f"/public/assertions/{badge.entity_id}/embed").content.decode()
    assert "Revoked: Issued in error" in html


def test_unpublished_unknown_and_foreign_urls_are_404(client, user, shared):
    private = services.collection_save(user=user, name="Private", assertions=[])
    unpublished_hash = shared.share_hash
    services.collection_save(user=user, collection=shared, published=False)
    for url in (
        f"{BASE}/share/collections/{unpublished_hash}",
        f"{BASE}/share/collections/{private.entity_id}",
        f"{BASE}/backpack/collections/{private.entity_id}/",
        f"{BASE}/public/assertions/no-such-award",
        f"https://evil.example/share/collections/{unpublished_hash}",
        "https://evil.example/public/assertions/x",
        "javascript:alert(1)//127.0.0.1:8000/public/assertions/x",
        "ftp://127.0.0.1:8000/public/assertions/x",
        "http://127.0.0.1:99999/public/assertions/x",
        "http://[::1/public/assertions/x",
        f"{BASE}/public/assertions/" + "x" * 10_000,
        "not a url",
        f"{BASE}/",
    ):
        assert oembed(client, url).status_code == 404, url


def test_a_published_collection_stops_at_once_when_unpublished(client, user, shared):
    url = f"{BASE}/share/collections/{shared.share_hash}"
    assert oembed(client, url).status_code == 200
    assert client.get(f"/public/collections/{shared.share_hash}/embed").status_code == 200
    services.collection_save(user=user, collection=shared, published=False)
    assert oembed(client, url).status_code == 404
    assert client.get(f"/public/collections/{shared.share_hash}/embed").status_code == 404


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"format": "xml"}, 501),
        ({"format": "yaml"}, 501),
        ({"maxwidth": "abc"}, 400),
        ({"maxwidth": "0"}, 400),
        ({"maxwidth": "-5"}, 400),
        ({"maxheight": "9" * 40}, 400),
        ({"maxwidth": "\uff11\uff12"}, 400),  # full-width digits
    ],
)
def test_bad_requests(client, shared, params, status):
    url = f"{BASE}/share/collections/{shared.share_hash}"
    response = oembed(client, url, **params)
    assert response.status_code == status
    assert "error" in response.json()


def test_a_missing_url_is_a_400(client):
    assert client.get("/oembed").status_code == 400
    assert client.get("/oembed?format=json&url=").status_code == 400
    assert client.post("/oembed").status_code == 405


# The embed pages


def test_only_the_embed_pages_may_be_framed(client, shared):
    badge = AssertionFactory()
    for path in (
        f"/public/collections/{shared.share_hash}/embed",
        f"/public/assertions/{badge.entity_id}/embed",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "X-Frame-Options" not in response
        assert policy(response)["frame-ancestors"] == ["https:", "http:"]
        assert "'unsafe-inline'" not in policy(response).get("script-src", [])
        html = response.content.decode()
        assert '<nav aria-label="Main">' not in html and "<script" not in html
    for path in (
        f"/share/collections/{shared.share_hash}",
        f"/public/assertions/{badge.entity_id}",
        "/accounts/login/",
    ):
        response = client.get(path, **HTML)
        assert response["X-Frame-Options"] == "DENY", path
        assert policy(response)["frame-ancestors"] == ["'none'"], path


def test_the_collection_embed_shows_its_badges_without_recipients(client, shared):
    html = client.get(f"/public/collections/{shared.share_hash}/embed").content.decode()
    assert "Sea &amp; Sky" in html and "Knot Tying" in html and "Far Rowing" in html
    assert "ada@example.org" not in html
    assert 'target="_blank" rel="noopener noreferrer"' in html


def test_unknown_embeds_are_404(client):
    assert client.get("/public/collections/nope/embed").status_code == 404
    assert client.get("/public/assertions/nope/embed").status_code == 404
    assert client.post("/public/assertions/nope/embed").status_code == 405


def test_the_public_award_page_has_a_discovery_link(client):
    badge = AssertionFactory()
    html = client.get(f"/public/assertions/{badge.entity_id}", **HTML).content.decode()
    url = quote(f"{BASE}/public/assertions/{badge.entity_id}", safe="")
    assert (
        '<link rel="alternate" type="application/json+oembed" '
        f'href="{BASE}/oembed?url={url}&amp;format=json"'
    ) in html


def test_badgr_address_answers_the_same(client, shared):
    """Badgr served oEmbed at /public/oembed; a Badgr-era integration keeps working."""
    url = quote(f"{BASE}/share/collections/{shared.share_hash}", safe="")
    badgr = client.get(f"/public/oembed?url={url}")
    assert badgr.status_code == 200
    assert badgr.json() == client.get(f"/oembed?url={url}").json()


@pytest.mark.parametrize("n", [2, 12])
def test_the_embed_page_and_oembed_cost_two_queries_for_few_or_many(
    client, user, n, django_assert_num_queries
):
    badges = [
        award(badge_class=BadgeClassFactory()).entity_id
        if k % 2 == 0
        else imported(user, name=f"Far {k}").entity_id
        for k in range(n)
    ]
    shared = services.collection_save(user=user, name="Sea", assertions=badges, published=True)
    # the collection with its owner; its entries with their awards' badge classes,
    # issuers and imports
    with django_assert_num_queries(2):
        embed = client.get(f"/public/collections/{shared.share_hash}/embed")
    assert embed.status_code == 200 and embed.content.decode().count("<li>") == n
    with django_assert_num_queries(2):
        answer = oembed(client, f"{BASE}/share/collections/{shared.share_hash}")
    assert answer.status_code == 200
