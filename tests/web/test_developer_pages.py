"""The developer portal (`web.developer_views`): a person's own apps, registered under the
rules of `POST /o/register`; the secret shown once, rotated, the app edited (back to review
when it asks for more) and deleted; the authorize page of an app that cannot be used."""

import json
import re

import pytest
from django.test import Client
from django.test.utils import override_settings

from laurels.connect import services
from laurels.connect.models import Application, AuditEvent
from tests.connect.oauth_helpers import (
    REDIRECT_URI,
    RegisteredApp,
    authorize_url,
    bearer,
    exchange,
    obtain_code,
    register_app,
    token_for,
    token_request,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BC = "https://purl.imsglobal.org/spec/ob/v2p1/scope/"


def form(**changes) -> dict:
    data = {
        "name": "Badge Wall",
        "client_type": "confidential",
        "redirect_uris": REDIRECT_URI,
        "scopes": ["r:profile", "r:backpack"],
        "website_url": "https://app.example.org",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def register(client, **changes):
    return client.post("/developer/apps/new/", form(**changes))


def secret_on(response) -> str | None:
    found = re.search(
        r'id="client-secret" type="text" readonly value="([^"]+)"', response.content.decode()
    )
    return found.group(1) if found else None


def app_of(response) -> Application:
    return response.context["app"]


def edit(client, app: Application, **changes):
    data = form(
        name=app.name,
        redirect_uris="\n".join(app.redirect_uris.split()),
        scopes=app.allowed_scopes.split(),
        website_url=app.website_url,
        client_type=None,
    )
    data.update(changes)
    return client.post(f"/developer/apps/{app.client_id}/", data)


# --- permissions ----------------------------------------------------------------------------


@pytest.fixture
def my_app(user) -> RegisteredApp:
    created = services.application_create(
        name="Harbour Wall",
        redirect_uris=[REDIRECT_URI],
        scopes="r:profile r:backpack",
        website_url="https://app.example.org",
        owner=user,
    )
    return RegisteredApp(created.application, created.client_secret)


def paths_of(app: Application) -> list[str]:
    base = f"/developer/apps/{app.client_id}/"
    return ["/developer/apps/", "/developer/apps/new/", base, base + "rotate/", base + "delete/"]


def test_anonymous_visitors_are_sent_to_log_in(client, my_app):
    for path in paths_of(my_app.application):
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith("/accounts/login/?next=")
    assert Application.objects.filter(pk=my_app.application.pk).exists()


def test_another_persons_app_is_a_404_and_stays_as_it_is(my_app):
    other = Client()
    other.force_login(UserFactory())
    app = my_app.application
    for path in paths_of(app)[2:]:
        assert other.get(path).status_code == 404, path
        assert other.post(path, form(name="Taken Over")).status_code == 404, path
    assert other.get("/developer/apps/no-such-client/").status_code == 404
    assert other.get("/developer/apps/" + "x" * 5000 + "/").status_code == 404
    app.refresh_from_db()
    assert app.name == "Harbour Wall"
    assert "Harbour Wall" not in other.get("/developer/apps/").content.decode()


def test_a_post_without_the_csrf_token_is_refused(csrf_client_logged_in, my_app):
    assert csrf_client_logged_in.post("/developer/apps/new/", form()).status_code == 403
    path = f"/developer/apps/{my_app.client_id}/delete/"
    assert csrf_client_logged_in.post(path).status_code == 403
    assert Application.objects.filter(pk=my_app.application.pk).exists()


# --- the list ---------------------------------------------------------------------------------


def test_the_empty_list_says_what_an_app_is_and_how_to_register_one(client_logged_in):
    page = client_logged_in.get("/developer/apps/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "You have no apps yet" in text and 'href="/developer/apps/new/"' in text
    assert 'aria-current="page">Developer' in text


def test_the_list_shows_my_apps_with_their_status_and_type(client_logged_in, user, my_app):
    register(client_logged_in, name="Issuer Bot", scopes=["r:profile", "rw:issuer"])
    register(client_logged_in, name="Phone App", client_type="public")
    services.application_create(
        name="Someone Else's", redirect_uris=[REDIRECT_URI], scopes="r:profile"
    )
    text = client_logged_in.get("/developer/apps/").content.decode()
    assert "Someone Else" not in text
    for name in ("Harbour Wall", "Issuer Bot", "Phone App"):
        assert name in text
    assert my_app.client_id in text
    assert "Pending review" in text and "Approved" in text and "Public (PKCE" in text


def test_the_list_reads_a_fixed_number_of_queries(
    client_logged_in, user, django_assert_max_num_queries
):
    for n in range(12):
        services.application_create(
            name=f"App {n}", redirect_uris=[REDIRECT_URI], scopes="r:profile", owner=user
        )
    with django_assert_max_num_queries(4):
        page = client_logged_in.get("/developer/apps/")
    assert page.content.decode().count('class="developer-app"') == 12


# --- registering ------------------------------------------------------------------------------


def test_registering_shows_the_secret_once_and_the_app_is_mine(client_logged_in, user):
    response = register(client_logged_in)
    assert response.status_code == 201
    assert response["Cache-Control"].startswith("max-age=0")
    app = app_of(response)
    secret = secret_on(response)
    assert secret and app.user == user and app.review == "approved"
    assert app.registration_source == Application.Source.PORTAL
    assert app.client_secret != secret  # only a digest is kept
    assert app.website_url == "https://app.example.org"
    assert "shown this once only" in response.content.decode()
    for path in (f"/developer/apps/{app.client_id}/", "/developer/apps/"):
        assert secret not in client_logged_in.get(path).content.decode()
    event = AuditEvent.objects.get(kind="app_registered", application=app)
    assert event.user == user
    # The secret works at the token endpoint.
    answer = token_request(Client(), RegisteredApp(app, secret), grant_type="client_credentials")
    assert answer.status_code in (200, 400) and answer.json().get("error") != "invalid_client"


def test_a_public_app_gets_no_secret_and_nothing_to_rotate(client_logged_in):
    response = register(client_logged_in, client_type="public")
    app = app_of(response)
    assert response.status_code == 201 and secret_on(response) is None
    assert app.client_type == "public"
    assert client_logged_in.get(f"/developer/apps/{app.client_id}/rotate/").status_code == 404
    assert client_logged_in.post(f"/developer/apps/{app.client_id}/rotate/").status_code == 404


def register_by_rfc7591(metadata: dict) -> dict:
    answer = Client().post("/o/register", json.dumps(metadata), content_type="application/json")
    return {"status": answer.status_code, **answer.json()}


POLICY_CASES = [
    (["r:profile", "r:backpack"], {}),
    (["r:profile", "rw:issuer"], {}),
    (["r:profile", "introspection"], {}),
    (["rw:backpack"], {}),
    (
        [BC + "assertion.readonly", BC + "profile.readonly"],
        {
            "logo_url": "https://app.example.org/logo.png",
            "terms_url": "https://app.example.org/terms",
            "privacy_url": "https://app.example.org/privacy",
            "software_id": "wall",
            "software_version": "1.0",
        },
    ),
]


@pytest.mark.parametrize(("scopes", "extra"), POLICY_CASES)
def test_the_portal_decides_as_o_register_does(client_logged_in, scopes, extra):
    """The same scopes and links, once in the portal and once at /o/register: the same
    review status and the same stored scopes."""
    page = register(client_logged_in, name="Portal App", scopes=scopes, **extra)
    assert page.status_code == 201, page.content.decode()[:2000]
    portal = app_of(page)
    rfc_names = {
        "logo_url": "logo_uri",
        "terms_url": "tos_uri",
        "privacy_url": "policy_uri",
        "software_id": "software_id",
        "software_version": "software_version",
    }
    registered = register_by_rfc7591(
        {
            "client_name": "Protocol App",
            "redirect_uris": [REDIRECT_URI],
            "scope": " ".join(scopes),
            "client_uri": "https://app.example.org",
            **{rfc_names[key]: value for key, value in extra.items()},
        }
    )
    assert registered["status"] == 201, registered
    assert portal.review == registered["laurels_review_status"]
    assert portal.allowed_scopes == registered["scope"]


@override_settings(LAURELS_SELF_REGISTRATION_SCOPES="r:profile")
def test_the_policy_setting_applies_to_the_portal_too(client_logged_in):
    assert app_of(register(client_logged_in, scopes=["r:backpack"])).review == "pending"


def test_badge_connect_rules_apply(client_logged_in):
    response = register(client_logged_in, scopes=[BC + "assertion.readonly"])
    assert response.status_code == 400
    assert "is required of a Badge Connect app" in response.content.decode()
    assert not Application.objects.filter(name="Badge Wall").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "Laurels"}, "name", "pass for this server"),
        ({"name": "Official Badge Wall"}, "name", "official"),
        ({"name": "ba\u200bdge wall"}, "name", "invisible"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": ""}, "name", "required"),
        ({"redirect_uris": "http://app.example.org/cb"}, "redirect_uris", "use https"),
        ({"redirect_uris": "https://app.example.org/cb#top"}, "redirect_uris", "fragment"),
        ({"redirect_uris": "https://user:pw@app.example.org/cb"}, "redirect_uris", "user name"),
        ({"redirect_uris": "http://localhost:8000/cb"}, "redirect_uris", "localhost"),
        ({"redirect_uris": ""}, "redirect_uris", "at least one"),
        ({"redirect_uris": "https://a.example.org/cb with space"}, "redirect_uris", "spaces"),
        (
            {"redirect_uris": "\n".join(f"https://app.example.org/{n}" for n in range(11))},
            "redirect_uris",
            "at most 10",
        ),
        ({"scopes": ["rw:everything"]}, "scopes", "valid choice"),
        ({"scopes": []}, "scopes", "required"),
        ({"client_type": "secretive"}, "client_type", "valid choice"),
        ({"website_url": "javascript:alert(1)"}, "website_url", "http or https"),
        ({"logo_url": "https://laurels.example@evil.example/x.png"}, "logo_url", "user name"),
        ({"website_url": "https://" + "a" * 2100 + ".example"}, "website_url", "at most"),
    ],
)
def test_refused_metadata_is_a_400_on_its_field(client_logged_in, changes, field, message):
    response = register(client_logged_in, **changes)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    text = response.content.decode()
    assert 'role="alert"' in text and f'id="id_{field}' in text
    assert not Application.objects.exclude(
        client_id__in=["public", "api-docs", "personal-tokens"]
    ).exists()


def test_the_name_of_an_app_already_here_is_refused(client_logged_in):
    register_app(name="Badge Wall")
    response = register(client_logged_in, name="BADGE WALL")
    assert response.status_code == 400
    assert "one that looks the same" in " ".join(response.context["form"].errors["name"])


@override_settings(LAURELS_SELF_REGISTRATION_RATE_PER_IP=2)
def test_the_per_address_limit_is_the_one_of_o_register(client_logged_in):
    assert (
        register_by_rfc7591({"client_name": "One", "redirect_uris": [REDIRECT_URI]})["status"]
        == 201
    )
    assert register(client_logged_in, name="Two").status_code == 201
    response = register(client_logged_in, name="Three")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many apps registered" in response.content.decode()
    assert response.context["form"]["name"].value() == "Three"  # what was typed stays
    assert (
        register_by_rfc7591({"client_name": "Four", "redirect_uris": [REDIRECT_URI]})["status"]
        == 429
    )


# --- an app's page: rotate, edit, delete ---------------------------------------------------------


def test_the_app_page_explains_the_status(client_logged_in, my_app):
    app = my_app.application
    page = client_logged_in.get(f"/developer/apps/{app.client_id}/")
    assert page.status_code == 200 and "People can connect it now." in page.content.decode()
    services.application_review_set(application=app, review="pending", actor=UserFactory())
    assert "waiting" in client_logged_in.get(f"/developer/apps/{app.client_id}/").content.decode()
    services.application_set_enabled(application=app, enabled=False)
    assert (
        "turned this app off"
        in client_logged_in.get(f"/developer/apps/{app.client_id}/").content.decode()
    )


def test_rotating_shows_a_new_secret_once_and_the_old_one_is_refused(
    client_logged_in, user, my_app
):
    browser = Client()
    browser.force_login(UserFactory())
    old_code = obtain_code(browser, my_app, scope="r:profile")
    confirm = client_logged_in.get(f"/developer/apps/{my_app.client_id}/rotate/")
    assert confirm.status_code == 200 and "stops working at once" in confirm.content.decode()
    response = client_logged_in.post(f"/developer/apps/{my_app.client_id}/rotate/")
    assert response.status_code == 200
    new_secret = secret_on(response)
    assert new_secret and new_secret != my_app.secret
    assert "old secret no longer works" in response.content.decode()
    audit = AuditEvent.objects.filter(kind=AuditEvent.Kind.APP_CHANGED).latest("id")
    assert audit.detail == {"rotated": "secret"} and audit.user == user
    refused = exchange(Client(), my_app, old_code)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    rotated = RegisteredApp(my_app.application, new_secret)
    code = obtain_code(browser, rotated, scope="r:profile")
    answer = exchange(Client(), rotated, code)
    assert answer.status_code == 200, answer.content
    assert secret_on(client_logged_in.get(f"/developer/apps/{my_app.client_id}/")) is None


def test_editing_within_what_was_approved_keeps_it_approved(client_logged_in, my_app):
    app = my_app.application
    response = edit(
        client_logged_in,
        app,
        name="Badge Wall 2",
        redirect_uris=f"{REDIRECT_URI}\nhttps://app.example.org/other",
        scopes=["r:profile"],
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app.refresh_from_db()
    assert app.name == "Badge Wall 2" and app.review == "approved"
    assert app.redirect_uris.split() == [REDIRECT_URI, "https://app.example.org/other"]
    assert AuditEvent.objects.filter(kind="app_changed", application=app, user=app.user).exists()


def test_asking_for_more_scopes_sends_the_app_back_to_review(
    client, client_logged_in, user, my_app
):
    app = my_app.application
    response = edit(client_logged_in, app, scopes=["r:profile", "r:backpack", "rw:issuer"])
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.review == "pending" and "rw:issuer" in app.allowed_scopes.split()
    page = client_logged_in.get(authorize_url(my_app, scope="r:profile"))
    assert page.status_code == 403
    assert "is waiting for review by this server" in page.content.decode()


def test_a_refused_edit_changes_nothing(client_logged_in, my_app):
    app = my_app.application
    register_app(name="Taken Name")
    response = edit(client_logged_in, app, name="Taken Name", scopes=["r:profile", "rw:issuer"])
    assert response.status_code == 400
    assert "one that looks the same" in " ".join(response.context["form"].errors["name"])
    app.refresh_from_db()
    assert app.name == "Harbour Wall" and app.review == "approved"
    assert "Harbour Wall" in response.content.decode()


def test_scopes_an_admin_gave_stay_when_the_form_is_saved(client_logged_in, user):
    created = services.application_create(
        name="Pattern App",
        redirect_uris=[REDIRECT_URI],
        scopes="r:profile rw:issuer:*",
        owner=user,
    )
    app = created.application
    page = client_logged_in.get(f"/developer/apps/{app.client_id}/")
    assert 'value="rw:issuer:*"' in page.content.decode()
    assert edit(client_logged_in, app).status_code == 302
    app.refresh_from_db()
    assert app.allowed_scopes == "r:profile rw:issuer:*" and app.review == "approved"


def test_deleting_the_app_ends_its_tokens(client_logged_in, user, my_app):
    person = UserFactory()
    token = token_for(person, my_app, "r:profile")
    assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 200
    confirm = client_logged_in.get(f"/developer/apps/{my_app.client_id}/delete/")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    response = client_logged_in.post(f"/developer/apps/{my_app.client_id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/developer/apps/"
    assert not Application.objects.filter(client_id=my_app.client_id).exists()
    assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401
    assert AuditEvent.objects.filter(
        kind="app_deleted", user=user, detail__source="portal"
    ).exists()
    assert client_logged_in.get(f"/developer/apps/{my_app.client_id}/").status_code == 404


def test_wrong_methods_are_refused(client_logged_in, my_app):
    assert client_logged_in.post("/developer/apps/").status_code == 405
    assert client_logged_in.put(f"/developer/apps/{my_app.client_id}/").status_code == 405


# --- the authorize page of an app that cannot be used -------------------------------------------


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"review": "pending"}, "is waiting for review by this server"),
        ({"review": "rejected"}, "was not approved by this server"),
        ({"enabled": False}, "has been turned off"),
    ],
)
def test_authorize_names_the_app_and_why_it_cannot_connect(client_logged_in, change, says):
    app = register_app(name="Waiting Room")
    Application.objects.filter(pk=app.application.pk).update(**change)
    page = client_logged_in.get(authorize_url(app))
    assert page.status_code == 403
    text = page.content.decode()
    assert "Waiting Room" in text and says in text and "Nothing was shared" in text
    assert "app.example.org/callback" not in text  # nothing sends the person to the app


def test_authorize_keeps_the_generic_error_for_an_unknown_client(client_logged_in):
    for client_id in ("no-such-app", "x" * 300):
        page = client_logged_in.get(
            authorize_url(RegisteredApp(Application(client_id=client_id), None))
        )
        assert page.status_code in (400, 401), page.status_code
        assert "This app cannot connect" in page.content.decode()


def test_authorize_of_an_unusable_app_asks_for_log_in_first(client):
    app = register_app(name="Waiting Room")
    Application.objects.filter(pk=app.application.pk).update(review="pending")
    response = client.get(authorize_url(app))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
