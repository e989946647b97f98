"""Collections in Chromium against a live server: a person with two awards makes a
collection, adds both badges, reorders them, publishes it, opens the public page (share
buttons, oEmbed) and its embed at 1280 px and 390 px, then unpublishes it and the public
link answers 404. Each page passes check_page."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.pages import WIDTHS, check_at_widths, check_page, page_at, pages_at_widths
from tests.browser.test_layout import log_in
from tests.factories import png_data_uri
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EARNER = "sam.sailor@example.org"


def awarded(server, badges: list[tuple[str, str]]) -> None:
    """Each (issuer, badge) awarded to EARNER through the API."""
    issuer_api = api_client_for(server, "dean@example.org")
    for issuer_name, badge_name in badges:
        _, badge = issuer_with_badge(
            issuer_api, issuer_name, badge_name=badge_name, image=png_data_uri((200, 200))
        )
        made = issuer_api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": EARNER}},
        )
        assert made.status_code == 201, made.text
    issuer_api.close()
    api_client_for(server, EARNER).close()


def names_in_order(page) -> list[str]:
    return [n.strip() for n in page.locator(".collection-badge-text > a").all_inner_texts()]


def test_make_fill_reorder_publish_share_and_unpublish(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        awarded(server, [("Harbour College", "Knot Tying"), ("Rowing Club", "Rowing")])
        context = chromium.new_context()
        log_in(context, base, EARNER)
        check_at_widths(context, base + "/backpack/collections/", "collections-empty")

        with page_at(context, base + "/backpack/collections/", 1280) as page:
            page.get_by_label("Name").fill("Summer on the water")
            page.get_by_label("Description").fill("What I learnt at sea.")
            page.get_by_role("button", name="Make collection").click()
            page.wait_for_url(f"{base}/backpack/collections/*/")
            detail = page.url
            assert page.locator("h1").inner_text() == "Summer on the water"

            page.get_by_label("Knot Tying").check()
            page.get_by_label("Rowing").check()
            page.get_by_role("button", name="Add selected badges").click()
            page.wait_for_url(detail)
            assert "Added 2 badges." in page.locator(".messages").inner_text()
            first, second = names_in_order(page)
            assert {first, second} == {"Knot Tying", "Rowing"}

            page.get_by_role("button", name=f"Move down {first}").click()
            page.wait_for_url(detail)
            assert names_in_order(page) == [second, first]

            page.get_by_role("button", name="Publish", exact=True).click()
            page.wait_for_url(detail)
            public = page.locator("#share-url").input_value()
            assert public.startswith(f"{base}/share/collections/")
            assert page.get_by_role("button", name="Copy link").is_visible()  # share.js ran

        check_at_widths(context, detail, "collection-detail")
        with page_at(context, detail, 1280) as page:
            badge_page = page.locator(".collection-badge-text > a").first.get_attribute("href")
        for page in pages_at_widths(context, base + badge_page):
            picker = page.get_by_label("Add to collection")
            assert picker.locator("option").all_inner_texts() == ["Summer on the water"]
            check_page(page, "badge-detail-collections")
        check_at_widths(context, base + "/backpack/collections/", "collections")

        visitor = chromium.new_context()
        for width in WIDTHS:
            with page_at(visitor, public, width) as page:
                assert page.locator("h1").inner_text() == "Summer on the water"
                assert [
                    n.strip() for n in page.locator(".shared-badges strong").all_inner_texts()
                ] == [
                    second,
                    first,
                ]
                links = page.locator(".share-actions a")
                hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
                assert [h.split("?")[0] for h in hrefs] == [
                    "https://www.linkedin.com/shareArticle",
                    "https://twitter.com/intent/tweet",
                    "https://www.facebook.com/sharer/sharer.php",
                    "mailto:",
                ]
                check_page(page, "collection-public")
            discovery = page_discovery(visitor, public)
        answer = httpx.get(discovery, timeout=10).json()
        assert answer["type"] == "rich" and answer["title"] == "Summer on the water"
        embed = answer["html"].split('src="', 1)[1].split('"', 1)[0]
        check_at_widths(visitor, embed, "collection-embed")

        with page_at(context, detail, 1280) as page:
            page.get_by_role("button", name="Unpublish").click()
            page.wait_for_url(detail)
            assert page.get_by_role("button", name="Publish", exact=True).is_visible()
        with page_at(visitor, public, 1280) as page:
            assert page.locator("h1").inner_text() == "Not shared"
        assert httpx.get(public, headers={"Accept": "text/html"}).status_code == 404
        assert httpx.get(discovery, timeout=10).status_code == 404
        visitor.close()
        context.close()


def page_discovery(opener, url: str) -> str:
    """The oEmbed discovery link of the page at `url`."""
    with page_at(opener, url, 1280) as page:
        link = page.locator('link[rel="alternate"][type="application/json+oembed"]')
        return link.get_attribute("href")
