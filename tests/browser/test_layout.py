"""The web app's look and feel in Chromium: every page of the layout at 1280 px and 390 px
passes tests/browser/pages.py:check_page (axe-core, no sideways scroll, ≤ 100 KB, screenshot)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.pages import check_at_widths, pages_at_widths
from tests.factories import png_data_uri
from tests.servers import PASSWORD, api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

EMAIL = "walker@example.org"


def log_in(context: Any, base_url: str, email: str) -> None:
    """Log in through the log-in form, as a person would; the context keeps the session."""
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
    page.close()


def assert_htmx_runs_under_the_csp(context: Any, url: str) -> None:
    """htmx loads, takes its configuration from the meta tag, and nothing is refused by the
    Content-Security-Policy (Chromium reports refusals as console errors)."""
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(url)
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.evaluate("() => [htmx.config.allowEval, htmx.config.historyCacheSize]") == [
        False,
        0,
    ]
    assert errors == []
    page.close()


def test_pages_pass_the_checks_at_both_widths(tmp_path, chromium):
    with laurels_server(tmp_path / "var", LAURELS_SITE_NAME="Harbour Badges") as server:
        base = server.base_url
        api = api_client_for(server, EMAIL)
        _, badge = issuer_with_badge(api, "Harbour College", image=png_data_uri((200, 200)))
        award = api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": "sailor@example.org"}},
        ).json()["result"][0]
        api.close()

        anonymous = chromium.new_context()
        for page in pages_at_widths(anonymous, f"{base}/accounts/login/"):
            assert page.title() == "Log in · Harbour Badges"
            assert page.locator(".brand").inner_text() == "Harbour Badges"
        for name, path in (
            ("home-anonymous", "/"),
            ("log-in", "/accounts/login/"),
            ("sign-up", "/accounts/signup/"),
            ("not-found", "/no/such/page"),
        ):
            check_at_widths(anonymous, base + path, name)
        check_at_widths(anonymous, award["openBadgeId"], "public-assertion")
        anonymous.close()

        signed_in = chromium.new_context()
        log_in(signed_in, base, EMAIL)
        for name, path in (
            ("home", "/"),
            ("connected-apps", "/account/apps/"),
            ("api-tokens", "/account/tokens/"),
        ):
            check_at_widths(signed_in, base + path, name)
        assert_htmx_runs_under_the_csp(signed_in, f"{base}/")
        for page in pages_at_widths(signed_in, f"{base}/"):
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Skip to content"
            assert page.locator("nav a", has_text="Backpack").is_visible()
        signed_in.close()
