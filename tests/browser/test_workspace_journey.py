"""Issue 18's "Must show" in Chromium against one live `laurels serve` (shared by the
module's tests; its embedded jobs runner sends the mail and awards the batch):

1. a new owner signs up (verified by the mailed link), creates an issuer with an image,
   defines a badge class with an SVG image and invites a colleague as staff; the colleague
   signs up, accepts by the mailed invitation link and awards the badge;
2. the owner awards one person by the form and 1,000 from a CSV: one bad row is reported
   by line and nothing is awarded until the fixed file is sent; the batch reaches 100 %
   and its result CSV downloads;
3. the owner revokes an award with a reason and its public page says "Revoked";
4. a developer registers an app in the portal, a person authorizes it (PKCE) on the
   consent page, the app reads the backpack, the developer rotates the secret and the old
   one is refused at /o/token while the new one works;
5. an admin approves a pending app from the admin's review queue, and the consent page
   then shows instead of the "cannot connect" page.

Every page walked passes check_page at 1280 px and, re-laid out in place, at 390 px
(screenshots workspace-*).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.browser.pages import HEIGHT, WIDTHS, check_page
from tests.browser.test_award_pages import choose, rows
from tests.browser.test_developer_portal import token_answer
from tests.browser.test_journey import log_in_from_verified_page, sign_up, verify_by_mailed_link
from tests.browser.test_layout import log_in
from tests.factories import png_bytes
from tests.security.test_accounts import Inbox
from tests.servers import (
    PASSWORD,
    RunningServer,
    api_client_for,
    issuer_with_badge,
    laurels_cli,
    laurels_server,
)

pytestmark = [pytest.mark.server, pytest.mark.browser]

ISSUER = "Harbour Sailing Club"
BADGE = "Knot Tying"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">'
    b'<circle cx="60" cy="60" r="50" fill="#2f6b3a"/></svg>'
)
REDIRECT_URI = "https://wall.example.org/callback"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    with laurels_server(tmp_path_factory.mktemp("workspace") / "var") as running:
        yield running


@dataclass
class Actor:
    """One person in one browser context; duck-types test_journey's Person for its
    sign-up, verification and log-in steps."""

    server: RunningServer
    page: Any
    email: str
    password: str = PASSWORD

    @property
    def origin(self) -> str:
        return self.server.base_url

    def browser_url(self, url: str) -> str:
        return url

    def go(self, path: str) -> None:
        answer = self.page.goto(self.origin + path)
        assert answer.status == 200, f"{path}: {answer.status}"

    def check(self, name: str) -> None:
        """check_page at 1280 px, then on the same document re-laid out at 390 px (a
        page made by a POST cannot be fetched again)."""
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": HEIGHT})
            check_page(self.page, f"workspace-{name}")
        self.page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})


def actor(chromium, server: RunningServer, email: str) -> Actor:
    context = chromium.new_context(
        viewport={"width": WIDTHS[0], "height": HEIGHT}, accept_downloads=True
    )
    return Actor(server=server, page=context.new_page(), email=email)


def signed_up(chromium, server: RunningServer, email: str) -> Actor:
    """A new person through the sign-up page, verified by the mailed link, logged in."""
    person = actor(chromium, server, email)
    inbox = Inbox(server)
    sign_up(person)
    verify_by_mailed_link(person, inbox, email, f"sign-up-{email.split('@')[0]}")
    log_in_from_verified_page(person)
    return person


def messages_text(page: Any) -> str:
    return page.locator(".messages").inner_text()


# --- 1. the issuer, its badge class, its staff ---------------------------------------------


def create_issuer(owner: Actor) -> str:
    """With an image (previewed before upload); the issuer's entityId."""
    page = owner.page
    owner.go("/issuers/")
    owner.check("issuers-none")
    page.get_by_role("link", name="Create your first issuer").click()
    page.wait_for_url(f"{owner.origin}/issuers/new/")
    page.get_by_label("Name").fill(ISSUER)
    page.get_by_label("Website").fill("https://sailing.example.org")
    page.get_by_label("Contact email").select_option(owner.email)
    page.get_by_label("Image (PNG or SVG)").set_input_files(
        {"name": "club.png", "mimeType": "image/png", "buffer": png_bytes((96, 96))}
    )
    owner.check("issuer-new")
    page.get_by_role("button", name="Create issuer").click()
    page.wait_for_url(re.compile(r"/issuers/[^/]+/$"))
    assert "Issuer made." in messages_text(page)
    assert page.locator("h1").inner_text() == ISSUER
    logo = page.locator(".issuer-header img")
    assert logo.evaluate("i => i.complete && i.naturalWidth") == 96
    owner.check("issuer-dashboard")
    return page.url.rstrip("/").rsplit("/", 1)[1]


def create_badge_class(owner: Actor, issuer: str) -> str:
    """With an SVG image; the badge class's page URL."""
    page = owner.page
    badges = f"{owner.origin}/issuers/{issuer}/badges/"
    owner.go(f"/issuers/{issuer}/badges/new/")
    page.locator("#id_name").fill(BADGE)
    page.locator("#id_description").fill("Ties the six knots every sailor needs.")
    page.get_by_label("Image").set_input_files(
        {"name": "knots.svg", "mimeType": "image/svg+xml", "buffer": SVG}
    )
    page.locator("#id_criteria_narrative").fill("Tie all six knots with your eyes closed.")
    owner.check("badge-class-new")
    page.get_by_role("button", name="Make badge class").click()
    page.wait_for_url(badges + "*/")
    assert "Badge class made." in messages_text(page)
    assert page.locator("img.badge-class-image").evaluate("i => i.naturalWidth") > 0
    owner.check("badge-class")
    return page.url


def invite(owner: Actor, issuer: str, colleague: str) -> None:
    page = owner.page
    owner.go(f"/issuers/{issuer}/staff/")
    owner.check("staff")
    page.get_by_label("Email address").fill(colleague)
    page.get_by_label("Role").last.select_option("staff")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_url(f"{owner.origin}/issuers/{issuer}/staff/")
    assert "invited by email as staff" in messages_text(page)
    pending = page.locator("#pending-heading + ul").inner_text()
    assert colleague in pending and "As staff" in pending
    owner.check("staff-invited")


def accept_and_award(colleague: Actor, invitation_link: str, issuer: str, badge_url: str) -> str:
    """The colleague opens the mailed link, accepts, then awards; the award's id."""
    page = colleague.page
    page.goto(invitation_link)
    colleague.check("invitations")
    assert ISSUER in page.locator("main").inner_text()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_load_state()
    colleague.check("invitation-accepted")
    assert page.locator(".connected-app").count() == 0
    colleague.go("/issuers/")
    row = page.locator(".issuer-row", has_text=ISSUER)
    assert "You are staff" in row.inner_text()
    return award_by_form(colleague, badge_url, "first.mate@example.org", "colleague")


def award_by_form(person: Actor, badge_url: str, identity: str, name: str) -> str:
    page = person.page
    page.goto(badge_url + "award/")
    person.check(f"award-{name}")
    page.locator("#id_identity").fill(identity)
    page.get_by_role("button", name="Award", exact=True).click()
    page.wait_for_url(f"{person.origin}/public/assertions/*")
    assert BADGE in page.locator("main").inner_text()
    person.check(f"awarded-{name}")
    return page.url.rstrip("/").rsplit("/", 1)[1]


# --- 2. a thousand from a CSV ----------------------------------------------------------


def awards_listed(owner: Actor, badge_url: str) -> int:
    """The badge class's award count, as its list of badge classes shows it."""
    owner.page.goto(badge_url.rsplit("/", 2)[0] + "/")
    row = owner.page.locator(".badge-class-list li", has_text=BADGE)
    return int(re.search(r"(\d+) live award", row.inner_text()).group(1))


def award_a_thousand(owner: Actor, badge_url: str) -> None:
    page = owner.page
    before = awards_listed(owner, badge_url)
    page.goto(badge_url + "award/csv/")
    owner.check("award-csv")
    choose(page, rows(bad_line=777))
    problems = page.locator(".problems")
    problems.wait_for()
    assert "Line 777: not-an-address is not a valid email identity." in problems.inner_text()
    owner.check("award-csv-problems")
    assert awards_listed(owner, badge_url) == before  # nothing awarded

    page.goto(badge_url + "award/csv/")
    choose(page, rows())
    page.wait_for_url(re.compile(r"/issuers/[^/]+/batches/[^/]+/$"))
    batch_url = page.url
    owner.check("batch-ready")
    assert awards_listed(owner, badge_url) == before  # checked, not yet awarded
    page.goto(batch_url)
    page.get_by_role("button", name="Award 1000 people").click()
    page.wait_for_url(batch_url)
    page.locator(".batch-summary", has_text="1000 awarded").wait_for(timeout=90_000)
    assert page.locator("progress").get_attribute("value") == "1000"
    assert "(100 %)" in page.locator(".batch-progress").inner_text()
    owner.check("batch-done")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the results (CSV)").click()
    lines = download.value.path().read_text().splitlines()
    assert lines[0] == "line,identity,status,award URL or error"
    assert len(lines) == 1001 and all(",awarded," in line for line in lines[1:])
    assert awards_listed(owner, badge_url) == before + 1000


# --- 3. revoking -------------------------------------------------------------------------


def revoke(owner: Actor, issuer: str, earner: str) -> None:
    page = owner.page
    listing = f"{owner.origin}/issuers/{issuer}/awards/"
    page.goto(f"{listing}?{urlencode({'recipient': earner})}")
    owner.check("awards-search")
    public = page.get_by_role("link", name=f"Public page of the award to {earner}")
    public_url = public.get_attribute("href")
    page.get_by_role("link", name=f"Revoke the award to {earner}").click()
    page.wait_for_url(re.compile(r"/revoke/\?next="))
    owner.check("award-revoke")
    page.get_by_label("Reason").fill("Awarded to the wrong crew")
    page.get_by_role("button", name="Revoke award").click()
    page.wait_for_url(re.compile(re.escape(listing)))
    assert f"Revoked the award to {earner}" in messages_text(page)
    assert page.locator("tr", has_text=earner).locator(".status").inner_text() == "Revoked"
    owner.check("awards-revoked")
    page.goto(public_url)
    assert page.locator(".state").inner_text() == "Revoked"
    assert "Awarded to the wrong crew" in page.locator(".facts").inner_text()
    owner.check("public-revoked")


def test_issuer_workspace_journey(server, chromium):
    owner = signed_up(chromium, server, "skipper@example.org")
    issuer = create_issuer(owner)
    badge_url = create_badge_class(owner, issuer)
    colleague_email = "mate@example.org"
    invitations = Inbox(server)
    invite(owner, issuer, colleague_email)
    colleague = signed_up(chromium, server, colleague_email)
    link = invitations.link(colleague_email, "/account/invitations/")
    colleague_award = accept_and_award(colleague, link, issuer, badge_url)
    award_by_form(owner, badge_url, "deckhand@example.org", "owner")
    award_a_thousand(owner, badge_url)
    revoke(owner, issuer, "learner500@example.org")
    assert colleague_award
    owner.page.context.close()
    colleague.page.context.close()


# --- 4. the developer portal and an app reading the backpack -----------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(base: str, client_id: str, scope: str, challenge: str) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": "w-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{base}/o/authorize?{urlencode(query)}"


def register_app(developer: Actor, name: str, scopes: list[str]) -> tuple[str, str]:
    """Through the portal's form; (client id, secret) as the answer shows them once."""
    page = developer.page
    developer.go("/developer/apps/new/")
    developer.check(f"developer-app-new-{name}")
    page.get_by_label("Name:", exact=True).fill(name)
    page.get_by_label("Redirect URIs").fill(REDIRECT_URI)
    for scope in scopes:
        page.locator(f'input[value="{scope}"]').check()
    page.get_by_label("Website").fill("https://wall.example.org")
    page.get_by_role("button", name="Register the app").click()
    assert page.locator("h1").inner_text() == f"{name} is registered"
    client_id = page.get_by_label("Client ID").input_value()
    secret = page.get_by_label("Client secret").input_value()
    assert client_id and secret
    developer.check(f"developer-app-registered-{name}")
    return client_id, secret


def consent(person: Actor, url: str, app: str, name: str) -> str:
    """Allow on the consent page; the code read from the (blocked) redirect."""
    page = person.page
    page.route("https://wall.example.org/**", lambda route: route.fulfill(body="ok"))
    page.goto(url)
    assert f"{app} wants to connect" in page.locator("h1").inner_text()
    person.check(name)
    with page.expect_request(lambda r: r.url.startswith(REDIRECT_URI)) as callback:
        page.get_by_role("button", name="Allow").click()
    params = parse_qs(urlsplit(callback.value.url).query)
    assert params["state"] == ["w-1"]
    return params["code"][0]


def exchange(base: str, client_id: str, secret: str, code: str, verifier: str) -> dict:
    tokens = token_answer(
        base,
        client_id,
        secret,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_developer_app_reads_the_backpack_and_rotates_its_secret(server, chromium):
    base = server.base_url
    reader = "reader@example.org"
    issuer_api = api_client_for(server, "dean@example.org")
    _, badge = issuer_with_badge(issuer_api, "Harbour College")
    laurels_cli(server, "createuser", reader, "--password", PASSWORD)
    made = issuer_api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions", json={"recipient": {"identity": reader}}
    )
    assert made.status_code == 201, made.text
    issuer_api.close()
    laurels_cli(server, "createuser", "dev@example.org", "--password", PASSWORD)

    developer = actor(chromium, server, "dev@example.org")
    log_in(developer.page.context, base, developer.email)
    client_id, secret = register_app(developer, "Badge Wall", ["r:backpack"])

    person = actor(chromium, server, reader)
    log_in(person.page.context, base, reader)
    verifier, challenge = pkce_pair()
    code = consent(
        person,
        authorize_url(base, client_id, "r:profile r:backpack", challenge),
        "Badge Wall",
        "consent",
    )
    tokens = exchange(base, client_id, secret, code, verifier)
    backpack = httpx.get(
        f"{base}/v2/backpack/assertions",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert backpack.status_code == 200, backpack.text
    assert made.json()["result"][0]["entityId"] in {
        b["entityId"] for b in backpack.json()["result"]
    }

    page = developer.page
    developer.go(f"/developer/apps/{client_id}/")
    developer.check("developer-app")
    page.get_by_role("link", name="Make a new secret…").click()
    developer.check("developer-app-rotate")
    page.get_by_role("button", name="Make a new secret").click()
    new_secret = page.get_by_label("Client secret").input_value()
    assert new_secret and new_secret != secret
    developer.check("developer-app-new-secret")

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refused = token_answer(base, client_id, secret, **refresh)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    renewed = token_answer(base, client_id, new_secret, **refresh)
    assert renewed.status_code == 200, renewed.text
    # A fresh code, exchanged with the old secret then the new one. Consent is on file, so
    # /o/authorize redirects at once: the code is read from that redirect.
    verifier, challenge = pkce_pair()
    again = person.page.context.request.get(
        authorize_url(base, client_id, "r:backpack", challenge), max_redirects=0
    )
    assert again.status == 302 and again.headers["location"].startswith(REDIRECT_URI)
    code = parse_qs(urlsplit(again.headers["location"]).query)["code"][0]
    old = token_answer(
        base,
        client_id,
        secret,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    exchange(base, client_id, new_secret, code, verifier)
    developer.page.context.close()
    person.page.context.close()


# --- 5. an admin approves a pending app ---------------------------------------------------


def test_admin_approves_a_pending_app(server, chromium):
    base = server.base_url
    laurels_cli(server, "createuser", "maker@example.org", "--password", PASSWORD)
    laurels_cli(server, "createuser", "user@example.org", "--password", PASSWORD)
    laurels_cli(server, "createuser", "root@example.org", "--password", PASSWORD, "--admin")

    maker = actor(chromium, server, "maker@example.org")
    log_in(maker.page.context, base, maker.email)
    client_id, _ = register_app(maker, "Issuer Helper", ["rw:issuer"])
    maker.go(f"/developer/apps/{client_id}/")
    assert "Pending review" in maker.page.locator(".developer-app-head").inner_text()

    person = actor(chromium, server, "user@example.org")
    log_in(person.page.context, base, person.email)
    _, challenge = pkce_pair()
    link = authorize_url(base, client_id, "r:profile", challenge)
    person.page.goto(link)
    assert "Issuer Helper is waiting for review" in person.page.locator(".consent").inner_text()
    person.check("app-pending")

    admin = actor(chromium, server, "root@example.org").page
    admin.goto(f"{base}/admin/login/?next=/admin/")
    admin.locator("#id_username").fill("root@example.org")
    admin.locator("#id_password").fill(PASSWORD)
    admin.locator("input[type=submit]").click()
    admin.wait_for_url(f"{base}/admin/")
    admin.get_by_role("link", name="Review queue: apps pending review").click()
    admin.wait_for_url(re.compile(r"/admin/connect/application/\?review__exact=pending"))
    listed = admin.locator("#result_list tbody tr")
    assert listed.count() == 1 and "Issuer Helper" in listed.inner_text()
    listed.locator("input[name=_selected_action]").check()
    admin.locator("select[name=action]").select_option("approve")
    admin.get_by_role("button", name="Go").click()
    assert "Approved: 1 app(s)." in admin.locator(".messagelist").inner_text()
    admin.context.close()

    person.page.goto(link)
    assert "Issuer Helper wants to connect" in person.page.locator("h1").inner_text()
    person.check("app-approved-consent")
    maker.page.context.close()
    person.page.context.close()
