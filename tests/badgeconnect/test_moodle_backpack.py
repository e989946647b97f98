"""A Badge Connect client doing what Moodle's "Open Badges 2.1" backpack does, step by
step: discovery from the manifest, registration, the code flow with PKCE through the
consent page, listing, pushing a badge awarded by a second, real Laurels, the profile."""

import json
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from django.test import Client

from laurels.backpack.models import ImportedBadge
from laurels.connect.models import Application
from laurels.core.public import public_url
from tests.badgeconnect.helpers import (
    bc_get,
    bc_post,
    moodle_metadata,
    registered_bc_app,
    status_of,
    token_by_basic_auth,
)
from tests.connect.oauth_helpers import (
    REDIRECT_URI,
    RegisteredApp,
    consent_form_data,
    obtain_code,
    pkce_pair,
    redirect_params,
)
from tests.factories import AssertionFactory, UserFactory
from tests.servers import api_client_for, issuer_with_badge, laurels_server

pytestmark = [pytest.mark.server, pytest.mark.django_db]
MOODLE = "https://moodle.example.org"
CALLBACK = f"{MOODLE}/admin/oauth2callback.php"
OK = {"error": None, "statusCode": 200, "statusText": "OK"}


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """Another Laurels, where an issuer awards the badges Moodle pushes."""
    with laurels_server(tmp_path_factory.mktemp("bc-remote") / "var") as server:
        api = api_client_for(server, "registrar@remote.example.org")
        _, server.badge = issuer_with_badge(api, "Remote College", badge_name="Remote Badge")
        server.api = api
        yield server
        api.close()


def remote_award(remote, identity: str) -> dict:
    """An award on the remote server, as the Open Badges document it hosts."""
    made = remote.api.post(
        f"/v2/badgeclasses/{remote.badge['entityId']}/assertions",
        json={"recipient": {"identity": identity}},
    )
    assert made.status_code == 201, made.text
    hosted = httpx.get(
        made.json()["result"][0]["openBadgeId"], headers={"Accept": "application/ld+json"}
    )
    assert hosted.status_code == 200, hosted.text
    return hosted.json()


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def learner(settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"  # the remote server is on loopback
    return UserFactory(email="learner@example.org", first_name="Lin", last_name="Okafor")


def discover_and_register(moodle: Client) -> tuple[dict, RegisteredApp]:
    """Moodle reads {base}/.well-known/badgeconnect.json (following the redirect), then
    registers at registrationUrl for every scope offered."""
    found = moodle.get("/.well-known/badgeconnect.json")
    assert found.status_code == 302
    (api,) = moodle.get(local_path(found["Location"])).json()["badgeConnectAPI"]
    metadata = moodle_metadata(MOODLE, CALLBACK, scope=" ".join(api["scopesOffered"]))
    registered = moodle.post(
        local_path(api["registrationUrl"]), json.dumps(metadata), content_type="application/json"
    )
    assert registered.status_code == 201, registered.content
    body = registered.json()
    assert body["client_secret_expires_at"] == 0
    assert body["software_id"] == "moodle"
    application = Application.objects.get(client_id=body["client_id"])
    return api, RegisteredApp(application, body["client_secret"])


def authorize(api: dict, app: RegisteredApp, learner, challenge: str) -> str:
    """The learner's browser at authorizationUrl: the consent page, then Allow."""
    browser = Client()
    browser.force_login(learner)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": CALLBACK,
        "scope": " ".join(api["scopesOffered"]),
        "state": "moodle-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(f"{local_path(api['authorizationUrl'])}?{urlencode(query)}")
    assert page.status_code == 200, page.content[:500]
    assert "Add badges to your backpack (Badge Connect)" in page.content.decode()
    params = redirect_params(browser.post("/o/authorize", consent_form_data(page)))
    assert params["state"] == "moodle-state"
    return params["code"]


def test_moodle_connects_lists_pushes_and_reads_the_profile(remote, learner):
    moodle = Client()
    api, app = discover_and_register(moodle)
    verifier, challenge = pkce_pair()
    code = authorize(api, app, learner, challenge)
    tokens = token_by_basic_auth(
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert tokens.status_code == 200, tokens.content
    token = tokens.json()["access_token"]
    assert tokens.json()["refresh_token"]
    apibase = local_path(api["apiBase"])

    made_here = AssertionFactory(recipient_plaintext=learner.email)
    listed = bc_get(token, f"{apibase}/assertions")
    assert listed.json()["status"] == OK
    assert [r["id"] for r in listed.json()["results"]] == [
        public_url("assertions", made_here.entity_id)
    ]

    awarded = remote_award(remote, learner.email)
    pushed = bc_post(token, f"{apibase}/assertions", {"assertion": awarded})
    assert pushed.status_code == 201, pushed.content
    assert pushed.json() == {"status": OK}
    listed = bc_get(token, f"{apibase}/assertions")
    assert listed["X-Total-Count"] == "2"
    newest = listed.json()["results"][0]
    assert newest["id"] == awarded["id"]
    assert newest["badge"] == awarded["badge"]
    assert ImportedBadge.objects.get(user=learner).source_id == awarded["id"]

    again = bc_post(token, f"{apibase}/assertions", {"assertion": {"id": awarded["id"]}})
    assert again.status_code == 400
    assert "DUPLICATE_BADGE" in status_of(again)["error"]
    assert ImportedBadge.objects.count() == 1

    profile = bc_get(token, f"{apibase}/profile").json()
    assert profile["results"] == [
        {
            "@context": "https://w3id.org/openbadges/v2",
            "name": "Lin Okafor",
            "email": "learner@example.org",
        }
    ]

    refreshed = token_by_basic_auth(
        app, grant_type="refresh_token", refresh_token=tokens.json()["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.content
    assert bc_get(refreshed.json()["access_token"], f"{apibase}/profile").status_code == 200


def test_a_badge_for_someone_else_is_refused_and_not_kept(remote, learner):
    app = registered_bc_app()
    browser = Client()
    browser.force_login(learner)
    scope = "https://purl.imsglobal.org/spec/ob/v2p1/scope/assertion.create"
    code = obtain_code(browser, app, scope=scope)
    token = token_by_basic_auth(
        app, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    ).json()["access_token"]
    awarded = remote_award(remote, "someone.else@example.org")
    refused = bc_post(token, "/bcv1/assertions", {"assertion": {"id": awarded["id"]}})
    assert refused.status_code == 400
    assert status_of(refused)["statusText"] == "BAD_REQUEST"
    assert "awarded to someone else" in status_of(refused)["error"]
    assert not ImportedBadge.objects.exists()


def test_a_wrong_pkce_verifier_gets_no_token(learner):
    api = {"scopesOffered": moodle_metadata()["scope"].split(), "authorizationUrl": "/o/authorize"}
    app = registered_bc_app(redirect_uri=CALLBACK, site=MOODLE)
    _, challenge = pkce_pair()
    code = authorize(api, app, learner, challenge)
    refused = token_by_basic_auth(
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        code_verifier="swiss-cheese-" * 4,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
