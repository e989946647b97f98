"""The /docs Authorize button runs the real OAuth flow in a real browser."""

import subprocess

import httpx
import pytest

from tests.browser.pages import assert_accessible, assert_no_sideways_scroll, check_page
from tests.servers import LAURELS, laurels_server, server_env

pytestmark = [pytest.mark.server, pytest.mark.browser]
PASSWORD = "a sturdy passphrase"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with laurels_server(tmp_path_factory.mktemp("docs") / "var") as running:
        subprocess.run(
            [
                str(LAURELS),
                "createuser",
                "eve@example.org",
                "--password",
                PASSWORD,
                "--first-name",
                "Eve",
            ],
            env=server_env(running.home, LAURELS_BASE_URL=running.base_url),
            check=True,
            capture_output=True,
        )
        yield running


def test_authorize_button_logs_in_consents_and_gets_a_token(server, chromium, tmp_path):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{server.base_url}/docs")
    page.locator("button.authorize").first.click()
    modal = page.locator(".modal-ux")
    modal.wait_for()

    with page.expect_popup() as popup_info:
        modal.locator("button.authorize").first.click()
    popup = popup_info.value
    popup.wait_for_url("**/accounts/login/**")
    assert "client_id%3Dapi-docs" in popup.url
    popup.fill("input[name=username]", "eve@example.org")
    popup.fill("input[name=password]", PASSWORD)
    popup.click("button[type=submit]")
    popup.wait_for_selector("text=wants to connect to your account")
    popup.screenshot(path=str(tmp_path / "consent.png"))
    popup.click("button[name=allow]")
    popup.wait_for_event("close", timeout=20_000)

    page.wait_for_function(
        "() => Object.values(window.ui.authSelectors.authorized().toJS())"
        ".some(a => a.token && a.token.access_token)",
        timeout=20_000,
    )
    authorized = page.evaluate("() => window.ui.authSelectors.authorized().toJS()")
    token = next(a["token"] for a in authorized.values() if a.get("token"))
    assert token["token_type"] == "Bearer"
    me = httpx.get(
        f"{server.base_url}/v2/users/self",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert me.json()["result"][0]["firstName"] == "Eve"
    context.close()


def test_docs_publish_the_oauth_scheme(server):
    document = httpx.get(f"{server.base_url}/v2/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["BearerCaller"]
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{server.base_url}/o/authorize"
    assert flow["tokenUrl"] == f"{server.base_url}/o/token"
    assert "rw:backpack" in flow["scopes"]
    assert httpx.get(f"{server.base_url}/docs/oauth2-redirect").status_code == 200


def test_docs_page_links_back_hides_the_session_scheme_and_takes_a_revocation_reason(
    server, chromium
):
    """What issue 18 found wrong with /docs, checked in Chromium: no way back to the site,
    a stray "SessionCaller" field in the Authorize dialog, and no field for the reason
    when revoking an award."""
    page = chromium.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server.base_url}/docs")
    page.locator(".opblock").first.wait_for()
    assert_accessible(page, "api-docs")
    page.locator("button.authorize").first.click()
    modal = page.locator(".modal-ux")
    modal.wait_for()
    assert_accessible(page, "api-docs-authorize")
    assert "BearerCaller" in modal.inner_text()
    assert "SessionCaller" not in modal.inner_text()
    modal.locator("button.close-modal").click()

    revoke = page.locator("#operation-assertion_revoke, .opblock-delete").filter(
        has_text="/v2/assertions/{entity_id}"
    )
    revoke.locator(".opblock-summary").first.click()
    revoke.get_by_role("button", name="Try it out").click()
    revoke.locator("input[placeholder=entity_id]").fill("no-such-award")
    revoke.locator("input[placeholder=revocation_reason]").fill("Issued in error")
    revoke.get_by_role("button", name="Execute").click()
    request_url = revoke.locator(".request-url pre")
    request_url.wait_for()
    assert "revocation_reason=Issued%20in%20error" in request_url.inner_text()

    page.set_viewport_size({"width": 390, "height": 900})
    # Not check_page's 100 KB weight: Swagger UI's bundle alone is 1.4 MB (docs/admin.md).
    assert_no_sideways_scroll(page, "api-docs")
    assert_accessible(page, "api-docs")
    back = page.get_by_role("link", name="Laurels")
    assert back.get_attribute("href") == "/"
    back.click()
    page.wait_for_url(f"{server.base_url}/")
    check_page(page, "api-docs-back-home")
    page.close()
