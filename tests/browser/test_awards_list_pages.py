"""The issuer's award list in Chromium against a live server: an owner awards a badge to
two people through the API, opens the list, searches it, revokes one award at 1280 px and
the other at 390 px (a missing reason first, then with one), and each award's public page
then says Revoked with the reason. Each page passes check_page."""

from __future__ import annotations

import re

import pytest

from tests.browser.pages import WIDTHS, check_at_widths, check_page, page_at
from tests.browser.test_layout import log_in
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

OWNER = "dean@example.org"
EARNERS = ("sam.sailor@example.org", "ria.rower@example.org")


def test_revoke_an_award_with_a_reason_at_each_width(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        api = api_client_for(server, OWNER)
        issuer, badge = issuer_with_badge(api, "Harbour College", badge_name="Knot Tying")
        for earner in EARNERS:
            made = api.post(
                f"/v2/badgeclasses/{badge['entityId']}/assertions",
                json={"recipient": {"identity": earner}},
            )
            assert made.status_code == 201, made.text
        api.close()
        listing = f"{base}/issuers/{issuer['entityId']}/awards/"
        context = chromium.new_context()
        log_in(context, base, OWNER)
        check_at_widths(context, listing, "awards-list")
        check_at_widths(context, listing + "?recipient=nobody", "awards-list-no-match")

        with page_at(context, listing, 1280) as page:
            page.get_by_label("Recipient").fill("SAM")
            page.get_by_role("button", name="Show").click()
            page.wait_for_url(re.compile(re.escape(listing) + r"\?"))
            rows = page.locator(".awards-recipient").all_inner_texts()
            assert [r.strip() for r in rows] == [EARNERS[0]]

        for width, earner in zip(WIDTHS, EARNERS, strict=True):
            with page_at(context, listing, width) as page:
                public = page.get_by_role(
                    "link", name=f"Public page of the award to {earner}"
                ).get_attribute("href")
                page.get_by_role("link", name=f"Revoke the award to {earner}").click()
                page.wait_for_url(re.compile(r"/revoke/\?next="))
                assert earner in page.locator("main").inner_text()
                check_page(page, "award-revoke")

                page.get_by_role("button", name="Revoke award").click()
                page.wait_for_load_state()
                assert "Say why the award is revoked." in page.locator("main").inner_text()
                check_page(page, "award-revoke-error")

                page.get_by_label("Reason").fill("Issued to the wrong class")
                page.get_by_role("button", name="Revoke award").click()
                page.wait_for_url(listing)
                assert f"Revoked the award to {earner}" in page.locator(".messages").inner_text()
                row = page.locator("tr", has_text=earner)
                assert row.locator(".status").inner_text() == "Revoked"
                check_page(page, "awards-list-revoked")

                page.goto(public)
                assert page.locator(".state").inner_text() == "Revoked"
                assert "Issued to the wrong class" in page.locator(".facts").inner_text()
        context.close()
