"""Badgr integrations' staff, award-list, change-feed and batch-revoke calls against a live
server, sent as Badgr clients send them (v1 staff calls as form posts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.security.test_accounts import accept_invitations, web_login
from tests.servers import RunningServer, api_client_for, issuer_with_badge, laurels_server


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-staff") / "var"
    with laurels_server(home, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def account(live) -> Iterator[Callable[[str], httpx.Client]]:
    made: dict[str, httpx.Client] = {}

    def get(email: str) -> httpx.Client:
        if email not in made:
            made[email] = api_client_for(live, email)
        return made[email]

    yield get
    for client in made.values():
        client.close()


# --- /v1 staff -------------------------------------------------------------------------------


def test_v1_staff_list_and_actions_as_badgr_clients_send_them(live, account):
    owner_email = "v1-owner@example.org"
    owner = account(owner_email)
    erin_email = "v1-erin@example.org"
    erin = account(erin_email)
    issuer, _ = issuer_with_badge(owner, "Staff Guild")
    staff_path = f"/v1/issuer/issuers/{issuer['entityId']}/staff"

    listed = owner.get(staff_path)
    assert listed.status_code == 200, listed.text
    ((me,),) = [listed.json()]
    assert me["role"] == "owner"
    assert me["user"]["email"] == owner_email
    assert set(me["user"]) >= {"first_name", "last_name", "email", "slug"}

    # add: an invitation, answered alike whether or not an account holds the address
    known = owner.post(staff_path, data={"action": "add", "email": erin_email, "role": "editor"})
    unknown = owner.post(staff_path, data={"action": "add", "email": "nobody-v1@example.org"})
    assert known.status_code == unknown.status_code == 202, (known.text, unknown.text)
    assert known.json() == {"email": erin_email, "role": "editor", "invited": True}
    assert unknown.json() == {"email": "nobody-v1@example.org", "role": "staff", "invited": True}
    assert [m["user"]["email"] for m in owner.get(staff_path).json()] == [owner_email]
    assert erin.get(staff_path).status_code == 404  # not staff until she accepts

    with closing(web_login(live, erin_email)) as browser:
        assert accept_invitations(browser) == 1
    roles = {m["user"]["email"]: m["role"] for m in erin.get(staff_path).json()}
    assert roles == {owner_email: "owner", erin_email: "editor"}
    assert erin.post(staff_path, data={"action": "remove", "email": owner_email}).status_code in (
        403,
        404,
    )  # only owners manage staff

    again = owner.post(staff_path, data={"action": "add", "email": erin_email})
    assert again.status_code == 400, again.text
    modified = owner.post(
        staff_path, json={"action": "modify", "username": erin_email, "role": "staff"}
    )
    assert modified.status_code == 200, modified.text
    assert modified.json()["role"] == "staff"
    assert modified.json()["user"]["email"] == erin_email
    stranger = owner.post(staff_path, data={"action": "modify", "email": "nobody-v1@example.org"})
    assert stranger.status_code == 400
    own = owner.post(staff_path, data={"action": "modify", "email": owner_email, "role": "staff"})
    assert own.status_code == 400  # as in Badgr: not your own place
    by_phone = owner.post(staff_path, data={"action": "add", "telephone": "+15555550100"})
    assert by_phone.status_code == 404
    assert (
        owner.post(staff_path, data={"action": "promote", "email": erin_email}).status_code == 400
    )

    removed = owner.post(staff_path, data={"action": "remove", "email": erin_email})
    assert removed.status_code == 200, removed.text
    assert isinstance(removed.json(), str)
    assert [m["user"]["email"] for m in owner.get(staff_path).json()] == [owner_email]
    assert erin.get(f"/v2/issuers/{issuer['entityId']}").status_code == 404


# --- award lists, change feeds, batch revoke ---------------------------------------------------


def award(api: httpx.Client, badge: dict, email: str, **extra) -> dict:
    answer = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": email, "type": "email"}, **extra},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["result"][0]


@pytest.fixture(scope="module")
def awarded(account) -> dict:
    """An issuer with one current, one revoked and one expired award (by email)."""
    owner = account("lists-owner@example.org")
    issuer, badge = issuer_with_badge(owner, "Lists Guild")
    current = award(owner, badge, "current@example.org")
    revoked = award(owner, badge, "revoked@example.org")
    expired = award(
        owner,
        badge,
        "expired@example.org",
        issuedOn="2020-01-01T00:00:00Z",
        expires="2020-06-01T00:00:00Z",
    )
    answer = owner.post(
        "/v2/assertions/revoke",
        json=[{"entityId": revoked["entityId"], "revocationReason": "Awarded in error"}],
    )
    assert answer.status_code == 200, answer.text
    return {
        "owner": owner,
        "issuer": issuer,
        "badge": badge,
        "current": current["entityId"],
        "revoked": revoked["entityId"],
        "expired": expired["entityId"],
    }


def listed(api: httpx.Client, path: str, params: list[tuple[str, str]]) -> set[str]:
    answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return {a["entityId"] for a in answer.json()["result"]}


@pytest.mark.parametrize("lists", ["badgeclass", "issuer"])
def test_award_lists_leave_out_revoked_and_expired_awards_unless_asked(awarded, lists):
    """Badgr's award lists show only current awards by default; Open edX's backend reads
    `/v2/badgeclasses/{id}/assertions?recipient=...` to learn whether someone holds it."""
    owner, current, revoked, expired = (
        awarded[k] for k in ("owner", "current", "revoked", "expired")
    )
    path = (
        f"/v2/badgeclasses/{awarded['badge']['entityId']}/assertions"
        if lists == "badgeclass"
        else f"/v2/issuers/{awarded['issuer']['entityId']}/assertions"
    )
    assert listed(owner, path, []) == {current}
    assert listed(owner, path, [("include_revoked", "true")]) == {current, revoked}
    assert listed(owner, path, [("include_expired", "1")]) == {current, expired}
    both = [("include_revoked", "true"), ("include_expired", "true")]
    assert listed(owner, path, both) == {current, revoked, expired}
    assert listed(owner, path, [("revoked", "true")]) == {revoked}  # an explicit filter decides

    # `recipient` may repeat, as in Badgr; each is matched on its own
    two = [("recipient", "current@example.org"), ("recipient", "expired@example.org")]
    assert listed(owner, path, two) == {current}
    assert listed(owner, path, [*two, ("include_expired", "true")]) == {current, expired}
    assert listed(owner, path, [("recipient", "revoked@example.org")]) == set()


def test_change_feeds_carry_badgrs_pagination_object(awarded):
    owner = awarded["owner"]
    for feed in ("/v2/assertions/changed", "/v2/badgeclasses/changed", "/v2/issuers/changed"):
        first = owner.get(feed, params={"num": 1})
        assert first.status_code == 200, first.text
        pagination = first.json()["pagination"]
        if feed == "/v2/assertions/changed":  # three awards: more than one page
            assert pagination["hasNext"] is True
            assert pagination["nextResults"] == first.links["next"]["url"]
            following = owner.get(pagination["nextResults"])
            assert following.status_code == 200
            assert following.json()["result"] != first.json()["result"]
        assert pagination["hasPrevious"] is False
        assert pagination["previousResults"] is None
        whole = owner.get(feed).json()
        assert whole["pagination"] == {
            "hasNext": False,
            "nextResults": None,
            "hasPrevious": False,
            "previousResults": None,
        }


def test_batch_revoke_results_repeat_the_revocation_reason(awarded):
    owner = awarded["owner"]
    extra = award(owner, awarded["badge"], "later@example.org")
    answer = owner.post(
        "/v2/assertions/revoke",
        json=[
            {"entityId": extra["entityId"], "revocationReason": "Duplicate"},
            {"entityId": "no-such-award", "revocationReason": "Typo"},
        ],
    )
    assert answer.status_code == 200, answer.text
    done, refused = answer.json()["result"]
    assert (done["entityId"], done["revocationReason"], done["revoked"]) == (
        extra["entityId"],
        "Duplicate",
        True,
    )
    assert refused["revocationReason"] == "Typo"
    assert refused["revoked"] is False and refused["reason"]


def test_v1_staff_refuses_bad_requests_without_a_500(live, account):
    owner = account("v1-hostile@example.org")
    issuer, _ = issuer_with_badge(owner, "Hostile Guild")
    path = f"/v1/issuer/issuers/{issuer['entityId']}/staff"
    bodies = [
        {"content": b"[]", "headers": {"Content-Type": "application/json"}},
        {"content": b"{", "headers": {"Content-Type": "application/json"}},
        {"content": b"x", "headers": {"Content-Type": "text/plain"}},
        {
            "content": b"--b\r\nbroken",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        {"data": {"email": "a@example.org"}},  # no action
        {"data": {"action": "add"}},  # nobody named
        {"data": {"action": "add", "email": "not an address"}},
        {"data": {"action": "add", "email": "a@example.org", "role": "king"}},
        {"data": {"action": "remove", "email": "v1-hostile@example.org"}},  # yourself
    ]
    for body in bodies:
        answer = owner.post(path, **body)
        assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.text[:200])
    assert owner.get("/v1/issuer/issuers/no-such-issuer/staff").status_code == 404
    assert httpx.get(f"{live.base_url}{path}").status_code == 401
