"""A person's whole life on Laurels in Chromium, in order (issue 17's "Must show").

They sign up through the page, verify by the link in the mail, receive an award from an
issuer (through the API: that is the issuer app's world), see it on Home, accept it, open
it, put it in a new collection, publish that and open its public page; import a badge
baked by a second Laurels; add and verify a second address and see its award appear;
change the password and see an app's token stop working; find their badges in the zip of
their data; log in through the second Laurels as their institution; turn on two-factor
log-in and log in with a code; and delete the account: the public collection page is
gone, the issuer's hosted award still verifies. Everything after the award is done on
pages. The whole life runs in a 1280 px browser context and again, for another person, in
a 390 px one; every page it walks passes check_page (axe-core, no sideways scroll,
≤ 100 KB; screenshots journey-*).

Cookies are kept per host, not per port, so two Laurels on 127.0.0.1 would overwrite each
other's session cookie in one browser: the person reaches their own Laurels as
`localhost`, the second Laurels as `127.0.0.1`.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers
from tests.accounts.test_institution_login import here_env, upstream_app
from tests.browser.pages import HEIGHT, WIDTHS, check_page
from tests.browser.test_two_factor import code_for
from tests.factories import png_data_uri
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

NEW_PASSWORD = "another sturdy passphrase"
INSTITUTION = "Remote University"
INSTITUTION_PASSWORD = "the university's own passphrase"


@dataclass
class World:
    """The two servers and the issuers awarding on them, shared by both people."""

    here: RunningServer  # the Laurels the person lives on
    origin: str  # `here` as the browser reaches it
    upstream: RunningServer  # a second Laurels: another issuer, and the institution
    issuer_api: httpx.Client  # Harbour College's app on `here`
    badge: dict  # Harbour College's first badge class
    second_badge: dict  # ... and the one awarded to the second address
    remote_api: httpx.Client  # Remote University's app on `upstream`
    remote_badge: dict
    files: Path


@dataclass
class Person:
    """One life: the browser page it is lived in and what it has gathered so far."""

    world: World
    page: Any
    email: str
    second_email: str
    password: str = PASSWORD

    @property
    def origin(self) -> str:
        return self.world.origin

    def check(self, name: str) -> None:
        check_page(self.page, f"journey-{name}")

    def go(self, path: str) -> None:
        answer = self.page.goto(self.origin + path)
        assert answer.status == 200, f"{path}: {answer.status}"

    def browser_url(self, url: str) -> str:
        """A link this server mailed, as this browser reaches the server."""
        return url.replace(self.world.here.base_url, self.origin, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("journey")
    with contextlib.ExitStack() as stack:
        # The upstream fetches the awards of `here` on loopback, which only tests allow.
        upstream = stack.enter_context(
            laurels_server(root / "upstream", LAURELS_ALLOW_PRIVATE_FETCH="true")
        )
        port, env = institution_env(upstream)
        here = stack.enter_context(laurels_server(root / "here", port=port, **env))
        issuer_api = stack.enter_context(api_client_for(here, "dean@harbour.example.org"))
        issuer, badge = issuer_with_badge(
            issuer_api, "Harbour College", badge_name="Knot Tying", image=png_data_uri((200, 200))
        )
        made = issuer_api.post(
            f"/v2/issuers/{issuer['entityId']}/badgeclasses",
            json={
                "name": "Night Watch",
                "description": "Kept the night watch.",
                "image": png_data_uri(),
                "criteriaNarrative": "Stay awake.",
            },
        )
        assert made.status_code == 201, made.text
        remote_api = stack.enter_context(api_client_for(upstream, "registrar@remote.example.org"))
        _, remote_badge = issuer_with_badge(remote_api, INSTITUTION, badge_name="Far Away Badge")
        yield World(
            here=here,
            origin=f"http://localhost:{port}",
            upstream=upstream,
            issuer_api=issuer_api,
            badge=badge,
            second_badge=made.json()["result"][0],
            remote_api=remote_api,
            remote_badge=remote_badge,
            files=root,
        )


def institution_env(upstream: RunningServer) -> tuple[int, dict[str, str]]:
    """The port and environment of the person's Laurels, logging in through `upstream` as
    their institution. The upstream's app names the callback, port included, before that
    server starts with the app's client id: so the port is chosen first."""
    port = servers.free_port()
    app = upstream_app(upstream, f"http://localhost:{port}/oidc/callback/")
    env = here_env(upstream.base_url, app)
    # It fetches from the upstream (discovery, an imported badge) on loopback: tests only.
    return port, {**env, "LAURELS_OIDC_NAME": INSTITUTION, "LAURELS_ALLOW_PRIVATE_FETCH": "true"}


def award(api: httpx.Client, badge: dict, address: str) -> dict:
    made = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": address}},
    )
    assert made.status_code == 201, made.text
    return made.json()["result"][0]


# --- the steps of a life, in order ---------------------------------------------------------


def sign_up(person: Person) -> None:
    """Through the sign-up page; the verification link is mailed."""
    page = person.page
    person.go("/accounts/signup/")
    person.check("sign-up")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("First name").fill("Robin")
    page.get_by_label("Last name").fill("Rivers")
    page.get_by_label("Password:", exact=True).fill(person.password)
    page.get_by_label("Password again").fill(person.password)
    page.get_by_role("button", name="Sign up").click()
    assert page.locator("h1").inner_text() == "Check your inbox"
    assert person.email in page.locator("main").inner_text()
    person.check("sign-up-done")


def verify_by_mailed_link(person: Person, inbox: Inbox, address: str, name: str) -> None:
    """Open the link mailed to `address` and confirm with the password."""
    page = person.page
    page.goto(person.browser_url(inbox.link(address, "/accounts/verify/")))
    person.check(f"{name}-verify")
    page.get_by_label("The password you chose when you signed up").fill(person.password)
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("h1").inner_text() == "Address verified"
    assert address in page.locator("main").inner_text()
    person.check(f"{name}-verified")


def log_in_from_verified_page(person: Person) -> None:
    page = person.page
    page.get_by_role("link", name="Log in").last.click()
    page.wait_for_url(f"{person.origin}/accounts/login/")
    person.check("log-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{person.origin}/")


def accept_on_home_and_open(person: Person, awarded: dict) -> None:
    """The award waits on Home; accepted there, it opens on its own page."""
    page = person.page
    name = person.world.badge["name"]
    waiting = page.locator(".waiting-item")
    assert waiting.count() == 1 and name in waiting.inner_text()
    person.check("home-waiting")
    page.get_by_role("button", name=f"Accept {name}").click()
    page.wait_for_url(f"{person.origin}/")
    assert "Accepted." in page.locator(".messages").inner_text()
    assert page.locator(".waiting-item").count() == 0
    person.check("home-accepted")
    page.locator(".badge-grid").get_by_role("link", name=name).click()
    page.wait_for_url(f"{person.origin}/backpack/badges/{awarded['entityId']}/")
    assert page.locator("h1").inner_text() == name
    assert page.locator("#share-url").input_value() == awarded["openBadgeId"]
    person.check("badge-detail")


def collect_and_publish(person: Person, awarded: dict) -> str:
    """From the badge's page: a new collection, the badge added to it, the collection
    published and its public page opened. Returns the public page's address."""
    page = person.page
    name = person.world.badge["name"]
    page.get_by_role("link", name="Make a collection").click()
    page.wait_for_url(f"{person.origin}/backpack/collections/")
    person.check("collections-none")
    page.get_by_label("Name").fill("Life at sea")
    page.get_by_label("Description").fill("What I learnt on board.")
    page.get_by_role("button", name="Make collection").click()
    page.wait_for_url(f"{person.origin}/backpack/collections/*/")
    collection_url = page.url
    assert "Collection made." in page.locator(".messages").inner_text()
    person.check("collection-new")

    person.go(f"/backpack/badges/{awarded['entityId']}/")
    page.get_by_label("Add to collection").select_option(label="Life at sea")
    page.get_by_role("button", name="Add", exact=True).click()
    assert "Added to “Life at sea”." in page.locator(".messages").inner_text()
    person.check("badge-detail-collected")

    page.goto(collection_url)
    assert name in page.locator(".collection-badges").inner_text()
    page.get_by_role("button", name="Publish").click()
    assert "Published" in page.locator(".messages").inner_text()
    public_url = page.locator("#share-url").input_value()
    person.check("collection-published")
    page.get_by_role("link", name="Open the public page").click()
    page.wait_for_url(public_url)
    assert page.locator("h1").inner_text() == "Life at sea"
    assert name in page.locator(".shared-badges").inner_text()
    verify = page.get_by_role("link", name=f"Verify {name}")
    assert verify.get_attribute("href") == awarded["openBadgeId"]
    assert person.email not in page.content()
    person.check("public-collection")
    return public_url


def import_baked_png(person: Person, baked: Path) -> str:
    """Upload a badge baked by the second Laurels: checked and shown, then added.
    Returns the imported badge's id here."""
    page = person.page
    person.go("/backpack/import/")
    person.check("import")
    page.get_by_label("Baked badge image (PNG or SVG)").set_input_files(str(baked))
    page.get_by_role("button", name="Check the badge").click()
    page.wait_for_load_state()
    name = person.world.remote_badge["name"]
    assert f"Verified: {name}" in page.locator("h2").first.inner_text()
    assert INSTITUTION in page.locator("main").inner_text()
    person.check("import-result")
    page.get_by_role("button", name="Add to my backpack").click()
    page.wait_for_url(f"{person.origin}/backpack/badges/*/")
    assert page.locator("h1").inner_text() == name
    person.check("imported-badge")
    return page.url.rstrip("/").rsplit("/", 1)[1]


def add_second_address(person: Person, awarded: dict) -> None:
    """An award to a second address appears once its mailed link is followed."""
    page = person.page
    inbox = Inbox(person.world.here)
    person.go("/account/emails/")
    person.check("emails")
    page.get_by_label("New email address").fill(person.second_email)
    page.get_by_role("button", name="Add address").click()
    assert "Waiting for its link" in page.locator(".address-list").inner_text()
    person.check("emails-pending")
    verify_by_mailed_link(person, inbox, person.second_email, "second-address")
    person.go("/")
    waiting = page.locator(".waiting-item")
    assert waiting.count() == 1
    assert person.world.second_badge["name"] in waiting.inner_text()
    person.check("home-second-address")
    person.go(f"/backpack/badges/{awarded['entityId']}/")
    assert page.locator("h1").inner_text() == person.world.second_badge["name"]


def app_token(person: Person) -> httpx.Client:
    """An app holding the person's token (Badgr's password grant)."""
    base = person.world.here.base_url
    token = httpx.post(
        f"{base}/o/token", data={"username": person.email, "password": person.password}
    )
    assert token.status_code == 200, token.text
    app = httpx.Client(
        base_url=base,
        timeout=30,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert app.get("/v2/users/self").status_code == 200
    return app


def change_password(person: Person) -> None:
    """This session goes on; the app's token stops working."""
    page = person.page
    app = app_token(person)
    person.go("/accounts/password/change/")
    person.check("password")
    page.get_by_label("Current password").fill(person.password)
    page.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    assert "logged out everywhere else" in page.locator(".messages").inner_text()
    person.password = NEW_PASSWORD
    assert app.get("/v2/users/self").status_code == 401
    app.close()
    person.go("/account/")
    person.check("account")


def export_finds(person: Person, badge_ids: set[str]) -> None:
    """The zip of the person's data holds every badge gathered so far."""
    page = person.page
    person.go("/account/export/")
    person.check("export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    backpack = json.loads(archive.read("backpack.json"))
    assert badge_ids <= {badge["entityId"] for badge in backpack}


def log_in_with_institution(person: Person) -> None:
    """Log out, then in again through the upstream Laurels: its log-in page and its
    consent page, then back here, in the same account (the address both verified)."""
    page = person.page
    upstream = person.world.upstream.base_url
    laurels_cli(
        person.world.upstream, "createuser", person.email, "--password", INSTITUTION_PASSWORD
    )
    page.get_by_role("button", name="Log out").first.click()
    person.go("/accounts/login/")
    page.get_by_role("link", name=f"Log in with {INSTITUTION}").click()
    page.wait_for_url(f"{upstream}/accounts/login/?next=**")
    person.check("institution-log-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(INSTITUTION_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{upstream}/o/authorize?**")
    person.check("institution-consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{person.origin}/")
    assert page.locator(".who").inner_text() == person.email
    assert person.world.badge["name"] in page.locator(".badge-grid").inner_text()
    person.check("home-institution")


def turn_on_two_factor_and_log_in_with_a_code(person: Person) -> None:
    """The secret read off the page makes the codes, as an authenticator app would."""
    page = person.page
    person.go("/account/two-factor/")
    person.check("two-factor-off")
    page.get_by_role("button", name="Turn on").click()
    assert page.get_by_role("img", name="QR code of the secret").is_visible()
    secret = page.locator("#two-factor-secret").inner_text()
    person.check("two-factor-setup")
    page.get_by_label("Code from your app").fill(code_for(secret))
    page.get_by_label("Your password").fill(person.password)
    page.get_by_role("button", name="Turn on").click()
    assert len(page.locator(".recovery-codes code").all_inner_texts()) == 10
    person.check("two-factor-codes")
    page.get_by_role("link", name="I have kept them").click()
    assert "is on" in page.locator(".two-factor").inner_text()
    person.check("two-factor-on")

    page.get_by_role("button", name="Log out").first.click()
    person.go("/accounts/login/?next=/backpack/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{person.origin}/accounts/login/code/?next=/backpack/")
    person.check("log-in-code")
    # The code of the next 30-second step: the one that turned it on is spent.
    page.get_by_label("Code").fill(code_for(secret, drift=1))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{person.origin}/backpack/")
    person.check("backpack")


def delete_account(person: Person, public_url: str, awarded: dict) -> None:
    """The account goes, and its published collection with it; the issuer's award stays
    hosted and verifiable: the upstream Laurels, where the person still has an account
    with the same address, checks it on its import page."""
    page = person.page
    person.go("/account/delete/")
    person.check("delete")
    page.get_by_label("Current password").fill(person.password)
    page.get_by_label("Your email address").fill(person.email)
    page.get_by_role("button", name="Delete my account").click()
    assert page.locator("h1").inner_text() == "Your account was deleted"
    person.check("deleted")

    gone = page.goto(public_url)
    assert gone.status == 404
    person.check("public-collection-gone")
    hosted = httpx.get(awarded["openBadgeId"], headers={"Accept": "application/json"}, timeout=30)
    assert hosted.status_code == 200
    assert hosted.json()["id"] == awarded["openBadgeId"]
    assert "revoked" not in hosted.json()

    # Logged in there again: the 404 above, on 127.0.0.1 too, ended the upstream's
    # session cookie (Django drops a session cookie it does not know).
    upstream = person.world.upstream.base_url
    page.goto(f"{upstream}/accounts/login/?next=/backpack/import/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(INSTITUTION_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{upstream}/backpack/import/")
    page.get_by_label("Assertion URL").fill(awarded["openBadgeId"])
    page.get_by_role("button", name="Check the badge").click()
    page.wait_for_load_state()
    name = person.world.badge["name"]
    assert f"Verified: {name}" in page.locator("h2").first.inner_text()
    checked = page.locator("main").inner_text()
    assert "Harbour College" in checked and "not revoked" in checked
    person.check("deleted-award-verified-elsewhere")


# --- the journey -----------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_a_life_on_laurels(world, chromium, width):
    context = chromium.new_context(
        viewport={"width": width, "height": HEIGHT}, accept_downloads=True
    )
    person = Person(
        world=world,
        page=context.new_page(),
        email=f"robin.{width}@example.org",
        second_email=f"robin.{width}.at.sea.on.a.long.voyage@example.org",
    )
    inbox = Inbox(world.here)
    sign_up(person)
    verify_by_mailed_link(person, inbox, person.email, "sign-up")
    first = award(world.issuer_api, world.badge, person.email)
    log_in_from_verified_page(person)
    accept_on_home_and_open(person, first)
    public_url = collect_and_publish(person, first)

    remote = award(world.remote_api, world.remote_badge, person.email)
    baked = world.files / f"far-away-{width}.png"
    baked.write_bytes(httpx.get(remote["image"], timeout=30).content)
    imported = import_baked_png(person, baked)

    second = award(world.issuer_api, world.second_badge, person.second_email)
    add_second_address(person, second)
    change_password(person)
    export_finds(person, {first["entityId"], imported, second["entityId"]})
    log_in_with_institution(person)
    turn_on_two_factor_and_log_in_with_a_code(person)
    delete_account(person, public_url, first)
    context.close()
