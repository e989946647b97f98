"""Badge classes in Chromium against a live server: an issuer's owner defines a badge
class with an SVG image (shown before upload by image_preview.js), criteria in Markdown
(previewed by htmx as they are typed, scripts stripped) and an alignment, at 1280 px and
at 390 px; then the list, the badge class page, the edit form, a refused form and the
delete page. Each page passes check_page, and nothing is refused by the CSP."""

from __future__ import annotations

import pytest

from tests.browser.pages import WIDTHS, check_at_widths, check_page, page_at
from tests.browser.test_layout import log_in
from tests.servers import api_client_for, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

OWNER = "dean@example.org"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">'
    b'<script>document.title = "owned"</script>'
    b'<circle cx="60" cy="60" r="50" fill="#2f6b3a"/></svg>'
)


def make_issuer(server) -> str:
    api = api_client_for(server, OWNER)
    made = api.post(
        "/v2/issuers",
        json={"name": "Harbour College", "url": "https://harbour.example.org", "email": OWNER},
    )
    api.close()
    assert made.status_code == 201, made.text
    return made.json()["result"][0]["entityId"]


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def define(page, base: str, issuer: str, name: str) -> None:
    """Fill the new badge class form as a person would, checking both previews."""
    page.locator("#id_name").fill(name)
    page.locator("#id_description").fill("Ties the six knots every sailor needs.")
    preview = page.locator("#badge-image-preview")
    assert preview.is_hidden()
    page.get_by_label("Image").set_input_files(
        {"name": "knots.svg", "mimeType": "image/svg+xml", "buffer": SVG}
    )
    page.wait_for_function(
        "() => { const i = document.getElementById('badge-image-preview');"
        " return !i.hidden && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }"
    )
    page.locator("#id_criteria_narrative").fill(
        "**Tie** all six:\n\n- bowline\n- clove hitch\n\n<script>document.title='x'</script>"
    )
    page.locator("#criteria-preview strong").wait_for()
    assert page.locator("#criteria-preview strong").inner_text() == "Tie"
    assert page.locator("#criteria-preview li").count() == 2
    assert page.locator("#criteria-preview script").count() == 0
    page.get_by_label("Tags").fill("sailing, knots")
    page.get_by_label("Awards expire after").fill("2")
    page.get_by_label("Unit").select_option("years")
    row = page.locator(".alignment-row").first
    row.get_by_label("Name").fill("Seamanship 1")
    row.get_by_label("URL").fill("https://standards.example.org/sea/1")


def test_define_a_badge_class_with_an_svg_image(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        issuer = make_issuer(server)
        badges = f"{base}/issuers/{issuer}/badges/"
        context = chromium.new_context()
        log_in(context, base, OWNER)
        check_at_widths(context, badges, "badge-classes-empty")

        made = {}
        for width in WIDTHS:
            with page_at(context, badges, width) as page:
                errors = console_errors(page)
                page.get_by_role("link", name="New badge class").click()
                page.wait_for_url(badges + "new/")
                define(page, base, issuer, f"Knot Tying {width}")
                check_page(page, "badge-class-new-filled")
                page.get_by_role("button", name="Make badge class").click()
                page.wait_for_url(badges + "*/")
                made[width] = page.url
                assert page.locator("h1").inner_text() == f"Knot Tying {width}"
                assert "Badge class made." in page.locator(".messages").inner_text()
                assert page.locator(".prose strong").first.inner_text() == "Tie"
                assert page.locator("img.badge-class-image").evaluate("i => i.naturalWidth") > 0
                assert page.title() != "owned" and page.title() != "x"
                assert errors == [], errors
                check_page(page, "badge-class-detail")

        with page_at(context, badges, 1280) as page:
            names = page.locator(".badge-class-text a").all_inner_texts()
            assert [n.strip() for n in names] == ["Knot Tying 1280", "Knot Tying 390"]
        check_at_widths(context, badges, "badge-classes")
        check_at_widths(context, made[390] + "edit/", "badge-class-edit")
        check_at_widths(context, made[390] + "delete/", "badge-class-delete")

        # A refused form: the error summary links to the field, the field says why.
        for width in WIDTHS:
            with page_at(context, badges + "new/", width) as page:
                page.get_by_role("button", name="Make badge class").click()
                page.wait_for_load_state()
                summary = page.locator("#error-summary")
                assert "Nothing was saved" in summary.inner_text()
                assert summary.locator('a[href="#id_image"]').count() == 1
                assert page.locator("#id_name").get_attribute("aria-invalid") == "true"
                check_page(page, "badge-class-new-errors")

        # The stored SVG has lost its script (the API's cleaning).
        with page_at(context, made[1280], 1280) as page:
            public = page.get_by_role("link", name="Public page").get_attribute("href")
        image = context.request.get(public + "/image")
        assert image.ok and image.headers["content-type"].startswith("image/svg+xml")
        assert b"<circle" in image.body() and b"script" not in image.body()
        context.close()
