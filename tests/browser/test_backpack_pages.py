"""Home, the backpack and a badge's page in Chromium against a live server: an issuer
awards the person through the API, the person sees it waiting on Home, accepts it there,
finds it in the backpack and opens its page; each page passes check_page at 1280 px and
390 px."""

from __future__ import annotations

import pytest

from tests.browser.pages import WIDTHS, check_at_widths, check_page, page_at
from tests.browser.test_layout import log_in
from tests.factories import png_data_uri
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EARNER = "sam.sailor@example.org"


def test_award_waiting_on_home_accepted_then_opened(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        issuer_api = api_client_for(server, "dean@example.org")
        _, badge = issuer_with_badge(
            issuer_api,
            "Harbour College",
            badge_name="Knot Tying",
            image=png_data_uri((200, 200)),
            description="Ties **six** sailing knots.",
            criteria="Tie them blindfolded.",
        )
        made = issuer_api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={
                "recipient": {"identity": EARNER},
                "narrative": "Fastest bowline of the year.",
                "evidence": [{"url": "https://harbour.example.org/videos/1"}],
            },
        )
        assert made.status_code == 201, made.text
        award = made.json()["result"][0]
        issuer_api.close()
        api_client_for(server, EARNER).close()  # the earner, and an app holding their token

        context = chromium.new_context()
        log_in(context, base, EARNER)
        for width in WIDTHS:
            with page_at(context, base + "/", width) as page:
                waiting = page.locator(".waiting-item")
                assert waiting.count() == 1
                assert "Knot Tying" in waiting.inner_text()
                check_page(page, "home-waiting")

        with page_at(context, base + "/", 1280) as page:
            page.get_by_role("button", name="Accept Knot Tying").click()
            page.wait_for_url(f"{base}/")
            assert "Accepted." in page.locator(".messages").inner_text()
            assert page.locator(".waiting-item").count() == 0
            assert "Knot Tying" in page.locator(".badge-grid").inner_text()
            page.get_by_role("link", name="Open your backpack").click()
            page.wait_for_url(f"{base}/backpack/")
            card = page.locator(".badge-card")
            assert card.count() == 1
            assert "Valid" in card.inner_text() and "Harbour College" in card.inner_text()
            card.get_by_role("link", name="Knot Tying").click()
            page.wait_for_url(f"{base}/backpack/badges/{award['entityId']}/")
            assert page.locator("h1").inner_text() == "Knot Tying"
            assert page.locator("#share-url").input_value() == award["openBadgeId"]
            assert page.get_by_role("button", name="Copy link").is_visible()  # share.js ran
            linkedin = page.get_by_role("link", name="Add to LinkedIn profile")
            assert "startTask=CERTIFICATION_NAME" in linkedin.get_attribute("href")
            assert "Fastest bowline of the year." in page.content()

        check_at_widths(context, base + "/", "home-accepted")
        check_at_widths(context, base + "/backpack/", "backpack")
        check_at_widths(context, base + "/backpack/?q=nothing", "backpack-no-match")
        check_at_widths(context, f"{base}/backpack/badges/{award['entityId']}/", "badge-detail")
        context.close()
