"""Two-factor log-in in Chromium against a live server (issue 17's journey): turn it on
by reading the secret off the page and computing its code as an authenticator app would,
keep the recovery codes, log out, log in with the password and then a code. The settings
page (each state) and the code page pass check_page at 1280 px and 390 px."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django_otp.oath import totp

from tests.browser.pages import check_page, pages_at_widths
from tests.browser.test_layout import log_in
from tests.servers import PASSWORD, laurels_cli, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EMAIL = "tamsin@example.org"


def code_for(secret: str, drift: int = 0) -> str:
    return f"{totp(b32decode(secret.replace(' ', '')), drift=drift):06d}"


def test_turn_on_two_factor_and_log_in_with_a_code(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        laurels_cli(server, "createuser", EMAIL, "--password", PASSWORD)
        context = chromium.new_context(accept_downloads=True)
        log_in(context, base, EMAIL)

        for page in pages_at_widths(context, f"{base}/account/two-factor/"):
            check_page(page, "account-two-factor-off")
        page = context.new_page()
        page.goto(f"{base}/account/two-factor/")
        page.get_by_role("button", name="Turn on").click()
        assert page.get_by_role("img", name="QR code of the secret").is_visible()
        secret = page.locator("#two-factor-secret").inner_text()
        page.close()
        for page in pages_at_widths(context, f"{base}/account/two-factor/"):
            check_page(page, "account-two-factor-setup")
            if page.viewport_size["width"] == 390:
                page.get_by_label("Code from your app").fill(code_for(secret))
                page.get_by_label("Your password").fill(PASSWORD)
                page.get_by_role("button", name="Turn on").click()
                codes = page.locator(".recovery-codes code").all_inner_texts()
                assert len(codes) == 10
                check_page(page, "account-two-factor-codes")
                with page.expect_download() as download:
                    page.get_by_role("link", name="Download as text").click()
                saved = download.value.path().read_text()
                assert saved.split() == codes
        for page in pages_at_widths(context, f"{base}/account/two-factor/"):
            assert "is on" in page.locator(".two-factor").inner_text()
            check_page(page, "account-two-factor-on")

        # Log out, then in again: the password, and then a code from the app.
        page = context.new_page()
        page.goto(f"{base}/account/")
        page.get_by_role("button", name="Log out").first.click()
        page.goto(f"{base}/accounts/login/?next=/backpack/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/accounts/login/code/?next=/backpack/")
        page.goto(f"{base}/account/")  # nothing else opens meanwhile
        assert page.url.startswith(f"{base}/accounts/login/code/")
        code_url = page.url
        page.close()
        for page in pages_at_widths(context, code_url):
            check_page(page, "login-code")
        page = context.new_page()
        page.goto(f"{base}/accounts/login/code/?next=/backpack/")
        # The code of the next 30-second step: the one that turned it on is spent.
        page.get_by_label("Code").fill(code_for(secret, drift=1))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/backpack/")
        assert page.locator("h1").first.is_visible()
        context.close()
