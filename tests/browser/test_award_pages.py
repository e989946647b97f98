"""Awarding in Chromium against a live server (its embedded jobs runner awards the
batch): the single-award form, a 1,000-row CSV with one bad line refused by line, the
fixed file checked, awarded to 100 % while the page polls, and results.csv downloaded.
Each page passes check_page at 1280 px and 390 px."""

from __future__ import annotations

import pytest

from tests.browser.pages import WIDTHS, check_at_widths, check_page, page_at
from tests.browser.test_layout import log_in
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

DEAN = "dean@example.org"


def rows(bad_line: int | None = None) -> bytes:
    lines = ["identity,name,narrative,evidence URL"]
    for n in range(1000):
        identity = "not-an-address" if n + 2 == bad_line else f"learner{n}@example.org"
        lines.append(f"{identity},Learner {n},Tied a bowline,https://e.example.org/{n}")
    return ("\n".join(lines) + "\n").encode()


def choose(page, data: bytes) -> None:
    page.locator("#id_file").set_input_files(
        files=[{"name": "awards.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Check the file").click()


def test_award_one_then_a_thousand_from_a_csv(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        api = api_client_for(server, DEAN)
        issuer, badge = issuer_with_badge(api, "Harbour College", badge_name="Knot Tying")
        api.close()
        badge_url = f"{base}/issuers/{issuer['entityId']}/badges/{badge['entityId']}"
        context = chromium.new_context(accept_downloads=True)
        log_in(context, base, DEAN)

        check_at_widths(context, badge_url + "/award/", "award")
        with page_at(context, badge_url + "/award/", 1280) as page:
            page.locator("#id_identity").fill("sam@example.org")
            page.get_by_role("button", name="Award", exact=True).click()
            page.wait_for_url(f"{base}/public/assertions/*")

        for width in WIDTHS:
            with page_at(context, badge_url + "/award/csv/", width) as page:
                choose(page, rows(bad_line=501))
                problems = page.locator(".problems")
                problems.wait_for()
                assert "Line 501: not-an-address is not a valid email identity." in (
                    problems.inner_text()
                )
                check_page(page, "award-csv-problems")

        with page_at(context, badge_url + "/award/csv/", 1280) as page:
            choose(page, rows())
            page.wait_for_url(f"{base}/issuers/*/batches/*/")
            batch_url = page.url
        check_at_widths(context, batch_url, "batch-ready")

        with page_at(context, batch_url, 1280) as page:
            page.get_by_role("button", name="Award 1000 people").click()
            page.wait_for_url(batch_url)
            # htmx polls every second until the batch is done, with no reload.
            page.locator(".batch-summary", has_text="1000 awarded").wait_for(timeout=60_000)
            assert page.locator("progress").get_attribute("value") == "1000"
            assert "(100 %)" in page.locator(".batch-progress").inner_text()
            with page.expect_download() as download:
                page.get_by_role("link", name="Download the results (CSV)").click()
            lines = download.value.path().read_text().splitlines()
            assert lines[0] == "line,identity,status,award URL or error"
            assert len(lines) == 1001 and all(",awarded," in line for line in lines[1:])
        check_at_widths(context, batch_url, "batch-done")
        context.close()
