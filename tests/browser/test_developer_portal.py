"""The developer portal in Chromium against a live server: a developer registers an app in
the portal and copies its client id and secret; a person authorizes it on the consent page;
the app exchanges the code and reads the person's backpack with its token; the developer
makes a new secret and the old one stops working; asking for more scopes sends the app back
to review, and the person's authorize link then says so. Each page passes check_page at
1280 px and 390 px."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.browser.pages import check_at_widths, check_page
from tests.browser.test_layout import log_in
from tests.servers import PASSWORD, api_client_for, issuer_with_badge, laurels_cli, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.browser]

DEVELOPER = "dev@example.org"
PERSON = "reader@example.org"
REDIRECT_URI = "https://wall.example.org/callback"


def authorize_link(base: str, client_id: str, scope: str) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": "s-1",
    }
    return f"{base}/o/authorize?{urlencode(query)}"


def token_answer(base: str, client_id: str, secret: str, **form: str) -> httpx.Response:
    return httpx.post(
        f"{base}/o/token", data={"client_id": client_id, "client_secret": secret, **form}
    )


def test_developer_portal_journey(tmp_path, chromium):
    with laurels_server(tmp_path / "var") as server:
        base = server.base_url
        issuer_api = api_client_for(server, "dean@example.org")
        _, badge = issuer_with_badge(issuer_api, "Harbour College")
        laurels_cli(server, "createuser", PERSON, "--password", PASSWORD)
        award = issuer_api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": PERSON}},
        )
        assert award.status_code == 201, award.text
        award_id = award.json()["result"][0]["entityId"]
        issuer_api.close()
        laurels_cli(server, "createuser", DEVELOPER, "--password", PASSWORD)

        developer = chromium.new_context()
        log_in(developer, base, DEVELOPER)
        check_at_widths(developer, f"{base}/developer/apps/", "developer-apps-empty")
        check_at_widths(developer, f"{base}/developer/apps/new/", "developer-app-new")

        # Register the app in the portal; the secret is on this answer only.
        page = developer.new_page()
        page.goto(f"{base}/developer/apps/new/")
        page.get_by_label("Name:", exact=True).fill("Badge Wall")
        page.get_by_label("Redirect URIs").fill(REDIRECT_URI)
        page.locator('input[value="r:backpack"]').check()
        page.get_by_label("Website").fill("https://wall.example.org")
        page.get_by_role("button", name="Register the app").click()
        assert page.locator("h1").inner_text() == "Badge Wall is registered"
        client_id = page.get_by_label("Client ID").input_value()
        secret = page.get_by_label("Client secret").input_value()
        assert client_id and secret
        check_page(page, "developer-app-created")

        # A person authorizes it; the app exchanges the code and reads the backpack.
        person = chromium.new_context()
        log_in(person, base, PERSON)
        consent = person.new_page()
        consent.route("https://wall.example.org/**", lambda route: route.fulfill(body="ok"))
        consent.goto(authorize_link(base, client_id, "r:profile r:backpack"))
        assert "Badge Wall wants to connect" in consent.locator("h1").inner_text()
        with consent.expect_request(lambda r: r.url.startswith(REDIRECT_URI)) as callback:
            consent.get_by_role("button", name="Allow").click()
        params = parse_qs(urlsplit(callback.value.url).query)
        assert params["state"] == ["s-1"]
        tokens = token_answer(
            base,
            client_id,
            secret,
            grant_type="authorization_code",
            code=params["code"][0],
            redirect_uri=REDIRECT_URI,
        )
        assert tokens.status_code == 200, tokens.text
        backpack = httpx.get(
            f"{base}/v2/backpack/assertions",
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        )
        assert backpack.status_code == 200, backpack.text
        assert award_id in {b["entityId"] for b in backpack.json()["result"]}
        refresh_token = tokens.json()["refresh_token"]

        # The developer's pages, then a new secret: the old one is refused.
        check_at_widths(developer, f"{base}/developer/apps/", "developer-apps")
        app_url = f"{base}/developer/apps/{client_id}/"
        check_at_widths(developer, app_url, "developer-app")
        page.goto(app_url)
        page.get_by_role("link", name="Make a new secret…").click()
        check_page(page, "developer-app-rotate")
        page.get_by_role("button", name="Make a new secret").click()
        new_secret = page.get_by_label("Client secret").input_value()
        assert new_secret and new_secret != secret
        check_page(page, "developer-app-secret")
        refused = token_answer(
            base, client_id, secret, grant_type="refresh_token", refresh_token=refresh_token
        )
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        renewed = token_answer(
            base, client_id, new_secret, grant_type="refresh_token", refresh_token=refresh_token
        )
        assert renewed.status_code == 200, renewed.text

        # More scopes than approved: back to review; the person's link says it waits.
        page.goto(app_url)
        page.locator('input[value="rw:issuer"]').check()
        page.get_by_role("button", name="Save changes").click()
        assert "Pending review" in page.locator(".developer-app-head").inner_text()
        link = authorize_link(base, client_id, "r:profile")
        check_at_widths(person, link, "authorize-app-pending")
        consent.goto(link)
        assert "is waiting for review" in consent.locator(".consent").inner_text()

        # Delete it: the tokens it holds end.
        page.goto(app_url)
        page.get_by_role("link", name="Delete Badge Wall…").click()
        check_page(page, "developer-app-delete")
        page.get_by_role("button", name="Delete the app").click()
        assert page.url == f"{base}/developer/apps/"
        renewed_token = renewed.json()["access_token"]
        gone = httpx.get(
            f"{base}/v2/backpack/assertions", headers={"Authorization": f"Bearer {renewed_token}"}
        )
        assert gone.status_code == 401
        developer.close()
        person.close()
