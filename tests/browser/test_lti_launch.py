"""LTI launch points end to end (issue 20): a real LTI 1.3 tool built on pylti1p3
(tests/lti_tool.py) on its own loopback port, and a live Laurels server, in Chromium.

The tool's developer registers it in the developer portal and configures the tool with
the platform details the portal shows; the issuer's owner connects it on the OAuth
consent page; on the badge class page its button launches it, and the tool's own
pylti1p3 validation accepts the id_token and sees the badge class id and the owner's
role, under a `sub` of its own: the same at the next launch, another for a second tool,
and never the owner's entityId. Then each refusal: a tool that sends a nonce it did not
keep (its own validation refuses), a nonce sent twice, a launch that expired, a
redirect_uri that is not the registered launch URL (Laurels refuses and never posts
there), and a tool the person never connected (no button, and a forged POST to
/lti/launch is refused).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.pages import check_at_widths, check_page
from tests.browser.test_layout import log_in
from tests.lti_tool import LtiTool, Platform, running_tool
from tests.servers import (
    PASSWORD,
    RunningServer,
    api_client_for,
    issuer_with_badge,
    laurels_cli,
    laurels_server,
)

pytestmark = [pytest.mark.server, pytest.mark.browser]

DEVELOPER = "tool-dev@example.org"
OWNER = "dean@example.org"
ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"


def app_for(server: RunningServer, name: str, tool: LtiTool) -> str:
    """An app owned by the developer, in testing (so its URLs may be http on loopback);
    its OAuth client id."""
    created = laurels_cli(
        server,
        *("apps", "create", "--name", name, "--redirect-uri", tool.oauth_redirect_uri),
        *("--scopes", "r:profile", "--testing", "--owner", DEVELOPER, "--json"),
    )
    return json.loads(created)["client_id"]


def register_tool(page: Any, base: str, client_id: str, tool: LtiTool) -> Platform:
    """Register the app as an LTI tool on its portal page, for the badge class page; the
    platform details the page then shows, as the tool is configured with them."""
    page.goto(f"{base}/developer/apps/{client_id}/lti/")
    assert page.get_by_label("Issuer (iss)").input_value() == base
    page.get_by_label("Login initiation URL").fill(tool.login_url)
    page.get_by_label("Launch URL").fill(tool.launch_url)
    page.get_by_label("JWKS URL:", exact=True).fill(tool.jwks_url)
    page.get_by_label("A badge class page").check()
    page.get_by_role("button", name="Register the tool").click()
    assert "Saved." in page.locator(".messages").inner_text()
    platform = Platform(
        issuer=page.get_by_label("Issuer (iss)").input_value(),
        client_id=page.get_by_label("Client ID", exact=True).input_value(),
        deployment_id=page.get_by_label("Deployment ID").input_value(),
    )
    assert page.get_by_label("OIDC authorization URL").input_value() == platform.auth_login_url
    assert page.get_by_label("Platform JWKS URL").input_value() == platform.key_set_url
    return platform


def connect(context: Any, base: str, client_id: str, tool: LtiTool) -> None:
    """The person connects the app on the consent page; the tool's callback answers."""
    page = context.new_page()
    query = {
        "client_id": client_id,
        "redirect_uri": tool.oauth_redirect_uri,
        "response_type": "code",
        "scope": "r:profile",
        "state": "s-1",
    }
    page.goto(f"{base}/o/authorize?{urlencode(query)}")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{tool.oauth_redirect_uri}?**")
    assert page.locator("h1").inner_text() == "Connected"
    page.close()


def press(page: Any, badge_url: str, title: str) -> None:
    page.goto(badge_url)
    page.get_by_role("button", name=f"Open in {title}").click()


def refusal_text(page: Any) -> str:
    """The reason on Laurels' refusal page."""
    return page.locator("main").inner_text()


def age_launches(server: RunningServer) -> None:
    """Make every launch still waiting for its authorization request expire, as the clock
    would after LAURELS_LTI_LAUNCH_SECONDS."""
    with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db, db:
        db.execute(
            "UPDATE lti_ltilaunch SET expires_at = '2000-01-01 00:00:00' WHERE used_at IS NULL"
        )


def test_lti_launch_from_a_badge_class_page(tmp_path, chromium):
    with running_tool() as tool, laurels_server(tmp_path / "var") as server:
        base = server.base_url
        owner_api = api_client_for(server, OWNER)
        issuer, badge = issuer_with_badge(owner_api, "Harbour College")
        owner_sub = owner_api.get("/v2/users/self").json()["result"][0]["entityId"]
        owner_api.close()
        badge_url = f"{base}/issuers/{issuer['entityId']}/badges/{badge['entityId']}/"
        laurels_cli(server, "createuser", DEVELOPER, "--password", PASSWORD)
        roster = app_for(server, "Roster Tool", tool)
        stranger = app_for(server, "Stranger Tool", tool)
        grades = app_for(server, "Grades Tool", tool)

        # The developer registers both apps as tools; the tool trusts the first one.
        developer = chromium.new_context()
        log_in(developer, base, DEVELOPER)
        portal = developer.new_page()
        platform = register_tool(portal, base, roster, tool)
        tool.trust(platform)
        stranger_platform = register_tool(portal, base, stranger, tool)
        assert stranger_platform.client_id != platform.client_id
        check_at_widths(developer, f"{base}/developer/apps/{roster}/lti/", "developer-app-lti")

        # The owner connects Roster Tool only: its button shows, Stranger Tool's does not.
        owner = chromium.new_context()
        log_in(owner, base, OWNER)
        page = owner.new_page()
        page.goto(badge_url)
        assert page.get_by_role("button", name="Open in Roster Tool").count() == 0
        connect(owner, base, roster, tool)
        page.goto(badge_url)
        assert page.get_by_role("button", name="Open in Roster Tool").count() == 1
        assert page.get_by_role("button", name="Open in Stranger Tool").count() == 0
        check_page(page, "badge-class-lti-button")

        # The launch: pylti1p3 validates it and sees the badge class and the owner's role.
        press(page, badge_url, "Roster Tool")
        page.wait_for_url(tool.launch_url)
        assert page.locator("h1").inner_text() == "Launch accepted", page.content()
        launch = tool.launches[-1]
        assert launch.error is None
        assert launch.custom["laurels_badgeclass_id"] == badge["entityId"]
        assert launch.custom["laurels_issuer_id"] == issuer["entityId"]
        assert launch.custom["laurels_location"] == "badgeclass"
        assert launch.roles == [ADMINISTRATOR]
        # A sub for this tool only: not the entityId the owner's API tokens see.
        roster_sub = launch.claims["sub"]
        assert roster_sub and roster_sub != owner_sub
        assert launch.claims["aud"] in (platform.client_id, [platform.client_id])
        claim = page.locator('[data-claim="Badge class"]')
        assert claim.inner_text() == badge["entityId"]

        # A nonce the tool did not keep: Laurels signs it, the tool's validation refuses.
        tool.misbehave = "wrong_nonce"
        press(page, badge_url, "Roster Tool")
        page.wait_for_url(tool.launch_url)
        assert page.locator("h1").inner_text() == "Launch refused"
        assert tool.launches[-1].error == "Invalid Nonce"

        # The same nonce twice: the first launch goes, Laurels refuses the second.
        tool.misbehave = "fixed_nonce"
        press(page, badge_url, "Roster Tool")
        page.wait_for_url(tool.launch_url)
        assert page.locator("h1").inner_text() == "Launch accepted"
        assert tool.launches[-1].claims["sub"] == roster_sub  # stable for the tool
        launches = len(tool.launches)
        with page.expect_response(lambda answer: "/lti/authorize" in answer.url) as answer:
            press(page, badge_url, "Roster Tool")
        assert answer.value.status == 400
        page.wait_for_url(f"{base}/lti/authorize?**")
        assert "nonce was used before" in refusal_text(page)
        assert len(tool.launches) == launches

        # A launch that expired before the tool's authorization request came back.
        tool.misbehave = "hold"
        press(page, badge_url, "Roster Tool")
        page.wait_for_url(f"{tool.login_url}")
        age_launches(server)
        with page.expect_response(lambda answer: "/lti/authorize" in answer.url) as answer:
            page.get_by_role("link", name="Continue to the platform").click()
        assert answer.value.status == 400
        page.wait_for_url(f"{base}/lti/authorize?**")
        assert "expired" in refusal_text(page)
        assert len(tool.launches) == launches

        # A redirect_uri that is not the registered launch URL: refused, never posted to.
        tool.misbehave = "other_redirect_uri"
        with page.expect_response(lambda answer: "/lti/authorize" in answer.url) as answer:
            press(page, badge_url, "Roster Tool")
        assert answer.value.status == 400
        page.wait_for_url(f"{base}/lti/authorize?**")
        assert "redirect_uri is not the launch URL" in refusal_text(page)
        assert "/elsewhere" not in tool.paths_seen
        check_page(page, "lti-authorize-refused")

        # A second tool the owner connects sees them under another sub.
        tool.misbehave = None
        tool.trust(register_tool(portal, base, grades, tool))
        connect(owner, base, grades, tool)
        press(page, badge_url, "Grades Tool")
        page.wait_for_url(tool.launch_url)
        assert page.locator("h1").inner_text() == "Launch accepted", page.content()
        grades_sub = tool.launches[-1].claims["sub"]
        assert page.locator('[data-claim="sub"]').inner_text() == grades_sub
        assert grades_sub not in (roster_sub, owner_sub, "")

        # A tool the owner never connected: no button, and a forged launch is refused
        # (the same POST for the connected tool is answered, so the refusal is not CSRF's).
        page.goto(badge_url)
        token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()

        def forged(client_id: str) -> Any:
            return owner.request.post(
                f"{base}/lti/launch",
                form={
                    "csrfmiddlewaretoken": token,
                    "tool": client_id,
                    "location": "badgeclass",
                    "entity": badge["entityId"],
                },
                headers={"Referer": badge_url},
                max_redirects=0,
            )

        assert forged(platform.client_id).status == 200
        refused = forged(stranger_platform.client_id)
        assert refused.status == 403, refused.text()
        assert "not connected Stranger Tool" in refused.text()
        assert "lti_message_hint" not in refused.text()
        developer.close()
        owner.close()
