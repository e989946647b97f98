"""Attacks on accounts against a live server: credentials that outlive a password reset or
change, ways in for an address nobody proved, taking an address by signing up for it
first, and learning who has an account by adding them as staff.

Emails are read where the server prints them (its console log), as a person would read
their inbox; each helper reads only what was printed after the action it follows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    set_token_value,
)

from laurels.accounts import services as accounts
from laurels.issuing import services as issuing
from laurels.issuing.models import IssuerStaff, StaffInvitation
from tests.connect.oauth_helpers import register_app
from tests.factories import DEFAULT_PASSWORD, IssuerFactory, UserFactory, png_data_uri
from tests.servers import PASSWORD, RunningServer, issuer_with_badge

pytestmark = pytest.mark.server

TIMEOUT = 30
NEW_PASSWORD = "another sturdy passphrase"
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
IDToken = get_id_token_model()
Grant = get_grant_model()


# --- helpers: a person with a browser and an inbox --------------------------------------------


def wait_for(predicate: Callable[[], object], timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


class Inbox:
    """The emails the server prints after this point of its log (Django's console email
    backend ends each message with a line of 79 dashes)."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.start = len(server.log())

    def messages_to(self, to: str) -> list[str]:
        printed = self.server.log()[self.start :].split("\n" + "-" * 79 + "\n")
        return [m for m in printed if re.search(rf"^To: {re.escape(to)}$", m, re.MULTILINE)]

    def link(self, to: str, path: str) -> str:
        """The first link under `path` in an email to `to` sent since the inbox was opened."""
        pattern = re.compile(rf"{re.escape(self.server.base_url)}{re.escape(path)}\S*")

        def find() -> str | None:
            for message in self.messages_to(to):
                if found := pattern.search(message):
                    return found.group(0)
            return None

        return wait_for(find)

    def subjects_to(self, to: str) -> list[str]:
        return [
            re.search(r"^Subject: (.*)$", m, re.MULTILINE).group(1) for m in self.messages_to(to)
        ]


def csrf(browser: httpx.Client, path: str) -> str:
    page = browser.get(path)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def browser_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=TIMEOUT)


def web_login(server: RunningServer, email: str, password: str = PASSWORD) -> httpx.Client:
    """A browser logged in through the log-in page (asserted)."""
    browser = browser_for(server)
    answer = browser.post(
        "/accounts/login/",
        data={
            "csrfmiddlewaretoken": csrf(browser, "/accounts/login/"),
            "username": email,
            "password": password,
        },
    )
    assert answer.status_code == 302, answer.text[:300]
    return browser


def web_signup(server: RunningServer, email: str, password: str) -> str:
    """Sign up through the form; the verification link emailed for this sign-up."""
    inbox = Inbox(server)
    with browser_for(server) as browser:
        answer = browser.post(
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": csrf(browser, "/accounts/signup/"),
                "email": email,
                "password1": password,
                "password2": password,
            },
        )
    assert answer.status_code == 200, answer.text[:300]
    return inbox.link(email, "/accounts/verify/")


def password_grant(server: RunningServer, email: str, password: str = PASSWORD) -> httpx.Response:
    """Badgr's password log-in at /o/token (the built-in first-party client)."""
    return httpx.post(
        f"{server.base_url}/o/token",
        data={"username": email, "password": password},
        timeout=TIMEOUT,
    )


def tokens_for(server: RunningServer, email: str, password: str = PASSWORD) -> dict:
    answer = password_grant(server, email, password)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(server: RunningServer, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/o/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "public"},
        timeout=TIMEOUT,
    )


def as_bearer(server: RunningServer, access_token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {access_token}"},
    )


def me_status(client: httpx.Client) -> int:
    """The status of `GET /v2/users/self` for this browser session or token."""
    return client.get("/v2/users/self").status_code


def bearer_status(server: RunningServer, access_token: str) -> int:
    with as_bearer(server, access_token) as client:
        return me_status(client)


@pytest.fixture
def browsers() -> Iterator[list[httpx.Client]]:
    """Browsers a test opened, closed at its end."""
    opened: list[httpx.Client] = []
    yield opened
    for browser in opened:
        browser.close()


# --- 1. a password reset ends every session and token ------------------------------------------


def test_a_password_reset_ends_every_session_and_token(live, account, browsers):
    """The account was stolen: the thief holds a session, an access token and a refresh
    token. The owner resets the password by email; none of the thief's keys still opens."""
    email = "reset-victim@example.org"
    account(email)
    thief_tokens = tokens_for(live, email)
    thief_browser = web_login(live, email)
    browsers.append(thief_browser)
    assert bearer_status(live, thief_tokens["access_token"]) == 200
    assert me_status(thief_browser) == 200

    inbox = Inbox(live)
    owner = browser_for(live)
    browsers.append(owner)
    asked = owner.post(
        "/accounts/password/reset/",
        data={"csrfmiddlewaretoken": csrf(owner, "/accounts/password/reset/"), "email": email},
    )
    assert asked.status_code == 302
    form_page = owner.get(inbox.link(email, "/accounts/password/reset/"), follow_redirects=True)
    assert form_page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page.text).group(1)
    done = owner.post(
        str(form_page.url),
        data={
            "csrfmiddlewaretoken": token,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302, done.text[:300]

    assert bearer_status(live, thief_tokens["access_token"]) == 401
    refreshed = refresh(live, thief_tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert me_status(thief_browser) == 401
    assert password_grant(live, email, NEW_PASSWORD).status_code == 200


# --- 2. a password change keeps the current session or token and ends the others --------------


def test_changing_the_password_on_the_page_keeps_this_session_only(live, account, browsers):
    email = "page-changer@example.org"
    account(email)
    here = web_login(live, email)
    elsewhere = web_login(live, email)
    browsers.extend([here, elsewhere])
    app_tokens = tokens_for(live, email)

    home = here.get("/")
    assert 'href="/accounts/password/change/"' in home.text
    changed = here.post(
        "/accounts/password/change/",
        data={
            "csrfmiddlewaretoken": csrf(here, "/accounts/password/change/"),
            "current_password": PASSWORD,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302, changed.text[:300]

    assert me_status(here) == 200
    assert me_status(elsewhere) == 401
    assert bearer_status(live, app_tokens["access_token"]) == 401
    assert refresh(live, app_tokens["refresh_token"]).json().get("error") == "invalid_grant"
    assert password_grant(live, email, NEW_PASSWORD).status_code == 200


def test_changing_the_password_through_the_api_keeps_the_calling_token_only(
    live, account, browsers
):
    email = "api-changer@example.org"
    account(email)
    calling = tokens_for(live, email)
    other = tokens_for(live, email)
    session = web_login(live, email)
    browsers.append(session)

    with as_bearer(live, calling["access_token"]) as api:
        wrong = api.put(
            "/v2/users/self", json={"currentPassword": "not my password", "password": NEW_PASSWORD}
        )
        assert wrong.status_code == 400, wrong.text
        assert "currentPassword" in wrong.json()["fieldErrors"]
        assert password_grant(live, email, NEW_PASSWORD).status_code != 200

        changed = api.put(
            "/v2/users/self", json={"currentPassword": PASSWORD, "password": NEW_PASSWORD}
        )
        assert changed.status_code == 200, changed.text
        assert me_status(api) == 200

    assert refresh(live, calling["refresh_token"]).status_code == 200
    assert bearer_status(live, other["access_token"]) == 401
    assert refresh(live, other["refresh_token"]).json().get("error") == "invalid_grant"
    assert me_status(session) == 401
    assert password_grant(live, email, PASSWORD).status_code != 200
    assert password_grant(live, email, NEW_PASSWORD).status_code == 200


# --- 3. no way in without a verified address ---------------------------------------------------


def test_an_unverified_account_gets_no_token_and_no_issuer_by_any_way(live):
    email = "never-verified@example.org"
    web_signup(live, email, PASSWORD)

    granted = password_grant(live, email)
    assert granted.status_code in (400, 401), granted.text
    assert "access_token" not in granted.text

    with browser_for(live) as browser:
        # The authorization-code flow sends them to the log-in page, which refuses them.
        authorize = "/o/authorize?response_type=code&client_id=api-docs&scope=rw:issuer"
        sent_to_login = browser.get(authorize)
        assert sent_to_login.status_code == 302
        assert "/accounts/login/" in sent_to_login.headers["location"]
        refused = browser.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": csrf(browser, "/accounts/login/"),
                "username": email,
                "password": PASSWORD,
                "next": authorize,
            },
        )
        assert refused.status_code == 400
        assert "verify your email address" in refused.text
        assert me_status(browser) == 401
        made = browser.post(
            "/v2/issuers",
            json={"name": "Squat", "url": "https://squat.example.org", "email": email},
        )
        assert made.status_code in (401, 403)


# --- 4. sign-up pre-hijacking: whoever proves the address gets it ------------------------------


def test_the_person_who_proves_the_address_gets_it_and_its_awards(live, account):
    """The attacker signs up for the victim's address after the victim did (and before
    the victim clicked): the victim's link still works, the address and an award made to
    it meanwhile are the victim's, and the attacker's link is dead."""
    address = "contested@example.org"
    issuer_api = account("awarding-issuer@example.org")
    _, badge = issuer_with_badge(issuer_api, "Contest Academy", image=png_data_uri())

    victim_link = web_signup(live, address, "the victim's passphrase")
    attacker_link = web_signup(live, address, "the attacker's passphrase")
    awarded = issuer_api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": address}},
    )
    assert awarded.status_code == 201, awarded.text

    with browser_for(live) as victim:
        # Two accounts claim the address, so the link asks whose sign-up it confirms.
        asked = victim.get(victim_link)
        assert asked.status_code == 200 and 'name="password"' in asked.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', asked.text).group(1)
        proven = victim.post(
            victim_link, data={"csrfmiddlewaretoken": token, "password": "the victim's passphrase"}
        )
        assert proven.status_code == 200 and "is verified" in proven.text
    with browser_for(live) as attacker:
        assert attacker.get(attacker_link).status_code == 400

    assert password_grant(live, address, "the attacker's passphrase").status_code != 200
    victim_tokens = tokens_for(live, address, "the victim's passphrase")
    with as_bearer(live, victim_tokens["access_token"]) as victim_api:
        emails = victim_api.get("/v2/users/self").json()["result"][0]["emails"]
        assert emails == [{"email": address, "verified": True, "primary": True}]
        held = victim_api.get("/v2/backpack/assertions").json()["result"]
        assert [a["badgeclass"]["openBadgeId"] for a in held] == [badge["openBadgeId"]]


# --- 5. staff invitations: the same answer whether or not the address has an account ----------


def answer_shape(answer: httpx.Response) -> object:
    """The answer with the email and role it echoes left out: what may not differ."""

    def blank(value):
        if isinstance(value, dict):
            return {k: "..." if k in ("email", "role") else blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        return value

    return (
        answer.status_code,
        dict(answer.headers.items()).get("content-type"),
        blank(answer.json()),
    )


def test_staff_are_invited_by_email_with_the_same_answer_either_way(live, account):
    owner = account("invitation-owner@example.org")
    member_email = "has-an-account@example.org"
    member = account(member_email)
    issuer, _ = issuer_with_badge(owner, "Invitation Guild")
    staff_path = f"/v2/issuers/{issuer['entityId']}/staff"

    inbox = Inbox(live)
    known = owner.post(staff_path, json={"email": "has-an-account@example.org", "role": "staff"})
    unknown = owner.post(staff_path, json={"email": "no-account-yet@example.org", "role": "editor"})
    assert known.status_code == unknown.status_code == 202, (known.text, unknown.text)
    assert answer_shape(known) == answer_shape(unknown)

    # The account holder is staff now, and told so.
    assert wait_for(lambda: any("Invitation Guild" in s for s in inbox.subjects_to(member_email)))
    assert member.get(f"/v2/issuers/{issuer['entityId']}").status_code == 200

    # The other address is invited: the owner sees the invitation, and it can be cancelled.
    signup_link = inbox.link("no-account-yet@example.org", "/accounts/signup/")
    assert signup_link
    invitations = owner.get(f"{staff_path}/invitations").json()["result"]
    assert [(i["email"], i["role"]) for i in invitations] == [
        ("no-account-yet@example.org", "editor")
    ]
    assert member.get(f"{staff_path}/invitations").status_code == 403

    owner.post(staff_path, json={"email": "cancelled@example.org", "role": "staff"})
    cancelled = next(
        i
        for i in owner.get(f"{staff_path}/invitations").json()["result"]
        if i["email"] == "cancelled@example.org"
    )
    assert owner.delete(f"{staff_path}/invitations/{cancelled['entityId']}").status_code == 200

    # Signing up and proving the address makes them staff, once.
    with browser_for(live) as browser:
        verify = web_signup(live, "no-account-yet@example.org", "a newcomer's passphrase")
        assert browser.get(verify).status_code == 200
        verify = web_signup(live, "cancelled@example.org", "a newcomer's passphrase")
        assert browser.get(verify).status_code == 200
    newcomer = tokens_for(live, "no-account-yet@example.org", "a newcomer's passphrase")
    with as_bearer(live, newcomer["access_token"]) as newcomer_api:
        seen = newcomer_api.get(f"/v2/issuers/{issuer['entityId']}")
        assert seen.status_code == 200, seen.text
    roles = {s["email"]: s["role"] for s in owner.get(staff_path).json()["result"]}
    assert roles == {
        "invitation-owner@example.org": "owner",
        "has-an-account@example.org": "staff",
        "no-account-yet@example.org": "editor",
    }
    assert owner.get(f"{staff_path}/invitations").json()["result"] == []


# --- in-process checks of the same rules, at the edges a live server cannot reach cheaply -----


def in_seconds(seconds: int) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


@pytest.mark.django_db
def test_a_session_ends_when_its_account_holds_no_verified_address():
    """A session made while the address was verified (or before verification was
    enforced) stops working once no verified address is left."""
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    assert browser.get("/v2/users/self").status_code == 200
    user.email_addresses.update(verified=False)
    assert browser.get("/v2/users/self").status_code == 401


@pytest.mark.django_db
def test_a_password_change_keeps_only_the_named_token_and_its_refresh_token():
    user = UserFactory()
    app = register_app().application
    made = []
    for n in range(2):
        id_token = IDToken.objects.create(user=user, application=app, expires=in_seconds(3600))
        access = AccessToken(
            user=user, application=app, expires=in_seconds(3600), scope="r:profile"
        )
        access.id_token = id_token
        set_token_value(access, f"access-{n}")
        access.save()
        refresh = RefreshToken(user=user, application=app, access_token=access)
        set_token_value(refresh, f"refresh-{n}")
        refresh.save()
        made.append((access, refresh, id_token))
    Grant.objects.create(
        user=user,
        application=app,
        code="pending-code",
        expires=in_seconds(60),
        redirect_uri="https://app.example.org/callback",
    )
    (kept, kept_refresh, kept_id), (_, other_refresh, _) = made

    accounts.password_change(
        user=user,
        current_password=DEFAULT_PASSWORD,
        new_password=NEW_PASSWORD,
        keep_access_token_id=kept.pk,
    )

    assert list(AccessToken.objects.filter(user=user)) == [kept]
    assert RefreshToken.objects.get(pk=kept_refresh.pk).revoked is None
    assert RefreshToken.objects.get(pk=other_refresh.pk).revoked is not None
    assert list(IDToken.objects.filter(user=user)) == [kept_id]
    assert not Grant.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_an_invitation_is_used_once_and_not_after_it_expires():
    owner = UserFactory()
    late, timely = IssuerFactory(owner=owner), IssuerFactory(owner=owner)
    for issuer in (late, timely):
        issuing.staff_invite(issuer=issuer, email="invitee@example.org", role="staff", actor=owner)
    StaffInvitation.objects.filter(issuer=late).update(expires_at=in_seconds(-1))

    user = accounts.user_create(email="invitee@example.org", password=PASSWORD, verified=True)

    joined = IssuerStaff.objects.filter(user=user).values_list("issuer", flat=True)
    assert list(joined) == [timely.pk]
    assert not StaffInvitation.objects.exists()
