"""Client credentials acting as the app's owner (Badgr's server-to-server pattern): only
when an admin switched it on for the app, and ended when it is switched off or the app
is disabled."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from laurels import cli
from laurels.accounts.models import User
from laurels.connect import services
from laurels.connect.models import Application, AuditEvent, OwnerActingToken, PersonalToken
from tests.connect.oauth_helpers import RegisteredApp, bearer, register_app, token_request
from tests.factories import DEFAULT_PASSWORD, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db

SERVICE_SCOPES = "r:profile rw:issuer introspection"


def service_app(owner=None, *, acts_as_owner=True, **extra) -> RegisteredApp:
    """A confidential app without redirect URIs: a service using client credentials."""
    app = register_app(
        scopes=extra.pop("scopes", SERVICE_SCOPES), redirect_uris=[], name="Sync job", **extra
    )
    if owner is not None or acts_as_owner:
        services.application_set_acts_as_owner(
            application=app.application, acts_as_owner=acts_as_owner, owner=owner, actor=None
        )
    return app


def client_credentials(app: RegisteredApp, scope: str | None = None):
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return token_request(Client(), app, **form)


def profile_status(token: str) -> int:
    return Client().get("/v2/users/self", headers=bearer(token)).status_code


def test_without_the_switch_client_credentials_stay_app_level():
    app = service_app(UserFactory(), acts_as_owner=False)
    refused = client_credentials(app, "rw:issuer")
    assert refused.json()["error"] == "invalid_scope"
    app_token = client_credentials(app).json()
    assert app_token["scope"] == "introspection"
    assert profile_status(app_token["access_token"]) == 401


def test_with_the_switch_the_token_acts_as_the_owner_with_the_apps_scopes():
    owner = UserFactory()
    app = service_app(owner)
    answer = client_credentials(app, "rw:issuer r:backpack r:profile")
    assert answer.status_code == 200, answer.content
    granted = answer.json()
    assert "refresh_token" not in granted
    assert set(granted["scope"].split()) == {"rw:issuer", "r:profile"}  # r:backpack dropped
    me = Client().get("/v2/users/self", headers=bearer(granted["access_token"]))
    assert me.status_code == 200
    assert me.json()["result"][0]["entityId"] == owner.entity_id
    issued = AuditEvent.objects.filter(kind="token_issued", application=app.application).first()
    assert issued.user == owner


def test_without_a_scope_the_owner_token_has_every_user_scope_of_the_app():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    app = service_app(owner)
    granted = client_credentials(app).json()
    assert set(granted["scope"].split()) == {"r:profile", "rw:issuer"}
    listed = Client().get("/v2/issuers", headers=bearer(granted["access_token"]))
    assert [row["entityId"] for row in listed.json()["result"]] == [issuer.entity_id]


def test_an_introspection_token_of_such_an_app_is_still_the_apps_own():
    app = service_app(UserFactory())
    granted = client_credentials(app, "introspection").json()
    assert granted["scope"] == "introspection"
    assert profile_status(granted["access_token"]) == 401
    assert client_credentials(app, "introspection rw:issuer").json()["error"] == "invalid_scope"


def test_clearing_the_switch_ends_the_owner_tokens_and_is_audited():
    owner = UserFactory()
    app = service_app(owner)
    token = client_credentials(app, "r:profile").json()["access_token"]
    assert profile_status(token) == 200
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=owner, actor=None
    )
    assert profile_status(token) == 401
    assert not OwnerActingToken.objects.exists()
    switched = AuditEvent.objects.filter(kind="app_acts_as_owner").first()
    assert switched.detail == {
        "acts_as_owner": False,
        "owner": owner.entity_id,
        "ended_tokens": 1,
    }
    assert client_credentials(app, "r:profile").json()["error"] == "invalid_scope"


def test_a_token_saved_as_the_switch_was_cleared_is_refused():
    """The race the delete cannot see: a token marked as the owner's, of an app that no
    longer acts as its owner, is refused when used."""
    owner = UserFactory()
    app = service_app(owner)
    token = client_credentials(app, "r:profile").json()["access_token"]
    Application.objects.filter(pk=app.application.pk).update(acts_as_owner=False)
    assert profile_status(token) == 401


def test_disabling_the_app_ends_its_owner_tokens_for_good():
    owner = UserFactory()
    app = service_app(owner)
    token = client_credentials(app, "r:profile").json()["access_token"]
    services.application_set_enabled(application=app.application, enabled=False)
    services.application_set_enabled(application=app.application, enabled=True)
    assert profile_status(token) == 401
    assert profile_status(client_credentials(app, "r:profile").json()["access_token"]) == 200


def test_a_deactivated_owner_gets_no_token():
    owner = UserFactory()
    app = service_app(owner)
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert client_credentials(app, "r:profile").json()["error"] == "invalid_grant"


def test_only_a_confidential_app_with_an_owner_may_act_as_its_owner():
    with pytest.raises(ValidationError, match="without an owner"):
        service_app(None)
    public = register_app(public=True, name="Phone app")
    with pytest.raises(ValidationError, match="confidential"):
        services.application_set_acts_as_owner(
            application=public.application, acts_as_owner=True, owner=UserFactory(), actor=None
        )
    assert not AuditEvent.objects.filter(kind="app_acts_as_owner").exists()


def test_another_owner_ends_the_previous_owners_tokens():
    first, second = UserFactory(), UserFactory()
    app = service_app(first)
    token = client_credentials(app, "r:profile").json()["access_token"]
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=True, owner=second, actor=None
    )
    assert profile_status(token) == 401
    fresh = client_credentials(app, "r:profile").json()["access_token"]
    me = Client().get("/v2/users/self", headers=bearer(fresh)).json()["result"][0]
    assert me["entityId"] == second.entity_id


# --- nothing made through an owner token outlives the switch --------------------------------


def integration_app(owner, **extra) -> RegisteredApp:
    """A first-party service app acting as its owner, with the scopes of the review's
    repro: first-party apps are those whose tokens may manage credentials at all."""
    return service_app(owner, scopes="rw:profile rw:issuer rw:issuer:*", first_party=True, **extra)


def owner_token(app: RegisteredApp) -> str:
    granted = client_credentials(app, "rw:profile rw:issuer")
    assert granted.status_code == 200, granted.content
    return granted.json()["access_token"]


def test_issuer_tokens_an_owner_token_made_end_with_the_switch():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    app = integration_app(owner)
    made = Client().post(
        "/v2/tokens/issuers",
        {"issuers": [issuer.entity_id]},
        content_type="application/json",
        headers=bearer(owner_token(app)),
    )
    assert made.status_code == 200, made.content
    issuer_token = made.json()["result"][0]["token"]
    path = f"/v2/issuers/{issuer.entity_id}"
    assert Client().get(path, headers=bearer(issuer_token)).status_code == 200
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=owner, actor=None
    )
    assert Client().get(path, headers=bearer(issuer_token)).status_code == 401
    assert not OwnerActingToken.objects.exists()
    switched = AuditEvent.objects.filter(kind="app_acts_as_owner").first()
    assert switched.detail["ended_tokens"] == 2  # the client credentials and the issuer token


def test_issuer_tokens_asked_for_as_the_switch_is_cleared_are_refused():
    """The race the delete cannot see: the app was read when the token was checked, the
    switch cleared (and its tokens ended) before the issuer tokens are saved."""
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    app = integration_app(owner)
    as_read = Application.objects.get(pk=app.application.pk)
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=owner, actor=None
    )
    with pytest.raises(ValidationError, match="changed"):
        services.issuer_tokens_create(application=as_read, issuers=[issuer])
    assert not OwnerActingToken.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v2/auth/personal-tokens", {"name": "Forever", "scope": "rw:issuer"}),
        ("get", "/v2/auth/personal-tokens", None),
        ("get", "/v2/auth/token", None),
        ("put", "/v2/auth/token", None),
        ("get", "/v1/user/auth-token", None),
        ("get", "/v2/auth/tokens", None),
    ],
)
def test_an_owner_token_manages_no_personal_token_key_or_connected_app(method, path, body):
    owner = UserFactory()
    app = integration_app(owner)
    answer = getattr(Client(), method)(
        path, body, content_type="application/json", headers=bearer(owner_token(app))
    )
    assert answer.status_code == 403, answer.content
    assert not PersonalToken.objects.exists()


def test_an_owner_token_changes_no_password_or_address_but_may_rename():
    owner = UserFactory()
    app = integration_app(owner)
    token = owner_token(app)

    def put(body: dict) -> int:
        return (
            Client()
            .put("/v2/users/self", body, content_type="application/json", headers=bearer(token))
            .status_code
        )

    assert put({"password": "a brand new passphrase", "currentPassword": DEFAULT_PASSWORD}) == 403
    assert put({"emails": [{"email": "taken-over@example.org", "primary": True}]}) == 403
    assert put({"firstName": "Renamed"}) == 200
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD) and owner.first_name == "Renamed"
    assert not owner.email_addresses.filter(email="taken-over@example.org").exists()


def test_the_same_app_may_again_once_it_no_longer_acts_as_its_owner():
    """The refusal is the switch's: the owner's password log-in to the app, once the app
    acts as nobody, may make a personal token as from any first-party app."""
    owner = UserFactory()
    app = integration_app(owner, grant_type=Application.GRANT_PASSWORD)
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=owner, actor=None
    )
    logged_in = token_request(
        Client(),
        app,
        grant_type="password",
        username=owner.email,
        password=DEFAULT_PASSWORD,
        scope="rw:profile",
    )
    assert logged_in.status_code == 200, logged_in.content
    made = Client().post(
        "/v2/auth/personal-tokens",
        {"name": "Script", "scope": "r:profile"},
        content_type="application/json",
        headers=bearer(logged_in.json()["access_token"]),
    )
    assert made.status_code == 201, made.content


# --- the admin site and the CLI ------------------------------------------------------------


def admin_form(application: Application, **changes) -> dict:
    data = {
        "name": application.name,
        "client_type": application.client_type,
        "authorization_grant_type": application.authorization_grant_type,
        "redirect_uris": application.redirect_uris,
        "allowed_scopes": application.allowed_scopes,
        "algorithm": application.algorithm,
        "user": application.user_id or "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not False}


def test_admins_switch_it_on_and_off_in_the_admin(admin_client):
    owner = UserFactory()
    app = service_app(acts_as_owner=False)
    url = f"/admin/connect/application/{app.application.pk}/change/"
    refused = admin_client.post(url, admin_form(app.application, acts_as_owner="on"))
    assert refused.status_code == 200
    assert "without an owner" in refused.content.decode()
    on = admin_client.post(url, admin_form(app.application, user=owner.pk, acts_as_owner="on"))
    assert on.status_code == 302, on.content.decode()[:2000]
    app.application.refresh_from_db()
    assert app.application.acts_as_owner and app.application.user == owner
    token = client_credentials(app, "r:profile").json()["access_token"]
    off = admin_client.post(url, admin_form(app.application, acts_as_owner=False))
    assert off.status_code == 302
    assert profile_status(token) == 401
    kinds = list(
        AuditEvent.objects.filter(kind="app_acts_as_owner").values_list("detail", flat=True)
    )
    assert [detail["acts_as_owner"] for detail in kinds] == [False, True]  # newest first
    assert "acts_as_owner" in admin_client.get(url).content.decode()


def test_the_cli_creates_an_app_acting_as_its_owner_and_switches_it(capsys):
    owner = UserFactory(email="sync-owner@example.org")
    base = ["apps", "create", "--name", "Sync", "--scopes", "r:profile rw:issuer", "--json"]
    assert cli.main([*base, "--acts-as-owner"]) == 2
    assert "without an owner" in capsys.readouterr().err
    assert not Application.objects.filter(name="Sync").exists()  # nothing half-made
    assert cli.main([*base, "--acts-as-owner", "--owner", "SYNC-owner@example.org"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["acts_as_owner"] is True
    assert created["owner"] == owner.email
    app = RegisteredApp(Application.objects.get(client_id=created["client_id"]), None)
    app.secret = created["client_secret"]
    token = client_credentials(app, "r:profile").json()["access_token"]
    assert cli.main(["apps", "acts-as-owner", app.client_id, "off"]) == 0
    assert "ended" in capsys.readouterr().out
    assert profile_status(token) == 401
    assert cli.main(["apps", "acts-as-owner", app.client_id, "on"]) == 0
    assert "act as sync-owner@example.org" in capsys.readouterr().out
    assert cli.main(["apps", "acts-as-owner", app.client_id, "on", "--owner", "no@one.org"]) == 2
    assert "No account" in capsys.readouterr().err
    assert AuditEvent.objects.filter(kind="app_acts_as_owner").count() == 3
