"""The Import page in Chromium: a badge awarded by a second live Laurels is imported here by
uploading its baked PNG (checked and shown first, then added); the form and the result
pass check_page at 1280 px and 390 px."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.pages import WIDTHS, check_page, page_at
from tests.browser.test_layout import log_in
from tests.factories import png_data_uri
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EARNER = "ines.importer@example.org"


def test_import_a_baked_png_from_a_second_laurels(tmp_path, chromium):
    # This server fetches from the other one on loopback, which only tests allow.
    with (
        laurels_server(tmp_path / "remote") as remote,
        laurels_server(tmp_path / "here", LAURELS_ALLOW_PRIVATE_FETCH="true") as here,
    ):
        issuer_api = api_client_for(remote, "registrar@remote.example.org")
        _, badge = issuer_with_badge(
            issuer_api, "Remote University", badge_name="Far Away Badge", image=png_data_uri()
        )
        made = issuer_api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": EARNER}},
        )
        assert made.status_code == 201, made.text
        issuer_api.close()
        baked = tmp_path / "far-away-badge.png"
        baked.write_bytes(httpx.get(made.json()["result"][0]["image"], timeout=30).content)
        api_client_for(here, EARNER).close()  # the earner's account here

        base = here.base_url
        context = chromium.new_context()
        log_in(context, base, EARNER)
        for width in reversed(WIDTHS):  # 390 px checks only; 1280 px then adds it
            with page_at(context, f"{base}/backpack/import/", width) as page:
                check_page(page, "import")
                page.get_by_label("Baked badge image (PNG or SVG)").set_input_files(str(baked))
                page.get_by_role("button", name="Check the badge").click()
                page.wait_for_load_state()
                assert "Verified: Far Away Badge" in page.locator("h2").first.inner_text()
                assert "Remote University" in page.content()
                check_page(page, "import-result")
                if width == WIDTHS[0]:
                    page.get_by_role("button", name="Add to my backpack").click()
                    page.wait_for_url(f"{base}/backpack/badges/*/")
                    assert page.locator("h1").inner_text() == "Far Away Badge"
        with page_at(context, f"{base}/backpack/import/", 1280) as page:
            page.get_by_label("Assertion URL").fill("javascript:alert(1)")
            page.get_by_role("button", name="Check the badge").click()
            page.wait_for_load_state()
            assert "cannot be imported" in page.locator("[role=alert]").inner_text()
            check_page(page, "import-refused")
            page.get_by_label("Assertion URL").fill("")
            page.get_by_label("Baked badge image (PNG or SVG)").set_input_files(str(baked))
            page.get_by_role("button", name="Check the badge").click()
            page.wait_for_load_state()
            assert "You imported this badge before" in page.locator("h2").first.inner_text()
        context.close()
