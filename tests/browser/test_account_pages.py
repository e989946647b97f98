"""The account settings in Chromium against a live server: change the name, add an address
and follow the mailed link (its award then shows in the backpack), download one's data
and find the badge in the zip, change the password and see an app's token stop working;
every settings page passes check_page at 1280 px and 390 px."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.browser.pages import check_at_widths, check_page
from tests.browser.test_layout import log_in
from tests.factories import png_data_uri
from tests.security.test_accounts import Inbox
from tests.servers import PASSWORD, api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EMAIL = "walker@example.org"
SECOND = "walker.at.work.with.a.rather.long.address@example.org"
NEW_PASSWORD = "another sturdy passphrase"


def awarded_to(api: Any, badge: dict, address: str) -> dict:
    made = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": address}},
    )
    assert made.status_code == 201, made.text
    return made.json()["result"][0]


def backpack_ids(app: Any) -> set[str]:
    answer = app.get("/v2/backpack/assertions")
    assert answer.status_code == 200, answer.text
    return {badge["entityId"] for badge in answer.json()["result"]}


def test_account_settings_walk(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        issuer_api = api_client_for(server, "dean@example.org")
        _, badge = issuer_with_badge(issuer_api, "Harbour College", image=png_data_uri((200, 200)))
        first = awarded_to(issuer_api, badge, EMAIL)
        second = awarded_to(issuer_api, badge, SECOND)
        issuer_api.close()
        app = api_client_for(server, EMAIL)  # an app's token (Badgr's password grant)
        assert backpack_ids(app) == {first["entityId"]}

        context = chromium.new_context(accept_downloads=True)
        log_in(context, base, EMAIL)
        page = context.new_page()

        # The name.
        page.goto(f"{base}/account/profile/")
        page.get_by_label("First name").fill("Wanda")
        page.get_by_label("Last name").fill("Walker")
        page.get_by_role("button", name="Save name").click()
        assert "Your name is saved." in page.locator(".messages").inner_text()
        assert page.get_by_label("First name").input_value() == "Wanda"
        assert app.get("/v2/users/self").json()["result"][0]["firstName"] == "Wanda"

        # A second address, proven by its mailed link: its award joins the backpack.
        inbox = Inbox(server)
        page.goto(f"{base}/account/emails/")
        page.get_by_label("New email address").fill(SECOND)
        page.get_by_role("button", name="Add address").click()
        assert "Waiting for its link" in page.locator(".address-list").inner_text()
        check_page(page, "account-emails-pending")
        page.goto(inbox.link(SECOND, "/accounts/verify/"))
        page.get_by_label("The password you chose when you signed up").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        assert page.locator("h1").inner_text() == "Address verified"
        assert backpack_ids(app) == {first["entityId"], second["entityId"]}
        page.goto(f"{base}/account/emails/")
        assert "Waiting for its link" not in page.locator(".address-list").inner_text()

        # A personal token with a long name, so the tokens page shows one.
        page.goto(f"{base}/account/tokens/")
        token_name = page.get_by_role("textbox", name="Name")
        token_name.fill("The nightly export script on the departmental server")
        page.get_by_role("button", name="Make token").click()
        assert "shown this once only" in page.content()

        # Every settings page, at both widths.
        for name, path in (
            ("account", "/account/"),
            ("account-profile", "/account/profile/"),
            ("account-emails", "/account/emails/"),
            ("account-password", "/accounts/password/change/"),
            ("account-apps", "/account/apps/"),
            ("account-tokens", "/account/tokens/"),
            ("account-export", "/account/export/"),
        ):
            check_at_widths(context, base + path, name)

        # All my data, as a zip holding both badges and the baked image.
        page.goto(f"{base}/account/export/")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
        backpack = json.loads(archive.read("backpack.json"))
        assert {b["entityId"] for b in backpack} == {first["entityId"], second["entityId"]}
        assert archive.read(f"images/{first['entityId']}.png").startswith(b"\x89PNG")

        # The password: this session goes on, the app's token ends.
        page.goto(f"{base}/accounts/password/change/")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        assert "logged out everywhere else" in page.locator(".messages").inner_text()
        assert app.get("/v2/users/self").status_code == 401
        page.goto(f"{base}/account/")
        assert page.url == f"{base}/account/"
        app.close()
        context.close()
