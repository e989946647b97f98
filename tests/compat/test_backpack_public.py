"""Badgr integrations reading backpacks and public documents from a live server: Moodle's
Open Badges 2.0 backpack (token, collections, expanded assertions), share buttons, and the
verifiers and scripts that fetch hosted documents with `Accept: */*` or none at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from laurels.core.responses import accepts_json
from tests.servers import RunningServer, api_client_for, issuer_with_badge, laurels_server

EARNER = "moodle-learner@example.org"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
EXPAND = {"expand": ["badgeclass", "issuer"]}
WARM = 6  # requests that reach both workers of the live server, each on a new connection


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-backpack") / "var"
    with laurels_server(home, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def api(live) -> Iterator[httpx.Client]:
    """The learner, who also runs an issuer (so awards reach their own backpack)."""
    client = api_client_for(live, EARNER)
    yield client
    client.close()


def result(response: httpx.Response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()["result"]


def award(api: httpx.Client, badge: dict, **extra) -> dict:
    body = {"recipient": {"identity": EARNER}, **extra}
    return result(api.post(f"/v2/badgeclasses/{badge['entityId']}/assertions", json=body), 201)[0]


@pytest.fixture(scope="module")
def made(api) -> dict:
    issuer, badge = issuer_with_badge(api, "Moodle College", badge_name="Forum Helper")
    awarded = award(api, badge)
    collection = result(
        api.post(
            "/v2/backpack/collections",
            json={"name": "Shown", "published": True, "assertions": [awarded["entityId"]]},
        ),
        201,
    )[0]
    return {"issuer": issuer, "badge": badge, "award": awarded, "collection": collection}


def without_accept(live: RunningServer, path: str) -> httpx.Response:
    with httpx.Client(base_url=live.base_url) as client:
        request = client.build_request("GET", path)
        del request.headers["Accept"]
        return client.send(request)


# --- public documents: JSON unless a page is preferred --------------------------------------


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        ("", True),
        ("*/*", True),
        ("application/json", True),
        ("application/json, text/html", True),
        ("application/ld+json, */*;q=0.1", True),
        ("text/html;q=0.5, */*", True),  # */* weighs more: JSON
        ("text/html;q=0, */*", True),
        ("text/*", True),
        ("text/html; q=oops", True),  # an unreadable weight counts as 0
        (BROWSER, False),
        ("text/html", False),
        ("text/html, application/json", False),  # equal weight: named first wins
        ("application/json;q=0.9, text/html", False),
    ],
)
def test_which_accept_headers_prefer_a_page(accept, json):
    assert accepts_json(accept) is json


def test_scripts_and_verifiers_get_json_and_browsers_get_pages(live, made):
    for kind, key in (("issuers", "issuer"), ("badges", "badge"), ("assertions", "award")):
        path = f"/public/{kind}/{made[key]['entityId']}"
        for response in (
            httpx.get(live.base_url + path, headers={"Accept": "*/*"}),
            without_accept(live, path),
            httpx.get(live.base_url + path, headers={"Accept": "application/json, text/html"}),
            httpx.get(live.base_url + path + ".json", headers={"Accept": BROWSER}),
        ):
            assert response.status_code == 200, (path, response.text[:200])
            assert response.headers["Content-Type"] == "application/ld+json", path
            assert response.json()["id"] == live.base_url + path
        page = httpx.get(live.base_url + path, headers={"Accept": BROWSER})
        assert page.headers["Content-Type"].startswith("text/html"), path
        assert "Accept" in page.headers["Vary"]


# --- Moodle's Open Badges 2.0 backpack, in its order ----------------------------------------


def test_moodle_reads_collections_then_expanded_assertions(live, api, made):
    collections = result(api.get("/v2/backpack/collections"))
    shown = next(c for c in collections if c["entityId"] == made["collection"]["entityId"])
    assert shown["share_url"] == shown["shareUrl"] and shown["share_url"].startswith("http")
    assert shown["shareHash"] and shown["owner"]
    one = result(api.get(f"/v2/backpack/collections/{shown['entityId']}"))[0]
    for entity_id in one["assertions"]:
        badge = result(api.get(f"/v2/backpack/assertions/{entity_id}", params=EXPAND))[0]
        badge_class = badge["badgeclass"]
        assert badge_class["type"] == "BadgeClass" and badge_class["name"] == "Forum Helper"
        assert badge_class["id"] == made["badge"]["openBadgeId"]
        assert badge_class["issuer"]["type"] == "Issuer"
        assert badge_class["issuer"]["id"] == made["issuer"]["openBadgeId"]
        assert badge_class["issuer"]["name"] == "Moodle College"
        assert badge["recipient"]["identity"] == EARNER


def test_backpack_list_gives_ids_unless_expanded(api, made):
    plain = result(api.get("/v2/backpack/assertions"))
    mine = next(b for b in plain if b["entityId"] == made["award"]["entityId"])
    assert mine["badgeclass"] == made["badge"]["entityId"]
    assert mine["issuer"] == made["issuer"]["entityId"]
    assert mine["badgeclassOpenBadgeId"] == made["badge"]["openBadgeId"]
    assert mine["issuerOpenBadgeId"] == made["issuer"]["openBadgeId"]
    assert mine["pending"] is False and mine["recipient"]["type"] == "email"
    expanded = result(api.get("/v2/backpack/assertions", params=EXPAND))
    mine = next(b for b in expanded if b["entityId"] == made["award"]["entityId"])
    assert mine["badgeclass"]["issuer"]["name"] == "Moodle College"
    only_badge_class = result(api.get("/v2/backpack/assertions", params={"expand": "badgeclass"}))
    mine = next(b for b in only_badge_class if b["entityId"] == made["award"]["entityId"])
    assert mine["badgeclass"]["issuer"] == made["issuer"]["openBadgeId"]
    unknown = result(api.get("/v2/backpack/assertions", params={"expand": "everything"}))
    assert {b["badgeclass"] for b in unknown} == {made["badge"]["entityId"]}  # ignored


def test_expired_badges_are_left_out_unless_asked_for(api, made):
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    expiring = award(api, made["badge"], expires=soon)
    listed = {b["entityId"] for b in result(api.get("/v2/backpack/assertions"))}
    assert expiring["entityId"] in listed
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while expiring["entityId"] in listed and datetime.now(UTC) < deadline:
        listed = {b["entityId"] for b in result(api.get("/v2/backpack/assertions"))}
    assert expiring["entityId"] not in listed
    asked = result(api.get("/v2/backpack/assertions", params={"include_expired": "true"}))
    assert expiring["entityId"] in {b["entityId"] for b in asked}


# --- images and share buttons -------------------------------------------------------------


def test_backpack_image_and_share_links(live, api, made):
    entity_id = made["award"]["entityId"]
    image = api.get(f"/v2/backpack/assertions/{entity_id}/image")
    assert image.status_code == 302
    assert image.headers["Location"] == made["award"]["openBadgeId"] + "/image"
    shared = api.get(f"/v2/backpack/share/assertion/{entity_id}", params={"provider": "LinkedIn"})
    assert shared.status_code == 302
    assert shared.headers["Location"].startswith("https://www.linkedin.com/shareArticle?")
    as_json = api.get(
        f"/v2/backpack/share/assertion/{entity_id}",
        params={"provider": "facebook", "redirect": "0"},
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["url"].startswith("https://www.facebook.com/sharer/sharer.php?u=")
    assert api.get(f"/v2/backpack/share/assertion/{entity_id}").status_code == 400
    assert api.get(f"/v2/backpack/share/assertion/{entity_id}?provider=myspace").status_code == 400
    collection = made["collection"]["entityId"]
    shared = api.get(f"/v2/backpack/share/collection/{collection}?provider=twitter")
    assert shared.status_code == 302 and "twitter.com" in shared.headers["Location"]
    private = result(api.post("/v2/backpack/collections", json={"name": "Mine"}), 201)[0]
    refused = api.get(f"/v2/backpack/share/collection/{private['entityId']}?provider=twitter")
    assert refused.status_code == 400


# --- Badgr's other public addresses ---------------------------------------------------------


def test_badgr_public_addresses(live, made):
    base = live.base_url
    listed = httpx.get(f"{base}/public/issuers/{made['issuer']['entityId']}/badges").json()
    assert [b["id"] for b in listed] == [made["badge"]["openBadgeId"]]
    criteria = httpx.get(f"{base}/public/badges/{made['badge']['entityId']}/criteria")
    assert criteria.status_code == 200 and "Do the work." in criteria.text
    baked = httpx.get(f"{base}/public/assertions/{made['award']['entityId']}/baked")
    assert baked.status_code == 200 and baked.headers["Content-Type"] == "image/png"
    share_hash = made["collection"]["shareHash"]
    collection = httpx.get(f"{base}/public/collections/{share_hash}").json()
    assert collection["name"] == "Shown" and "recipient" not in collection["badges"][0]
    health = httpx.get(f"{base}/health")
    assert health.status_code == 200 and health.json()["failing"] == []


def test_v1_1_and_expanded_documents(live, made):
    url = made["award"]["openBadgeId"]
    old = httpx.get(url, params={"v": "1_1"}).json()
    assert old["@context"] == "https://w3id.org/openbadges/v1"
    assert old["badge"] == made["badge"]["openBadgeId"] + "?v=1_1"
    assert old["verify"] == {"type": "hosted", "url": url + "?v=1_1"}
    expanded = httpx.get(url + "?expand=badge&expand=badge.issuer").json()
    assert expanded["badge"]["name"] == "Forum Helper"
    assert expanded["badge"]["issuer"]["name"] == "Moodle College"
    many = httpx.get(url + "?" + "x=1&" * 200 + "v=1_1")  # any query at all: never a 500
    assert many.status_code == 200 and many.json()["@context"].endswith("/v1")
    badge = httpx.get(made["badge"]["openBadgeId"], params={"expand": "issuer"}).json()
    assert badge["issuer"]["id"] == made["issuer"]["openBadgeId"]


def test_a_revocation_is_seen_at_once_in_every_variant(live, api):
    """Variants are kept like the plain document (the fast path answers them warm), and
    a revocation or a change to an embedded badge class moves all of them on."""
    _, badge = issuer_with_badge(api, "Revoking College", badge_name="Forum Helper")
    awarded = award(api, badge)
    url = awarded["openBadgeId"]
    variants = ["", "?v=1_1", "?expand=badge", "?expand=badge&expand=badge.issuer", ".json"]
    for variant in variants:
        for _ in range(WARM):  # every worker keeps each variant
            assert httpx.get(url + variant).status_code == 200
    result(api.put(f"/v2/badgeclasses/{badge['entityId']}", json={"name": "Forum Hero"}))
    for _ in range(WARM):
        assert httpx.get(url + "?expand=badge").json()["badge"]["name"] == "Forum Hero"
    revoked = api.delete(
        f"/v2/assertions/{awarded['entityId']}", params={"revocation_reason": "Mistake"}
    )
    assert revoked.status_code in (200, 204), revoked.text
    for variant in variants:
        for _ in range(WARM):
            assert httpx.get(url + variant).status_code == 410, variant
