"""Screenshots of the public award page in Chromium, valid and then revoked."""

import pytest

from tests.factories import png_data_uri
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]


def test_assertion_page_valid_then_revoked(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        api = api_client_for(server, "dean@example.org")
        _, badge = issuer_with_badge(
            api,
            "Harbour College",
            badge_name="Knot Tying",
            image=png_data_uri((200, 200)),
            description="Ties **six** sailing knots.",
            criteria="Tie them blindfolded.",
        )
        award = api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={
                "recipient": {"identity": "sailor@example.org", "plaintextIdentity": "Sam Sailor"},
                "narrative": "Fastest bowline of the year.",
            },
        ).json()["result"][0]

        page = chromium.new_page(viewport={"width": 1000, "height": 900})
        page.goto(award["openBadgeId"])
        assert page.locator(".state").inner_text() == "Valid"
        assert page.locator("h1").inner_text() == "Knot Tying"
        assert "s••••@example.org" in page.content()
        assert page.evaluate("document.querySelector('.badge-image').naturalWidth") == 200
        page.screenshot(path=str(tmp_path / "assertion-valid.png"), full_page=True)

        api.request(
            "DELETE",
            f"/v2/assertions/{award['entityId']}",
            json={"revocation_reason": "Awarded to the wrong sailor"},
        )
        page.reload()
        assert page.locator(".state").inner_text() == "Revoked"
        assert "Awarded to the wrong sailor" in page.content()
        page.screenshot(path=str(tmp_path / "assertion-revoked.png"), full_page=True)
        page.close()
        api.close()
    for name in ("assertion-valid.png", "assertion-revoked.png"):
        assert (tmp_path / name).stat().st_size > 10_000
