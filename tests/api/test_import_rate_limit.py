"""Rate limits on importing badges through the APIs: `POST /v2/backpack/import` and Badge
Connect's `POST /bcv1/assertions` count in the same limits as the Import page
(`backpack.services.badge_import_rate_check`), per person and per client address, and
beyond them answer 429 in their own envelope with Retry-After, before anything is fetched.
The issuer is a stub host over real HTTP on loopback; tokens come from the consent flow."""

from __future__ import annotations

import pytest
from django.test import Client

from laurels.backpack.models import ImportedBadge
from tests.badgeconnect.helpers import BC_SCOPES, bc_post, registered_bc_app, status_of
from tests.connect.oauth_helpers import bearer, register_app, token_for
from tests.factories import UserFactory
from tests.web.test_import_page import issuer  # noqa: F401  (the stub issuer fixture)

pytestmark = pytest.mark.django_db
IMPORT = "/v2/backpack/import"
REFUSAL = "Too many badges checked or imported in a row. Try again in"


@pytest.fixture(autouse=True)
def three_a_day(settings):
    """Three imports a person and four a client address a day: no test straddles a
    window."""
    settings.LAURELS_IMPORT_RATE_PER_USER = 3
    settings.LAURELS_IMPORT_RATE_PER_IP = 4
    settings.LAURELS_IMPORT_RATE_WINDOW = 86400


def v2_token(user) -> str:
    return token_for(user, register_app(scopes="r:backpack rw:backpack"), "rw:backpack")


def v2_import(token: str, url: str, address: str = "127.0.0.1", body: dict | None = None):
    return Client().post(
        IMPORT,
        body or {"url": url},
        content_type="application/json",
        headers=bearer(token),
        REMOTE_ADDR=address,
    )


def test_beyond_the_limit_429_in_the_envelope_without_a_fetch(user, issuer):  # noqa: F811
    token = v2_token(user)
    url = f"{issuer.url}/assertion"
    assert v2_import(token, url).status_code == 201
    assert [v2_import(token, url).status_code for _ in range(2)] == [200, 200]  # again: counts
    fetched = issuer.connections
    refused = v2_import(token, url)
    assert refused.status_code == 429, refused.content
    assert int(refused["Retry-After"]) > 0
    body = refused.json()
    assert body["status"]["success"] is False
    assert body["status"]["description"].startswith(REFUSAL)
    assert body["result"] == [] and body["fieldErrors"] == {}
    assert issuer.connections == fetched
    assert ImportedBadge.objects.count() == 1


def test_a_request_that_fetches_nothing_does_not_count(user, issuer):  # noqa: F811
    token = v2_token(user)
    for _ in range(4):
        both = v2_import(token, "", body={"url": f"{issuer.url}/assertion", "assertion": "x"})
        assert both.status_code == 400  # "give exactly one": refused before counting
    assert v2_import(token, f"{issuer.url}/assertion").status_code == 201


def test_badge_connect_pushes_share_the_limit(user, issuer):  # noqa: F811
    """An app cannot go around the limit by the other API: both count together."""
    url = f"{issuer.url}/assertion"
    v2 = v2_token(user)
    assert [v2_import(v2, url).status_code for _ in range(3)] == [201, 200, 200]
    badge_connect = token_for(user, registered_bc_app(), BC_SCOPES)
    refused = bc_post(badge_connect, "/bcv1/assertions", {"assertion": {"id": url}})
    assert refused.status_code == 429, refused.content
    assert status_of(refused)["statusText"] == "TOO_MANY_REQUESTS"
    assert status_of(refused)["error"].startswith(REFUSAL)
    assert int(refused["Retry-After"]) > 0


def test_a_badge_connect_push_counts_against_v2(user, issuer):  # noqa: F811
    url = f"{issuer.url}/assertion"
    badge_connect = token_for(user, registered_bc_app(), BC_SCOPES)
    pushed = [
        bc_post(badge_connect, "/bcv1/assertions", {"assertion": {"id": url}}).status_code
        for _ in range(3)
    ]
    assert pushed == [201, 400, 400]  # then DUPLICATE_BADGE, as in Badgr; each one counted
    assert v2_import(v2_token(user), url).status_code == 429


def test_one_client_address_is_limited_whatever_the_account(user, issuer):  # noqa: F811
    """Four a day from one address (three_a_day), however many accounts ask; another
    address is counted apart."""
    url = f"{issuer.url}/assertion"
    ada, bob, cy = v2_token(user), *(v2_token(UserFactory(email=e)) for e in ("b@x.org", "c@x.org"))
    answers = [v2_import(t, url, "192.0.2.7").status_code for t in (ada, ada, ada, bob)]
    assert answers == [201, 200, 200, 400]  # Bob's is refused as not his, and counted
    assert v2_import(bob, url, "192.0.2.7").status_code == 429
    assert v2_import(cy, url, "2001:db8::1").status_code == 400  # counted apart
