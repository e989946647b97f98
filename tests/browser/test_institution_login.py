"""Log in with your institution, in Chromium: a second live Laurels is the upstream OpenID
Connect provider. People click "Log in with Example University", log in there, allow,
and land signed in here: a new account, an existing one linked by a verified address, a
sign-up nobody proved left unlinked; a refusal upstream gets a page; an account links
and unlinks itself from its settings. The log-in page with the button, the refusal page
and the account page pass check_page at 1280 px and 390 px.

The browser reaches this server as `localhost` and the upstream as `127.0.0.1`: cookies
ignore ports, and two Laurels on one host name would overwrite each other's session."""

from __future__ import annotations

import contextlib
import sqlite3
from urllib.parse import urlsplit

import pytest

from tests.accounts.test_institution_login import here_env, upstream_app
from tests.browser.pages import WIDTHS, check_page, page_at
from tests.servers import PASSWORD, laurels_cli, laurels_server, mail_settled

pytestmark = [pytest.mark.server, pytest.mark.browser]

UNI = "Example University"
NEWCOMER = "nora.new@uni.example.edu"
KNOWN = "kim.known@uni.example.edu"
PENDING = "pat.pending@uni.example.edu"
LINKER_THERE = "lee.linker@uni.example.edu"
LINKER_HERE = "lee@home.example.org"


def shell(server, code: str) -> str:
    return laurels_cli(server, "manage", "shell", "-c", code)


def linked_accounts(server) -> dict[str, int]:
    """{email: user id} of the accounts here that have an institution link."""
    with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db:
        rows = db.execute(
            "SELECT u.email, u.id FROM accounts_institutionlink l "
            "JOIN accounts_user u ON u.id = l.user_id"
        ).fetchall()
    return dict(rows)


def account_ids(server, email: str) -> list[int]:
    with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db:
        rows = db.execute("SELECT id FROM accounts_user WHERE email = ?", (email,)).fetchall()
    return [row[0] for row in rows]


def log_in_upstream(page, upstream_url: str, email: str, *, allow: bool | None = True) -> None:
    """At the upstream: its log-in form, then its consent page (`allow=None`: none, the
    person allowed this server before)."""
    page.wait_for_url(f"{upstream_url}/accounts/login/**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    if allow is None:
        return
    page.wait_for_url(f"{upstream_url}/o/authorize**")
    page.get_by_role("button", name="Allow" if allow else "Deny").click()


def institution_log_in(chromium, here_url: str, upstream_url: str, email: str, allow=True):
    """A fresh browser logs in here through the upstream; its context and page."""
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{here_url}/accounts/login/")
    page.get_by_role("link", name=f"Log in with {UNI}").click()
    log_in_upstream(page, upstream_url, email, allow=allow)
    page.wait_for_url(f"{here_url}/")
    return context, page


def test_log_in_with_a_second_laurels_as_the_institution(tmp_path, chromium):
    with laurels_server(tmp_path / "upstream") as upstream:
        for email in (NEWCOMER, KNOWN, PENDING, LINKER_THERE):
            laurels_cli(upstream, "createuser", email, "--password", PASSWORD)
        app = upstream_app(upstream, "http://localhost/oidc/callback/")
        with laurels_server(tmp_path / "here", **here_env(upstream.base_url, app)) as here:
            here_url = f"http://localhost:{urlsplit(here.base_url).port}"
            # Registered once this server's port is known, as an operator would.
            shell(
                upstream,
                "from laurels.connect.models import Application; "
                f"Application.objects.filter(client_id={app['client_id']!r})"
                f".update(redirect_uris={here_url + '/oidc/callback/'!r})",
            )
            laurels_cli(here, "createuser", KNOWN, "--password", PASSWORD)
            laurels_cli(here, "createuser", LINKER_HERE, "--password", PASSWORD)
            pending_id = shell(
                here,
                "from laurels.accounts.services import user_create; "
                f"print(user_create(email={PENDING!r}, password={PASSWORD!r}).pk)",
            ).strip()

            context = chromium.new_context()
            for width in WIDTHS:
                with page_at(context, f"{here_url}/accounts/login/", width) as page:
                    assert page.get_by_role("link", name=f"Log in with {UNI}").is_visible()
                    check_page(page, "institution-login")
            context.close()

            # A person with no account here gets one, verified as the upstream said.
            context, page = institution_log_in(chromium, here_url, upstream.base_url, NEWCOMER)
            assert page.locator(".who").inner_text() == NEWCOMER
            context.close()
            assert NEWCOMER in linked_accounts(here)

            # An account here whose address is verified is the one the person gets.
            known_id = account_ids(here, KNOWN)
            context, page = institution_log_in(chromium, here_url, upstream.base_url, KNOWN)
            assert page.locator(".who").inner_text() == KNOWN
            context.close()
            assert [linked_accounts(here)[KNOWN]] == known_id

            # A sign-up here that never proved the address is not joined: the person gets
            # an account of their own, and the unproven claim goes.
            context, page = institution_log_in(chromium, here_url, upstream.base_url, PENDING)
            context.close()
            assert str(linked_accounts(here)[PENDING]) != pending_id
            assert account_ids(here, PENDING) == [linked_accounts(here)[PENDING]]

            refused_at_upstream(chromium, here_url, upstream.base_url)
            link_and_unlink(chromium, here, here_url, upstream.base_url)
            assert "Traceback" not in here.log()


def refused_at_upstream(chromium, here_url: str, upstream_url: str) -> None:
    """Deny at the upstream's consent page (a person who never allowed this server there):
    back here, a page saying so and the way back."""
    context = chromium.new_context()
    for width in WIDTHS:
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{here_url}/accounts/login/")
        page.get_by_role("link", name=f"Log in with {UNI}").click()
        if width == WIDTHS[0]:
            log_in_upstream(page, upstream_url, LINKER_THERE, allow=False)
        else:  # logged in there already
            page.wait_for_url(f"{upstream_url}/o/authorize**")
            page.get_by_role("button", name="Deny").click()
        page.wait_for_url(f"{here_url}/oidc/callback/**")
        assert "cancelled or refused" in page.get_by_role("alert").inner_text()
        assert page.get_by_role("link", name="Back to log in").is_visible()
        check_page(page, "institution-refused")
        page.close()
    context.close()


def link_and_unlink(chromium, here, here_url: str, upstream_url: str) -> None:
    """An account with a password links its upstream identity from the account page (its
    password asked first, a wrong one refused), then logs in with it, then unlinks it;
    each change is mailed to it."""
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{here_url}/accounts/login/")
    page.get_by_label("Email").fill(LINKER_HERE)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{here_url}/")
    page.close()
    for width in WIDTHS:
        with page_at(context, f"{here_url}/account/", width) as page:
            assert "Not linked" in page.locator("#institution-heading + p").inner_text()
            check_page(page, "account-institution")
        with page_at(context, f"{here_url}/oidc/link/", width) as page:
            assert page.get_by_label("Current password").is_visible()
            check_page(page, "institution-link")
    page = context.new_page()
    page.goto(f"{here_url}/account/")
    page.get_by_role("link", name=f"Link {UNI}").click()
    page.wait_for_url(f"{here_url}/oidc/link/")
    continue_to = page.get_by_role("button", name=f"Continue to {UNI}")
    page.get_by_label("Current password").fill("not my password")
    continue_to.click()
    assert "This is not your current password." in page.locator(".has-error").inner_text()
    check_page(page, "institution-link-error")
    page.get_by_label("Current password").fill(PASSWORD)
    continue_to.click()
    log_in_upstream(page, upstream_url, LINKER_THERE)
    page.wait_for_url(f"{here_url}/account/")
    assert "Your account is linked" in page.locator(".messages").inner_text()
    assert "Linked since" in page.content()
    check_page(page, "account-institution-linked")
    other_context, other = institution_log_in(
        chromium, here_url, upstream_url, LINKER_THERE, allow=None
    )
    assert other.locator(".who").inner_text() == LINKER_HERE
    other_context.close()
    page.get_by_role("button", name=f"Unlink {UNI}").click()
    page.wait_for_url(f"{here_url}/account/")
    assert "unlinked" in page.locator(".messages").inner_text()
    assert page.get_by_role("link", name=f"Link {UNI}").is_visible()
    context.close()
    # The owner was told of both, by mail (printed on the console: no SMTP here).
    mail_settled(here)
    assert f"Subject: An account at {UNI} was linked to your Laurels account" in here.log()
    assert f"Subject: {UNI} was unlinked from your Laurels account" in here.log()
