"""Deleting one's account in Chromium against a live server (issue 17): the page lists an
issuer the person alone owns, which they delete first; then they delete the account at
1280 px, see the goodbye page, and find their collection's share page gone while the
award an issuer made them still verifies as a hosted badge. The page passes check_page
at 1280 px and 390 px, blocked and free."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.browser.pages import check_at_widths, check_page
from tests.browser.test_layout import log_in
from tests.servers import PASSWORD, api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EMAIL = "leaver@example.org"
LD = {"Accept": "application/ld+json"}


def hosted_award_verifies(url: str, address: str) -> None:
    """As a verifier checks a hosted award: the document, its badge class and issuer
    answer; it is not revoked; its hashed recipient is `address`."""
    document = httpx.get(url, headers=LD)
    assert document.status_code == 200, document.text
    award = document.json()
    assert award["verification"] == {"type": "HostedBadge"}
    assert not award.get("revoked")
    salted = hashlib.sha256((address + award["recipient"]["salt"]).encode()).hexdigest()
    assert award["recipient"]["identity"] == f"sha256${salted}"
    badge = httpx.get(award["badge"], headers=LD)
    assert badge.status_code == 200
    assert httpx.get(badge.json()["issuer"], headers=LD).status_code == 200


def test_delete_the_account_from_its_page(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        dean = api_client_for(server, "dean@example.org")
        _, badge = issuer_with_badge(dean, "Harbour College")
        made = dean.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": EMAIL}},
        )
        assert made.status_code == 201, made.text
        award = made.json()["result"][0]
        dean.close()

        leaver = api_client_for(server, EMAIL)
        collection = leaver.post(
            "/v2/backpack/collections",
            json={"name": "Proud of these", "assertions": [award["entityId"]], "published": True},
        ).json()["result"][0]
        share_url = collection["shareUrl"]
        assert httpx.get(share_url).status_code == 200
        own_issuer = leaver.post(
            "/v2/issuers",
            json={"name": "Leaver's Workshop", "url": "https://w.example.org", "email": EMAIL},
        ).json()["result"][0]

        context = chromium.new_context()
        log_in(context, base, EMAIL)
        page = context.new_page()

        # Blocked: the issuer they alone own is listed and linked.
        page.goto(f"{base}/account/")
        page.get_by_role("link", name="Delete your account").click()
        assert "First, hand these issuers over" in page.locator(".blockers").inner_text()
        link = page.get_by_role("link", name="Leaver's Workshop")
        assert link.get_attribute("href").endswith(f"/public/issuers/{own_issuer['entityId']}")
        check_at_widths(context, f"{base}/account/delete/", "account-delete-blocked")

        # Once that issuer is deleted, the form is there.
        assert leaver.delete(f"/v2/issuers/{own_issuer['entityId']}").status_code == 204
        check_at_widths(context, f"{base}/account/delete/", "account-delete")

        # A wrong password: the error, and nothing deleted.
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/account/delete/")
        page.get_by_label("Current password").fill("not my password")
        page.get_by_label("Your email address").fill(EMAIL)
        page.get_by_role("button", name="Delete my account").click()
        assert "This is not your current password." in page.content()
        check_page(page, "account-delete-error")

        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("Your email address").fill(EMAIL)
        page.get_by_role("button", name="Delete my account").click()
        page.wait_for_url(f"{base}/account/deleted/")
        assert page.locator("h1").inner_text() == "Your account was deleted"
        check_page(page, "account-deleted")

        # Logged out; the share page is gone; the issuer's award still verifies.
        page.goto(f"{base}/account/")
        assert "/accounts/login/" in page.url
        assert httpx.get(share_url).status_code == 404
        hosted_award_verifies(award["openBadgeId"], EMAIL)
        assert leaver.get("/v2/users/self").status_code == 401
        leaver.close()
        context.close()
