"""Issuer apps through the real OAuth flow: the token's scopes meet the user's role."""

import json

import pytest
from django.test import Client

from laurels.issuing.models import IssuerStaff
from tests.connect.oauth_helpers import (
    authorize_url,
    bearer,
    redirect_params,
    register_app,
    token_for,
)
from tests.factories import BadgeClassFactory, IssuerFactory, png_data_uri

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member(user):
    issuer = IssuerFactory()
    IssuerStaff.objects.create(issuer=issuer, user=user, role="staff")
    return issuer


def post(token, path, body):
    return Client().post(
        path, json.dumps(body), content_type="application/json", headers=bearer(token)
    )


def test_rw_issuer_for_a_staff_member_awards_but_cannot_define(user, staff_member):
    badge_class = BadgeClassFactory(issuer=staff_member)
    app = register_app(scopes="r:profile rw:issuer")
    token = token_for(user, app, "rw:issuer")
    awarded = post(
        token,
        f"/v2/badgeclasses/{badge_class.entity_id}/assertions",
        {"recipient": {"identity": "learner@example.org"}},
    )
    assert awarded.status_code == 201
    defined = post(
        token,
        f"/v2/issuers/{staff_member.entity_id}/badgeclasses",
        {
            "name": "New",
            "description": "D",
            "image": png_data_uri(),
            "criteriaUrl": "https://c.example.org",
        },
    )
    assert defined.status_code == 403  # the scope would allow it; the staff role does not
    assert "Your role on this issuer (staff)" in defined.json()["status"]["description"]


def test_a_badge_class_bound_token_awards_that_badge_only(user, staff_member):
    x = BadgeClassFactory(issuer=staff_member, name="X")
    y = BadgeClassFactory(issuer=staff_member, name="Y")
    app = register_app(scopes="r:profile rw:badgeclass:*")
    token = token_for(user, app, f"rw:badgeclass:{x.entity_id}")
    assert (
        post(
            token,
            f"/v2/badgeclasses/{x.entity_id}/assertions",
            {"recipient": {"identity": "learner@example.org"}},
        ).status_code
        == 201
    )
    refused = post(
        token,
        f"/v2/badgeclasses/{y.entity_id}/assertions",
        {"recipient": {"identity": "learner@example.org"}},
    )
    assert refused.status_code == 403
    assert f'scope="rw:badgeclass:{y.entity_id} rw:issuer:award"' in refused["WWW-Authenticate"]


def test_a_scope_for_a_badge_class_that_does_not_exist_is_refused_at_authorize(user):
    app = register_app(scopes="r:profile rw:badgeclass:*")
    browser = Client()
    browser.force_login(user)
    params = redirect_params(browser.get(authorize_url(app, scope="rw:badgeclass:nope")))
    assert params["error"] == "invalid_scope"


def test_the_consent_page_describes_a_badge_class_scope(user, staff_member):
    x = BadgeClassFactory(issuer=staff_member, name="X")
    app = register_app(scopes="r:profile rw:badgeclass:*")
    browser = Client()
    browser.force_login(user)
    page = browser.get(authorize_url(app, scope=f"rw:badgeclass:{x.entity_id}"))
    assert "See, edit and award the badge class “X”" in page.content.decode()
