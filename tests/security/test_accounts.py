"""Attacks on accounts against a live server: credentials that outlive a password reset or
change (by any path: the reset link, the admin, the command line), guessing the password
through a connected app, ways in for an address nobody proved, taking an address (and
the staff invitations sent to it) by signing up for it first, flooding an inbox with
verification and invitation mail, and learning who has an account by adding them as staff.

Emails are read where the server prints them (its console log), as a person would read
their inbox; each helper reads only what was printed after the action it follows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    set_token_value,
)

from laurels.accounts import services as accounts
from laurels.accounts.backends import EmailAddressBackend
from laurels.accounts.models import EmailAddress, User
from laurels.issuing import services as issuing
from laurels.issuing.models import IssuerStaff, StaffInvitation
from laurels.jobs.periodic import JOBS, run_due_jobs
from tests.connect.oauth_helpers import register_app
from tests.factories import DEFAULT_PASSWORD, IssuerFactory, UserFactory, png_data_uri
from tests.servers import (
    LAURELS,
    PASSWORD,
    RunningServer,
    issuer_with_badge,
    laurels_cli,
    mail_settled,
    server_env,
)

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
        mail_settled(self.server)  # the jobs runner beside the server sends them
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


def browser_for(server: RunningServer, address: str = "127.0.0.1") -> httpx.Client:
    """A browser whose requests come from the loopback `address`: tests that make failed
    attempts speak from an address of their own, so the log-in limits per client address
    of one test do not touch another's."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, timeout=TIMEOUT, transport=transport)


def web_login(
    server: RunningServer, email: str, password: str = PASSWORD, address: str = "127.0.0.1"
) -> httpx.Client:
    """A browser logged in through the log-in page (asserted)."""
    browser = browser_for(server, address)
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


def web_signup(server: RunningServer, email: str, password: str, address: str = "127.0.0.1") -> str:
    """Sign up through the form; the verification link emailed for this sign-up."""
    inbox = Inbox(server)
    with browser_for(server, address) as browser:
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


def password_grant(
    server: RunningServer, email: str, password: str = PASSWORD, address: str = "127.0.0.1"
) -> httpx.Response:
    """Badgr's password log-in at /o/token (the built-in first-party client)."""
    with browser_for(server, address) as client:
        return client.post("/o/token", data={"username": email, "password": password})


def verify_with_password(browser: httpx.Client, link: str, password: str) -> httpx.Response:
    """Open an emailed verification link and give the sign-up's password on its page."""
    asked = browser.get(link)
    assert asked.status_code == 200 and 'name="password"' in asked.text, asked.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', asked.text).group(1)
    return browser.post(link, data={"csrfmiddlewaretoken": token, "password": password})


def shell(server: RunningServer, code: str) -> str:
    """Run Python against the server's database, as its operator could; the last line."""
    return laurels_cli(server, "manage", "shell", "-c", code).strip().splitlines()[-1]


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

    settings_page = here.get("/account/")
    assert 'href="/accounts/password/change/"' in settings_page.text
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
        assert emails == [{"email": address, "verified": True, "primary": True, "caseVariants": []}]
        held = victim_api.get("/v2/backpack/assertions").json()["result"]
        assert [a["badgeclassOpenBadgeId"] for a in held] == [badge["openBadgeId"]]


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


def invitations_page(browser: httpx.Client) -> httpx.Response:
    page = browser.get("/account/invitations/")
    assert page.status_code == 200, page.text[:300]
    return page


def accept_invitations(browser: httpx.Client) -> int:
    """Press Accept on every invitation the logged-in person's invitations page lists."""
    page = invitations_page(browser)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    accepted = 0
    for invitation in re.findall(r'name="accept" value="([^"]+)"', page.text):
        answer = browser.post(
            "/account/invitations/", data={"csrfmiddlewaretoken": token, "accept": invitation}
        )
        assert answer.status_code == 302, answer.text[:300]
        accepted += 1
    return accepted


def test_staff_join_only_by_accepting_and_owners_learn_nothing_about_accounts(live, account):
    """Adding carol@ (who has an account) used to make her staff at once: the staff list
    showed her with her user entityId, so the owner learned she had an account, and she
    was on an issuer she never agreed to. Everyone is now invited, in the same way; owners
    see invitations only as pending, and a person joins by accepting while logged in."""
    owner_email = "consent-owner@example.org"
    owner = account(owner_email)
    carol_email = "carol@example.org"
    carol = account(carol_email)
    issuer, _ = issuer_with_badge(owner, "Consent Guild")
    staff_path = f"/v2/issuers/{issuer['entityId']}/staff"

    inbox = Inbox(live)
    known = owner.post(staff_path, json={"email": carol_email, "role": "editor"})
    unknown = owner.post(staff_path, json={"email": "nobody@example.org", "role": "editor"})
    assert known.status_code == unknown.status_code == 202, (known.text, unknown.text)
    assert answer_shape(known) == answer_shape(unknown)

    staff = owner.get(staff_path).json()["result"]
    assert [(s["email"], s["role"]) for s in staff] == [(owner_email, "owner")]
    pending = owner.get(f"{staff_path}/invitations").json()["result"]
    assert sorted(i["email"] for i in pending) == [carol_email, "nobody@example.org"]
    assert len({json.dumps(sorted(i)) for i in pending}) == 1  # the same fields for both
    replaced = owner.put(
        staff_path,
        json={
            "staff": [
                {"email": owner_email, "role": "owner"},
                {"email": carol_email, "role": "staff"},
            ]
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert [s["email"] for s in replaced.json()["result"]] == [owner_email]
    assert carol.get(f"/v2/issuers/{issuer['entityId']}").status_code == 404

    # Carol follows the emailed link, logs in and accepts: only now is she staff.
    link = inbox.link(carol_email, "/account/invitations/")
    with closing(web_login(live, carol_email)) as browser:
        page = browser.get(link)
        assert "Consent Guild" in page.text
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        # Scripts only from files (htmx, from /static/); no inline script or style.
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None
        assert "style=" not in page.text
        assert accept_invitations(browser) == 1
        assert 'name="accept"' not in invitations_page(browser).text
    roles = {s["email"]: s["role"] for s in owner.get(staff_path).json()["result"]}
    assert roles == {owner_email: "owner", carol_email: "staff"}
    assert carol.get(f"/v2/issuers/{issuer['entityId']}").status_code == 200

    # Declining ends an invitation too; a cancelled one cannot be accepted.
    dave_email = "dave-declines@example.org"
    account(dave_email)
    owner.post(staff_path, json={"email": dave_email, "role": "staff"})
    cancelled = next(
        i
        for i in owner.get(f"{staff_path}/invitations").json()["result"]
        if i["email"] == "nobody@example.org"
    )
    assert owner.delete(f"{staff_path}/invitations/{cancelled['entityId']}").status_code == 200
    with closing(web_login(live, dave_email)) as browser:
        page = invitations_page(browser)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        (invitation,) = re.findall(r'name="decline" value="([^"]+)"', page.text)
        declined = browser.post(
            "/account/invitations/", data={"csrfmiddlewaretoken": token, "decline": invitation}
        )
        assert declined.status_code == 302
        assert accept_invitations(browser) == 0
    assert owner.get(f"{staff_path}/invitations").json()["result"] == []


def test_invitation_mail_is_limited_and_keeps_the_owners_text_out_of_the_subject(live, account):
    """40 invitations to one address sent 40 mails, with whatever the issuer's name said in
    their subject. Mail to one address is now limited (the invitation is still renewed),
    so is each owner's number of invitations (429 beyond), and the name stays out of the
    subject and is one bounded, quoted line in the body."""
    owner = account("relay-owner@example.org")
    name = "Guild\n\nURGENT: reset your password at https://evil.example " + "x" * 150
    issuer = owner.post(
        "/v2/issuers",
        json={"name": name, "url": "https://relay.example.org", "email": "relay@example.org"},
    ).json()["result"][0]
    staff_path = f"/v2/issuers/{issuer['entityId']}/staff"

    inbox = Inbox(live)
    answers = [
        owner.post(staff_path, json={"email": "target@example.com", "role": "staff"})
        for _ in range(40)
    ]
    assert {a.status_code for a in answers} == {202}
    time.sleep(1)  # the console log is written as the answers go out
    mails = inbox.messages_to("target@example.com")
    assert 1 <= len(mails) <= 3, len(mails)
    for subject in inbox.subjects_to("target@example.com"):
        assert "URGENT" not in subject and "Guild" not in subject, subject
    body = mails[0].split("\n\n", 1)[1]
    (line,) = [line for line in body.splitlines() if "URGENT" in line]
    assert '"Guild URGENT: reset your password' in line
    assert "x" * 100 not in body
    assert not any(line.startswith("URGENT") for line in body.splitlines())

    # One owner's invitations are limited whoever they go to.
    statuses = [
        owner.post(staff_path, json={"email": f"spam-{n}@example.com", "role": "staff"})
        for n in range(15)
    ]
    refused = [a for a in statuses if a.status_code == 429]
    assert refused, [a.status_code for a in statuses]
    assert int(refused[0].headers["Retry-After"]) > 0


def test_an_inviters_invitations_end_when_they_leave_the_staff(live, account):
    """An owner's invitations outlived their removal from the staff."""
    first_email, second_email = "first-owner@example.org", "second-owner@example.org"
    first = account(first_email)
    second = account(second_email)
    issuer, _ = issuer_with_badge(first, "Departing Guild")
    staff_path = f"/v2/issuers/{issuer['entityId']}/staff"
    first.post(staff_path, json={"email": second_email, "role": "owner"})
    with closing(web_login(live, second_email)) as browser:
        assert accept_invitations(browser) == 1
    invited = second.post(staff_path, json={"email": "second-invites@example.org", "role": "staff"})
    assert invited.status_code == 202, invited.text
    first.post(staff_path, json={"email": "first-invites@example.org", "role": "staff"})

    demoted = first.put(
        staff_path,
        json={
            "staff": [
                {"email": first_email, "role": "owner"},
                {"email": second_email, "role": "editor"},
            ]
        },
    )
    assert demoted.status_code == 200, demoted.text
    pending = [i["email"] for i in first.get(f"{staff_path}/invitations").json()["result"]]
    assert pending == ["first-invites@example.org"]


# --- 6. every verification link asks for its sign-up's password ------------------------------


def test_one_click_on_an_attackers_link_gives_them_neither_the_address_nor_its_invitations(
    live, account
):
    """The attacker signs up with an address whose owner has not (an uncontested claim), and
    the owner, who was just invited to an issuer's staff, clicks the link in the mail they
    did not expect. That click verified the attacker's account with the owner's address and
    made it staff. The link now asks for the sign-up's password, which the owner does not
    know; the owner then signs up themselves and accepts the invitation while logged in."""
    victim = "invited-victim@example.org"
    owner = account("prehijack-owner@example.org")
    issuer, _ = issuer_with_badge(owner, "Prehijack Guild")
    staff_path = f"/v2/issuers/{issuer['entityId']}/staff"
    owner.post(staff_path, json={"email": victim, "role": "editor"})

    attacker_link = web_signup(live, victim, "the attacker's passphrase", address="127.0.0.61")
    with browser_for(live, "127.0.0.62") as clicked:
        opened = clicked.get(attacker_link)
        assert opened.status_code == 200 and 'name="password"' in opened.text, opened.text[:300]
        assert "is verified" not in opened.text
        wrong = verify_with_password(clicked, attacker_link, "the victim's passphrase")
        assert wrong.status_code == 400 and "is verified" not in wrong.text
    granted = password_grant(live, victim, "the attacker's passphrase", address="127.0.0.61")
    assert granted.status_code == 400, granted.text
    assert [i["email"] for i in owner.get(f"{staff_path}/invitations").json()["result"]] == [victim]

    # The owner signs up, proves the address with their own password, and accepts.
    own_link = web_signup(live, victim, "the victim's passphrase", address="127.0.0.62")
    with browser_for(live, "127.0.0.62") as browser:
        proven = verify_with_password(browser, own_link, "the victim's passphrase")
        assert proven.status_code == 200 and "is verified" in proven.text
    assert (
        password_grant(live, victim, "the attacker's passphrase", "127.0.0.61").status_code == 400
    )
    with closing(
        web_login(live, victim, "the victim's passphrase", address="127.0.0.62")
    ) as browser:
        assert accept_invitations(browser) == 1
    roles = {s["email"]: s["role"] for s in owner.get(staff_path).json()["result"]}
    assert roles[victim] == "editor"


# --- 7. verification mail: one per resend, a few claims per address ---------------------------


def test_resends_send_one_mail_and_an_address_holds_a_few_claims(live):
    """20 sign-ups for one address and 10 resends made 200 mails: each resend sent one per
    claim. A resend now sends one mail, whose link serves whichever sign-up's password is
    given, and an address holds at most 3 claims (the oldest go)."""
    target = "flooded@example.org"
    inbox = Inbox(live)
    passwords = [f"flooding passphrase {n}" for n in range(5)]
    for password in passwords:
        web_signup(live, target, password, address="127.0.0.71")
    with browser_for(live, "127.0.0.71") as client:
        for _ in range(3):
            token = re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"',
                client.get("/accounts/verify/resend/").text,
            ).group(1)
            answer = client.post(
                "/accounts/verify/resend/", data={"csrfmiddlewaretoken": token, "email": target}
            )
            assert answer.status_code == 302, answer.text[:300]
    time.sleep(1)
    assert len(inbox.messages_to(target)) == len(passwords) + 3
    claims = shell(
        live,
        "from laurels.accounts.models import EmailAddress\n"
        f"print(EmailAddress.objects.filter(email={target!r}, verified=False).count())",
    )
    assert claims == "3"

    # The newest link serves any remaining claim; a dropped sign-up's password proves nothing.
    newest = inbox.link(target, "/accounts/verify/")
    with browser_for(live, "127.0.0.72") as browser:
        dropped = verify_with_password(browser, newest, passwords[0])
        assert dropped.status_code == 400
        kept = verify_with_password(browser, newest, passwords[2])
        assert kept.status_code == 200 and "is verified" in kept.text
    assert password_grant(live, target, passwords[2], address="127.0.0.72").status_code == 200


# --- 8. a password set by an administrator or on the command line ends every token -----------


def test_an_admin_or_command_line_password_change_ends_every_token(live, account, browsers):
    """The admin's "change password" form and `manage changepassword` saved the new password
    directly: the thief's access and refresh tokens kept working."""
    email = "admin-reset-victim@example.org"
    account(email)
    stolen = tokens_for(live, email)
    admin_email = "resetting-admin@example.org"
    laurels_cli(live, "createuser", admin_email, "--password", PASSWORD, "--admin")
    admin = web_login(live, admin_email)
    browsers.append(admin)
    user_id = shell(
        live,
        f"from laurels.accounts.models import User\nprint(User.objects.get(email={email!r}).pk)",
    )
    path = f"/admin/accounts/user/{user_id}/password/"
    done = admin.post(
        path,
        data={
            "csrfmiddlewaretoken": csrf(admin, path),
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302, done.text[:500]
    assert bearer_status(live, stolen["access_token"]) == 401
    assert refresh(live, stolen["refresh_token"]).json().get("error") == "invalid_grant"
    assert admin.get("/admin/").status_code == 200  # the admin's own session goes on

    again = tokens_for(live, email, NEW_PASSWORD)
    changed = subprocess.run(
        [str(LAURELS), "manage", "changepassword", email],
        env=server_env(live.home, LAURELS_BASE_URL=live.base_url),
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no terminal: getpass reads the standard input
    )
    assert changed.returncode == 0, changed.stderr
    assert bearer_status(live, again["access_token"]) == 401
    assert refresh(live, again["refresh_token"]).json().get("error") == "invalid_grant"


# --- 9. a connected app cannot change the password, nor guess it ------------------------------

APP_CALLBACK = "https://profile-editor.example.org/callback"


def third_party_token(server: RunningServer, email: str, scope: str) -> str:
    """An access token of an operator-registered (not first-party) app, approved by `email`
    on the consent page."""
    app = json.loads(
        laurels_cli(
            server,
            "apps",
            "create",
            "--name",
            f"Profile Editor {secrets.token_hex(3)}",
            "--redirect-uri",
            APP_CALLBACK,
            "--scopes",
            scope,
            "--json",
        )
    )
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": APP_CALLBACK,
        "scope": scope,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with closing(web_login(server, email)) as browser:
        page = browser.get("/o/authorize?" + urlencode(query))
        assert page.status_code == 200, page.text[:300]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        answer = browser.post("/o/authorize", data={**fields, "allow": "true"})
    assert answer.status_code == 302, answer.text[:300]
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = httpx.post(
        f"{server.base_url}/o/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": APP_CALLBACK,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "code_verifier": verifier,
        },
        timeout=TIMEOUT,
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["access_token"]


def test_a_connected_app_may_not_change_the_password(live, account):
    """Any app with rw:profile could send currentPassword guesses (10 more per window, in a
    budget of their own) and, on a hit, set a password and keep its token while every
    other session and token ended: an account takeover."""
    email = "profile-app-user@example.org"
    account(email)
    token = third_party_token(live, email, "rw:profile")
    with as_bearer(live, token) as app:
        for current in ("a guess", PASSWORD):
            answer = app.put(
                "/v2/users/self", json={"currentPassword": current, "password": NEW_PASSWORD}
            )
            assert answer.status_code == 403, answer.text
            assert "password" in answer.json()["status"]["description"]
        renamed = app.put("/v2/users/self", json={"firstName": "Renamed"})
        assert renamed.status_code == 200, renamed.text
    assert password_grant(live, email, PASSWORD).status_code == 200


def test_password_guesses_through_the_api_count_as_failed_log_ins(live, account):
    """`PUT /v2/users/self` counted currentPassword guesses apart from log-ins: 10 more per
    window for each client address. They now count in the log-in counters of the account
    and client address; the owner elsewhere is not affected."""
    email = "api-guessed@example.org"
    account(email)
    attacker_address = "127.0.0.81"
    stolen = password_grant(live, email, address=attacker_address).json()
    transport = httpx.HTTPTransport(local_address=attacker_address)
    with httpx.Client(
        base_url=live.base_url,
        timeout=TIMEOUT,
        transport=transport,
        headers={"Authorization": f"Bearer {stolen['access_token']}"},
    ) as thief:
        answers = [
            thief.put(
                "/v2/users/self", json={"currentPassword": f"guess {n}", "password": NEW_PASSWORD}
            ).status_code
            for n in range(10)
        ]
        assert answers == [400] * 10
        refused = thief.put(
            "/v2/users/self", json={"currentPassword": PASSWORD, "password": NEW_PASSWORD}
        )
        assert refused.status_code == 429, refused.text
    assert password_grant(live, email, address=attacker_address).status_code == 429
    assert password_grant(live, email, address="127.0.0.82").status_code == 200


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
        client_ip="10.0.0.1",
        keep_access_token_id=kept.pk,
    )

    assert list(AccessToken.objects.filter(user=user)) == [kept]
    assert RefreshToken.objects.get(pk=kept_refresh.pk).revoked is None
    assert RefreshToken.objects.get(pk=other_refresh.pk).revoked is not None
    assert list(IDToken.objects.filter(user=user)) == [kept_id]
    assert not Grant.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_an_invitation_is_accepted_once_by_its_address_and_not_after_it_expires():
    owner = UserFactory()
    late, timely = IssuerFactory(owner=owner), IssuerFactory(owner=owner)
    for issuer in (late, timely):
        issuing.staff_invite(issuer=issuer, email="invitee@example.org", role="staff", actor=owner)
    StaffInvitation.objects.filter(issuer=late).update(expires_at=in_seconds(-1))

    user = accounts.user_create(email="invitee@example.org", password=PASSWORD, verified=True)
    assert not IssuerStaff.objects.filter(user=user).exists()  # proving is not accepting
    stranger = UserFactory()
    for invitation in StaffInvitation.objects.all():
        with pytest.raises(issuing.NotFound):
            issuing.staff_invitation_accept(user=stranger, entity_id=invitation.entity_id)
        if invitation.issuer == late:
            with pytest.raises(issuing.NotFound):
                issuing.staff_invitation_accept(user=user, entity_id=invitation.entity_id)
        else:
            issuing.staff_invitation_accept(user=user, entity_id=invitation.entity_id)
            with pytest.raises(issuing.NotFound):
                issuing.staff_invitation_accept(user=user, entity_id=invitation.entity_id)

    joined = IssuerStaff.objects.filter(user=user).values_list("issuer", flat=True)
    assert list(joined) == [timely.pk]


def _tokens_of(user) -> list:
    app = register_app().application
    access = AccessToken(user=user, application=app, expires=in_seconds(3600), scope="r:profile")
    set_token_value(access, secrets.token_hex(8))
    access.save()
    return [access]


@pytest.mark.django_db
def test_a_password_saved_without_the_service_still_ends_every_token():
    """What Django's admin form and `manage changepassword` do: set_password() and save()."""
    user = UserFactory()
    _tokens_of(user)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert not AccessToken.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_rehashing_a_password_at_log_in_ends_no_token():
    """A PBKDF2 hash is replaced by an Argon2id one at the next log-in: the same password,
    so nothing may end."""
    hashers = [
        "laurels.accounts.hashers.Argon2idPasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    with override_settings(PASSWORD_HASHERS=hashers):
        user = UserFactory()
        legacy = make_password(PASSWORD, hasher="pbkdf2_sha256")
        User.objects.filter(pk=user.pk).update(password=legacy)
        (token,) = _tokens_of(user)
        found = EmailAddressBackend().authenticate(None, username=user.email, password=PASSWORD)
        assert found is not None and found.password.startswith("argon2")
    assert AccessToken.objects.filter(pk=token.pk).exists()


@pytest.mark.django_db
def test_unverified_claims_expire_with_their_link(settings):
    """Claims nobody proved piled up for ever (each one a row, and an account)."""
    (job,) = [job for job in JOBS if job.name == "accounts-claims-expire"]
    settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE = 3600
    accounts.user_signup(email="stale@example.org", password=PASSWORD)
    accounts.user_signup(email="fresh@example.org", password=PASSWORD)
    keeper = UserFactory(email="keeper@example.org")
    EmailAddress.objects.create(user=keeper, email="unproven-second@example.org")
    User.objects.filter(email="keeper@example.org").update(last_login=timezone.now())
    EmailAddress.objects.filter(
        email__in=["stale@example.org", "unproven-second@example.org"]
    ).update(verification_sent_at=in_seconds(-2 * 3600))

    assert run_due_jobs(jobs=[job]) == [job.name]

    assert sorted(EmailAddress.objects.values_list("email", flat=True)) == [
        "fresh@example.org",
        "keeper@example.org",
    ]
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "fresh@example.org",
        "keeper@example.org",
    ]


@pytest.mark.django_db
def test_the_admin_adds_a_user_with_an_address_somebody_only_claimed():
    """The admin's "Add user" refused any address somebody had signed up with, proven or
    not; an administrator vouches for the address, so an unproven claim gives way."""
    squatter = UserFactory(email="claimed@example.org", verified=False)
    admin = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    fields = {"email": "Claimed@example.org", "password1": PASSWORD, "password2": PASSWORD}
    added = browser.post("/admin/accounts/user/add/", {**fields, "first_name": "", "last_name": ""})
    assert added.status_code == 302, added.content.decode()[:2000]
    holder = EmailAddress.objects.get(email="claimed@example.org")
    assert holder.verified and holder.user != squatter
    assert not User.objects.filter(pk=squatter.pk).exists()
    again = browser.post("/admin/accounts/user/add/", {**fields, "first_name": "", "last_name": ""})
    assert again.status_code == 200 and "already exists" in again.content.decode()


@pytest.mark.django_db
def test_invitations_end_with_their_inviters_place_as_owner():
    """An owner removed from the staff, demoted, or whose account is deleted invites nobody
    any more: their pending invitations go (other owners' stay)."""
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    issuer = IssuerFactory(owner=first)
    for user in (second, third):
        IssuerStaff.objects.create(issuer=issuer, user=user, role="owner")
    for inviter, invitee in ((first, "a@example.org"), (second, "b@example.org")):
        issuing.staff_invite(issuer=issuer, email=invitee, role="staff", actor=inviter)
    issuing.staff_invite(issuer=issuer, email="c@example.org", role="staff", actor=third)

    issuing.issuer_staff_set(
        issuer=issuer,
        staff=[(first.entity_id, "owner"), (third.entity_id, "editor")],
        actor=first,
    )
    assert list(StaffInvitation.objects.values_list("email", flat=True)) == ["a@example.org"]
    first.delete()
    assert not StaffInvitation.objects.exists()
