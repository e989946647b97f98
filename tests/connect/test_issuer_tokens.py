"""`POST /v2/tokens/issuers`: what Badgr answered, and what Laurels refuses where Badgr
was a hazard (the live-server calls are in tests/compat/test_tokens.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from laurels.connect import services
from laurels.connect.models import (
    PERSONAL_TOKENS_CLIENT_ID,
    Application,
    AuditEvent,
    OwnerActingToken,
)
from laurels.issuing.models import IssuerStaff
from tests.connect.oauth_helpers import bearer, register_app, token_for
from tests.factories import IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def app(owner):
    """An app owned by `owner` (its switch off: issuer tokens do not need it)."""
    registered = register_app(scopes="r:profile rw:issuer rw:issuer:*", name="LMS plugin")
    services.application_set_acts_as_owner(
        application=registered.application, acts_as_owner=False, owner=owner, actor=None
    )
    return registered


def ask(token: str, body) -> HttpResponse:
    response = Client().post(
        "/v2/tokens/issuers", body, content_type="application/json", headers=bearer(token)
    )
    return response


def put_issuer(token: str, issuer) -> HttpResponse:
    return Client().put(
        f"/v2/issuers/{issuer.entity_id}",
        {"name": "Renamed"},
        content_type="application/json",
        headers=bearer(token),
    )


def test_the_owners_own_token_gets_tokens_limited_by_the_owners_role(owner, app):
    teacher = UserFactory()
    issuer = IssuerFactory(owner=teacher)
    IssuerStaff.objects.create(issuer=issuer, user=owner, role="staff")
    answer = ask(token_for(owner, app, "rw:issuer"), {"issuers": [issuer.entity_id]})
    assert answer.status_code == 200, answer.content
    [made] = answer.json()["result"]
    me = Client().get(f"/v2/issuers/{issuer.entity_id}", headers=bearer(made["token"]))
    assert me.status_code == 200
    assert put_issuer(made["token"], issuer).status_code == 403  # the owner is staff there
    event = AuditEvent.objects.filter(kind="token_issued", application=app.application).first()
    assert event.user == owner and event.detail == {"issuer_tokens": [issuer.entity_id]}


@pytest.mark.parametrize("public", [True, False])
def test_a_member_who_approved_the_app_cannot_get_the_owners_role(public):
    """The review's repro: Bob, staff of Alice's issuer, approved an app Alice owns. His
    own token cannot edit the issuer, and must not mint one acting as Alice that can."""
    alice, bob = UserFactory(), UserFactory()
    issuer = IssuerFactory(owner=alice)
    IssuerStaff.objects.create(issuer=issuer, user=bob, role="staff")
    app = register_app(scopes="r:profile rw:issuer rw:issuer:*", name="Bob's helper", public=public)
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=alice, actor=None
    )
    bobs = token_for(bob, app, "r:profile rw:issuer")
    assert put_issuer(bobs, issuer).status_code == 403
    answer = ask(bobs, {"issuers": [issuer.entity_id]})
    assert answer.status_code == 403, answer.content
    assert "owner" in answer.json()["status"]["description"]
    assert not OwnerActingToken.objects.exists()
    issuer.refresh_from_db()
    assert issuer.name != "Renamed"


def test_the_owners_token_of_a_public_app_is_refused(owner):
    """A public app has no secret: whoever runs a copy of it could mint for its owner."""
    issuer = IssuerFactory(owner=owner)
    app = register_app(scopes="r:profile rw:issuer rw:issuer:*", name="Phone app", public=True)
    services.application_set_acts_as_owner(
        application=app.application, acts_as_owner=False, owner=owner, actor=None
    )
    answer = ask(token_for(owner, app, "rw:issuer"), {"issuers": [issuer.entity_id]})
    assert answer.status_code == 403
    assert not OwnerActingToken.objects.exists()


@pytest.mark.parametrize("client_id", [PERSONAL_TOKENS_CLIENT_ID, services.BADGR_PUBLIC_CLIENT_ID])
def test_built_in_apps_never_mint_even_with_an_owner(owner, client_id):
    """Personal tokens and Badgr's password log-in are the person's own, not an app's:
    even an admin setting one's owner does not make their tokens mint issuer tokens."""
    services.builtin_apps_ensure()
    Application.objects.filter(client_id=client_id).update(
        user=owner, client_type=Application.CLIENT_CONFIDENTIAL
    )
    issuer = IssuerFactory(owner=owner)
    token = get_access_token_model()(
        user=owner,
        application=Application.objects.get(client_id=client_id),
        scope="rw:issuer",
        expires=timezone.now() + timedelta(hours=1),
    )
    set_token_value(token, "a-built-in-apps-token")
    token.save()
    answer = ask("a-built-in-apps-token", {"issuers": [issuer.entity_id]})
    assert answer.status_code == 403, answer.content
    assert not OwnerActingToken.objects.exists()


def test_an_issuer_the_owner_does_not_work_for_is_unknown_and_no_staff_is_added(owner, app):
    teacher = UserFactory()
    issuer = IssuerFactory(owner=teacher)
    answer = ask(token_for(owner, app, "rw:issuer"), {"issuers": [issuer.entity_id]})
    assert answer.status_code == 400
    assert "unknown issuer" in answer.content.decode()
    assert not IssuerStaff.objects.filter(issuer=issuer, user=owner).exists()
    assert not OwnerActingToken.objects.exists()


def test_hostile_bodies_get_a_clear_400(owner, app):
    issuer = IssuerFactory(owner=owner)
    token = token_for(owner, app, "rw:issuer")
    for body in (
        {},
        {"issuers": []},
        {"issuers": None},
        {"issuers": [{"id": issuer.entity_id}]},
        {"issuers": [issuer.entity_id] * 101},
        {"issuers": ["x" * 5000]},
        [issuer.entity_id],
    ):
        answer = ask(token, body)
        assert answer.status_code == 400, (body, answer.content)
    assert not OwnerActingToken.objects.exists()


def test_only_the_newest_issuer_tokens_are_kept(owner, app):
    issuer = IssuerFactory(owner=owner)
    token = token_for(owner, app, "rw:issuer")
    made = [
        ask(token, {"issuers": [issuer.entity_id]}).json()["result"][0]["token"]
        for _ in range(services.ISSUER_TOKENS_KEPT + 1)
    ]
    assert OwnerActingToken.objects.count() == services.ISSUER_TOKENS_KEPT
    path = f"/v2/issuers/{issuer.entity_id}"
    assert Client().get(path, headers=bearer(made[0])).status_code == 401
    assert Client().get(path, headers=bearer(made[-1])).status_code == 200


def test_a_token_without_rw_issuer_gets_insufficient_scope(owner, app):
    issuer = IssuerFactory(owner=owner)
    answer = ask(token_for(owner, app, "r:profile"), {"issuers": [issuer.entity_id]})
    assert answer.status_code == 403
    assert "rw:issuer" in answer.content.decode()
