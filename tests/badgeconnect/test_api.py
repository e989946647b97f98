"""The /bcv1 API: the manifest, the assertions list and its paging, the profile, and
every error in Badge Connect's envelope, hostile input included."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from laurels.accounts.models import EmailAddress
from laurels.backpack.models import ImportedBadge
from laurels.connect import selectors as connect_selectors
from laurels.connect.scopes import Scope
from laurels.core.public import public_url
from laurels.issuing.models import Acceptance, Assertion
from tests.badgeconnect.helpers import (
    BC_SCOPES,
    bc_get,
    bc_post,
    registered_bc_app,
    status_of,
    token_by_basic_auth_at,
)
from tests.connect.oauth_helpers import authorize_url, register_app, token_for
from tests.factories import AssertionFactory, UserFactory

pytestmark = pytest.mark.django_db
OK = {"error": None, "statusCode": 200, "statusText": "OK"}


@pytest.fixture
def learner():
    return UserFactory(email="learner@example.org", first_name="Lin", last_name="Okafor")


@pytest.fixture
def token(learner) -> str:
    return token_for(learner, registered_bc_app(), BC_SCOPES)


def awards(learner, count: int) -> list[Assertion]:
    return [AssertionFactory(recipient_plaintext=learner.email) for _ in range(count)]


def links(response) -> dict[str, dict[str, list[str]]]:
    """The `Link` header's URLs by rel, each as its query."""
    found = {}
    for part in response["Link"].split(","):
        url, rel = part.split(">; rel=")
        found[rel.strip('"')] = parse_qs(urlsplit(url.lstrip("<")).query)
    return found


# --- the manifest -------------------------------------------------------------------------


def test_the_manifest_is_found_from_the_well_known_address(settings):
    settings.LAURELS_BASE_URL = "https://badges.example.edu"
    found = Client().get("/.well-known/badgeconnect.json")
    assert found.status_code == 302
    assert found["Location"] == "https://badges.example.edu/bcv1/manifest/badges.example.edu"
    manifest = Client().get("/bcv1/manifest/badges.example.edu").json()
    assert manifest["@context"] == "https://w3id.org/openbadges/badgeconnect/v1"
    assert manifest["id"] == found["Location"]
    (api,) = manifest["badgeConnectAPI"]
    assert api["apiBase"] == "https://badges.example.edu/bcv1"
    assert api["registrationUrl"] == "https://badges.example.edu/o/register"
    assert api["authorizationUrl"] == "https://badges.example.edu/o/authorize"
    assert api["tokenUrl"] == "https://badges.example.edu/o/token"
    assert api["scopesOffered"] == BC_SCOPES.split()
    assert api["version"] == "v1p0"


def test_another_domains_manifest_is_not_here():
    response = Client().get("/bcv1/manifest/badgr.example.com")
    assert response.status_code == 404
    assert status_of(response)["statusText"] == "NOT_FOUND"


def test_the_manifest_is_read_only():
    response = Client().post("/.well-known/badgeconnect.json")
    assert response.status_code == 405
    assert status_of(response)["statusCode"] == 405


# --- listing ------------------------------------------------------------------------------


def test_assertions_newest_change_first_in_pages_with_badgrs_links(learner, token):
    made = awards(learner, 25)
    AssertionFactory()  # someone else's
    first = bc_get(token, "/bcv1/assertions?limit=10&offset=0")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == OK
    results = first.json()["results"]
    assert [r["id"] for r in results] == [
        public_url("assertions", a.entity_id) for a in made[::-1][:10]
    ]
    assert results[0]["@context"] == "https://w3id.org/openbadges/v2"
    assert results[0]["type"] == "Assertion"
    assert results[0]["badge"] == public_url("badges", made[-1].badge_class.entity_id)
    assert results[0]["recipient"]["identity"] == learner.email
    assert first["X-Total-Count"] == "25"
    assert {rel: query["offset"] for rel, query in links(first).items()} == {
        "next": ["10"],
        "first": ["0"],
        "last": ["20"],
    }

    last = bc_get(token, "/bcv1/assertions?limit=10&offset=20")
    assert len(last.json()["results"]) == 5
    assert {rel: query["offset"] for rel, query in links(last).items()} == {
        "first": ["0"],
        "last": ["20"],
        "prev": ["10"],
    }


def test_since_keeps_what_changed_at_or_after_it(learner, token):
    old, recent = awards(learner, 2)
    long_ago = timezone.now() - timedelta(days=30)
    Assertion.objects.filter(pk=old.pk).update(updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert bc_get(token, "/bcv1/assertions")["X-Total-Count"] == "2"
    response = Client().get(
        "/bcv1/assertions", {"since": since}, headers={"Authorization": f"Bearer {token}"}
    )
    assert [r["id"] for r in response.json()["results"]] == [
        public_url("assertions", recent.entity_id)
    ]
    assert response["X-Total-Count"] == "1"
    assert links(response)["first"]["since"] == [since]


def test_revoked_badges_are_listed_as_revoked_and_rejected_ones_not(learner, token):
    revoked = AssertionFactory(recipient_plaintext=learner.email, revoked_for=True)
    AssertionFactory(recipient_plaintext=learner.email, acceptance=Acceptance.REJECTED)
    (shown,) = bc_get(token, "/bcv1/assertions").json()["results"]
    assert shown["id"] == public_url("assertions", revoked.entity_id)
    assert shown["revoked"] is True
    assert shown["revocationReason"] == "Issued in error"


@pytest.mark.parametrize(
    "query",
    [
        "limit=ten",
        "limit=-1",
        "offset=-10",
        "offset=1e3",
        "offset=9999999999",
        "offset=%EF%BC%91",  # a full-width digit: a digit to Python, not a number here
        "since=yesterday",
        "since=2026-05-01T12:00:00",  # no time zone
        "since=2026-13-45T12:00:00Z",
        "since=99999-01-01T00:00:00Z",
        "since=0001-01-01T00:00:00%2B05:00",  # before year 1 in UTC
        "since=9999-12-31T23:00:00-05:00",  # after 9999 in UTC
    ],
)
def test_bad_paging_is_a_400_in_the_envelope(learner, token, query):
    awards(learner, 1)
    response = bc_get(token, f"/bcv1/assertions?{query}")
    assert response.status_code == 400, response.content
    status = status_of(response)
    assert status["statusText"] == "BAD_REQUEST"
    assert status["error"]


@pytest.mark.parametrize(
    "query", ["&".join(f"f{n}=1" for n in range(5000)), "since=%00", "limit=1%00"]
)
def test_an_unreadable_query_is_a_400(token, query):
    """`core.middleware` leaves /bcv1/ to Badge Connect, which refuses in its envelope."""
    response = bc_get(token, f"/bcv1/assertions?{query}")
    assert response.status_code == 400
    assert response.json()["status"]["statusCode"] == 400


def test_limits_out_of_range_are_taken_as_the_nearest(learner, token):
    awards(learner, 3)
    assert len(bc_get(token, "/bcv1/assertions?limit=0").json()["results"]) == 1
    assert len(bc_get(token, "/bcv1/assertions?limit=100000").json()["results"]) == 3
    beyond = bc_get(token, "/bcv1/assertions?offset=50")
    assert beyond.json()["results"] == []
    assert beyond["X-Total-Count"] == "3"


# --- the profile --------------------------------------------------------------------------


def test_the_profile_is_the_users_name_and_address(token):
    response = bc_get(token, "/bcv1/profile")
    assert response.status_code == 200
    assert response.json() == {
        "status": OK,
        "results": [
            {
                "@context": "https://w3id.org/openbadges/v2",
                "name": "Lin Okafor",
                "email": "learner@example.org",
            }
        ],
    }


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/bcv1/assertions"), ("post", "/bcv1/assertions"), ("get", "/bcv1/profile")],
)
def test_without_a_token_401_as_badgr_answered(method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 401
    assert response.json() == {
        "status": {"error": None, "statusCode": 401, "statusText": "UNAUTHENTICATED"}
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="laurels"'


def test_a_bad_token_is_told_apart():
    response = bc_get("not-a-token", "/bcv1/profile")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_each_route_needs_its_own_scope(learner):
    profile_only = token_for(learner, registered_bc_app(), Scope.BADGE_CONNECT_PROFILE_READ)
    for response in (
        bc_get(profile_only, "/bcv1/assertions"),
        bc_post(profile_only, "/bcv1/assertions", {"assertion": {"id": "https://x.example/a"}}),
    ):
        assert response.status_code == 403
        assert status_of(response)["statusText"] == "FORBIDDEN"
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert bc_get(profile_only, "/bcv1/profile").status_code == 200


def test_backpack_scopes_open_badge_connect_as_in_badgr(learner):
    """Badgr's /bcv1 views took r:backpack / rw:backpack besides Badge Connect's scopes."""
    reader = token_for(learner, register_app(scopes="r:backpack"), "r:backpack")
    assert bc_get(reader, "/bcv1/assertions").status_code == 200
    assert bc_get(reader, "/bcv1/profile").status_code == 200
    push = bc_post(reader, "/bcv1/assertions", {"assertion": {"id": "https://x.example/a"}})
    assert push.status_code == 403
    assert 'error="insufficient_scope"' in push["WWW-Authenticate"]


def test_other_scopes_give_no_badge_connect_access(learner):
    issuer_only = token_for(learner, register_app(scopes="r:issuer"), "r:issuer")
    assert bc_get(issuer_only, "/bcv1/assertions").status_code == 403
    assert bc_get(issuer_only, "/bcv1/profile").status_code == 403


def test_a_user_without_a_verified_address_is_refused(learner, token):
    """Nobody unverified gets that far through the consent page; an address that stops
    counting afterwards (removed, unverified by an admin) ends the access too."""
    EmailAddress.objects.filter(user=learner).update(verified=False)
    response = bc_get(token, "/bcv1/profile")
    assert response.status_code == 403
    assert "Verify" in status_of(response)["error"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/bcv1/assertions", "GET, POST"),
        ("put", "/bcv1/assertions", "GET, POST"),
        ("post", "/bcv1/profile", "GET"),
    ],
)
def test_other_methods_405_with_allow(token, method, path, allowed):
    response = getattr(Client(), method)(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert status_of(response)["statusText"] == "METHOD_NOT_ALLOWED"


def test_unknown_paths_404_in_the_envelope(token):
    for path in ("/bcv1", "/bcv1/", "/bcv1/assertions/abc", "/bcv1/manifest/"):
        response = bc_get(token, path)
        assert response.status_code == 404, path
        assert status_of(response)["statusCode"] == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[]", "application/json", 400),
        ({}, "application/json", 400),
        ({"assertion": {"id": ""}}, "application/json", 400),
        ({"assertion": {"id": 42}}, "application/json", 400),
        ({"assertion": {"id": "javascript:alert(1)"}}, "application/json", 400),
        ({"assertion": {"id": "ftp://files.example.org/a.json"}}, "application/json", 400),
        ({"assertion": {"id": "https://x.example/\u0000"}}, "application/json", 400),
        ("[" * 5000 + "]" * 5000, "application/json", 400),
        ("id=https://x.example/a", "text/plain", 415),
    ],
)
def test_bad_pushes_are_refused_in_the_envelope_and_store_nothing(
    token, body, content_type, status
):
    response = bc_post(token, "/bcv1/assertions", body, content_type=content_type)
    assert response.status_code == status, response.content
    assert status_of(response)["error"]
    assert not ImportedBadge.objects.exists()


def test_a_huge_push_is_refused_before_it_is_read(token):
    big = '{"assertion": {"id": "https://x.example/a", "pad": "' + "x" * (2 * 1024 * 1024) + '"}}'
    response = bc_post(token, "/bcv1/assertions", big)
    assert response.status_code == 413
    assert status_of(response)["statusText"] in ("REQUEST_ENTITY_TOO_LARGE", "CONTENT_TOO_LARGE")


def test_beyond_the_apps_quota_429_with_retry_after(settings, token):
    settings.LAURELS_API_RATE_PER_APP = 2
    assert bc_get(token, "/bcv1/profile").status_code == 200
    assert bc_get(token, "/bcv1/profile").status_code == 200
    refused = bc_get(token, "/bcv1/profile")
    assert refused.status_code == 429
    assert status_of(refused)["statusText"] == "TOO_MANY_REQUESTS"
    assert int(refused["Retry-After"]) > 0


# --- consent, connected apps, revocation ---------------------------------------------------


def test_consent_page_describes_badge_connect_scopes(learner):
    app = registered_bc_app()
    browser = Client()
    browser.force_login(learner)
    page = browser.get(authorize_url(app, scope=BC_SCOPES)).content.decode()
    assert "Moodle Academy wants to connect" in page
    for description in (
        "See the badges in your backpack (Badge Connect)",
        "Add badges to your backpack (Badge Connect)",
        "See your name and email address (Badge Connect)",
    ):
        assert description in page


def test_disconnecting_on_the_connected_apps_page_ends_the_token(learner, token):
    browser = Client()
    browser.force_login(learner)
    page = browser.get("/account/apps/").content.decode()
    assert "Moodle Academy" in page
    assert "Add badges to your backpack (Badge Connect)" in page
    (connected,) = connect_selectors.user_connected_apps(viewer=learner)
    browser.post("/account/apps/", {"revoke": connected.key})
    response = bc_get(token, "/bcv1/assertions")
    assert response.status_code == 401
    assert status_of(response)["statusText"] == "UNAUTHENTICATED"


def test_the_app_revoking_its_own_token_ends_it(learner):
    """RFC 7009 at /o/revoke_token, with the app's client_secret_basic, as for any app."""
    app = registered_bc_app()
    token = token_for(learner, app, BC_SCOPES)
    revoked = token_by_basic_auth_at(app, "/o/revoke_token", token=token)
    assert revoked.status_code == 200, revoked.content
    response = bc_get(token, "/bcv1/profile")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
