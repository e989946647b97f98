"""A Badgr client's own-profile calls against a live server: `GET /v2/users/self` with
Badgr's fields, the read-then-PUT round trip, and changing the addresses with Badgr's
`emails` list (a new one verified by its mailed link, then made primary, the old one
dropped) after Badgr's password log-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.security.test_accounts import Inbox, browser_for, password_grant, verify_with_password
from tests.servers import PASSWORD, RunningServer, api_client_for, laurels_server

PERSON = "badgr-user@example.org"
NEW_ADDRESS = "badgr-user@new.example.org"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-users") / "var"
    with laurels_server(home) as server:
        yield server


@pytest.fixture(scope="module")
def api(live) -> Iterator[httpx.Client]:
    """Badgr's password log-in (no client id), as scripts and the Badgr front end do."""
    client = api_client_for(live, PERSON)
    yield client
    client.close()


def profile(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["result"][0]


def test_the_profile_has_badgrs_fields(live, api):
    me = profile(api.get("/v2/users/self"))
    assert me["emails"] == [
        {"email": PERSON, "verified": True, "primary": True, "caseVariants": []}
    ]
    assert me["badgrDomain"] == urlsplit(live.base_url).netloc
    assert (me["agreedTermsVersion"], me["hasAgreedToLatestTermsVersion"]) == (0, True)
    assert me["marketingOptIn"] is False
    assert me["recipient"] == {"identity": PERSON, "type": "email"}


def test_the_profile_read_can_be_put_back(api):
    read = profile(api.get("/v2/users/self"))
    again = profile(api.put("/v2/users/self", json={**read, "firstName": "Badgr"}))
    assert again == {**read, "firstName": "Badgr"}


def test_a_new_address_is_verified_by_its_link_then_made_primary(live, api):
    inbox = Inbox(live)
    added = profile(
        api.put(
            "/v2/users/self",
            json={"emails": [{"email": PERSON, "primary": True}, {"email": NEW_ADDRESS}]},
        )
    )
    assert [(e["email"], e["verified"]) for e in added["emails"]] == [
        (PERSON, True),
        (NEW_ADDRESS, False),
    ]
    too_soon = api.put("/v2/users/self", json={"emails": [{"email": NEW_ADDRESS, "primary": True}]})
    assert too_soon.status_code == 400 and "emails" in too_soon.json()["fieldErrors"]

    with browser_for(live) as browser:
        link = inbox.link(NEW_ADDRESS, "/accounts/verify/")
        assert verify_with_password(browser, link, PASSWORD).status_code == 200

    moved = profile(
        api.put("/v2/users/self", json={"emails": [{"email": NEW_ADDRESS, "primary": True}]})
    )
    assert moved["emails"] == [
        {"email": NEW_ADDRESS, "verified": True, "primary": True, "caseVariants": []}
    ]
    assert moved["recipient"]["identity"] == NEW_ADDRESS
    assert password_grant(live, NEW_ADDRESS).status_code == 200
    assert password_grant(live, PERSON).status_code != 200  # that address is gone
