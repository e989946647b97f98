"""Badgr's issuer-bound scopes (`rw:issuer:ISSUER_ID`, `r:issuer:ISSUER_ID`): the
registry, the decisions, and what the /v2 lists show to such a token."""

from __future__ import annotations

import pytest
from django.test import Client

from laurels.connect.permissions import (
    Caller,
    InsufficientScope,
    IssuingAction,
    require_issuing,
    require_issuing_scope,
)
from laurels.connect.scopes import (
    RegistryScopes,
    entity_scope_parts,
    expand_scopes,
    is_known_scope,
    is_registrable_scope,
    scope_allowed_by_registration,
    scope_description,
)
from laurels.core.errors import NotFound, PermissionDenied
from laurels.issuing.models import IssuerStaff
from tests.connect.oauth_helpers import authorize_url, bearer, register_app, token_for
from tests.factories import BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- the registry --------------------------------------------------------------------------


@pytest.mark.parametrize("fixed", ["rw:issuer:award", "r:issuer:history", "rw:issuer:define"])
def test_the_fixed_issuer_scopes_never_name_an_issuer(fixed):
    assert entity_scope_parts(fixed) is None
    assert expand_scopes({fixed}) == {fixed, "r:issuer"}
    assert not scope_allowed_by_registration(fixed, frozenset({"rw:issuer:*"}))
    assert scope_allowed_by_registration(fixed, frozenset({"rw:issuer"}))


def test_an_issuer_bound_scope_is_read_as_its_issuer():
    assert entity_scope_parts("rw:issuer:abc_DEF-1") == ("rw", "issuer", "abc_DEF-1")
    assert entity_scope_parts("r:issuer:abc") == ("r", "issuer", "abc")
    assert expand_scopes({"rw:issuer:abc"}) == {"rw:issuer:abc", "r:issuer:abc"}
    assert entity_scope_parts("rw:issuer:a:b") is None
    assert entity_scope_parts("rw:issuer:") is None
    assert is_known_scope("rw:issuer:abc")


def test_apps_are_registered_for_issuer_bound_scopes_by_pattern():
    assert is_registrable_scope("rw:issuer:*")
    assert is_registrable_scope("r:issuer:*")
    assert not is_registrable_scope("rw:issuer:abc")
    rw = frozenset({"rw:issuer:*"})
    assert scope_allowed_by_registration("rw:issuer:abc", rw)
    assert scope_allowed_by_registration("r:issuer:abc", rw)
    read = frozenset({"r:issuer:*"})
    assert scope_allowed_by_registration("r:issuer:abc", read)
    assert not scope_allowed_by_registration("rw:issuer:abc", read)
    assert not scope_allowed_by_registration("rw:issuer:abc", frozenset({"rw:badgeclass:*"}))


def test_descriptions_name_the_issuer():
    issuer = IssuerFactory(name="Riverside College")
    assert "“Riverside College”" in scope_description(f"rw:issuer:{issuer.entity_id}")
    assert "“Riverside College”" in scope_description(f"r:issuer:{issuer.entity_id}")
    assert "any one" in scope_description("rw:issuer:*")
    assert RegistryScopes().get_all_scopes()[f"r:issuer:{issuer.entity_id}"].startswith("See")


# --- decisions -----------------------------------------------------------------------------


def token(user, *scopes: str) -> Caller:
    return Caller(user=user, scopes=frozenset(scopes))


def test_an_issuer_bound_token_may_do_on_its_issuer_what_rw_issuer_allows():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    badge_class = BadgeClassFactory(issuer=issuer)
    caller = token(owner, f"rw:issuer:{issuer.entity_id}")
    for action in IssuingAction:
        require_issuing(caller, action, issuer, badge_class)


def test_a_read_bound_token_only_reads_its_issuer():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    badge_class = BadgeClassFactory(issuer=issuer)
    caller = token(owner, f"r:issuer:{issuer.entity_id}")
    require_issuing(caller, IssuingAction.ISSUER_VIEW, issuer)
    require_issuing(caller, IssuingAction.AWARD_HISTORY, issuer, badge_class)
    for action in (IssuingAction.AWARD, IssuingAction.ISSUER_EDIT, IssuingAction.BADGECLASS_EDIT):
        with pytest.raises(InsufficientScope):
            require_issuing(caller, action, issuer, badge_class)


def test_the_users_role_still_limits_an_issuer_bound_token():
    member = UserFactory()
    issuer = IssuerFactory()
    IssuerStaff.objects.create(issuer=issuer, user=member, role="staff")
    caller = token(member, f"rw:issuer:{issuer.entity_id}")
    require_issuing(caller, IssuingAction.AWARD, issuer, BadgeClassFactory(issuer=issuer))
    with pytest.raises(PermissionDenied) as caught:
        require_issuing(caller, IssuingAction.ISSUER_EDIT, issuer)
    assert not isinstance(caught.value, InsufficientScope)
    stranger = token(UserFactory(), f"rw:issuer:{issuer.entity_id}")
    with pytest.raises(NotFound):
        require_issuing(stranger, IssuingAction.ISSUER_VIEW, issuer)


def test_an_issuer_bound_token_is_a_stranger_to_the_users_other_issuers():
    owner = UserFactory()
    bound, other = IssuerFactory(owner=owner), IssuerFactory(owner=owner)
    caller = token(owner, f"rw:issuer:{bound.entity_id}")
    for action in (IssuingAction.ISSUER_VIEW, IssuingAction.AWARD, IssuingAction.ISSUER_DELETE):
        with pytest.raises(NotFound):
            require_issuing(caller, action, other, BadgeClassFactory(issuer=other))
    # Issuer-wide scopes still reach every issuer of the user.
    wide = token(owner, "r:issuer", f"rw:issuer:{bound.entity_id}")
    require_issuing(wide, IssuingAction.ISSUER_VIEW, other)


def test_lists_let_issuer_bound_tokens_in_but_not_issuer_creation():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    caller = token(owner, f"rw:issuer:{issuer.entity_id}")
    require_issuing_scope(caller, IssuingAction.BADGECLASS_VIEW, allow_badge_class_scopes=True)
    require_issuing_scope(caller, IssuingAction.ISSUER_VIEW, allow_issuer_scopes=True)
    with pytest.raises(InsufficientScope):
        require_issuing_scope(caller, IssuingAction.ISSUER_EDIT)
    fixed = token(owner, "rw:issuer:award")
    with pytest.raises(InsufficientScope):
        require_issuing_scope(fixed, IssuingAction.ISSUER_EDIT, allow_issuer_scopes=True)


# --- through the API, with a token an app got by the consent flow ----------------------------


@pytest.fixture
def two_issuers():
    owner = UserFactory()
    bound, other = IssuerFactory(owner=owner), IssuerFactory(owner=owner)
    BadgeClassFactory(issuer=bound, name="Bound badge")
    BadgeClassFactory(issuer=other, name="Other badge")
    return owner, bound, other


def bound_token(owner, issuer, access="rw") -> str:
    app = register_app(scopes="r:profile rw:issuer:*", name="Per-issuer tool")
    return token_for(owner, app, f"{access}:issuer:{issuer.entity_id}")


def test_an_issuer_bound_token_lists_only_its_issuer(two_issuers):
    owner, bound, _ = two_issuers
    headers = bearer(bound_token(owner, bound))
    issuers = Client().get("/v2/issuers", headers=headers).json()["result"]
    assert [issuer["entityId"] for issuer in issuers] == [bound.entity_id]
    badges = Client().get("/v2/badgeclasses", headers=headers).json()["result"]
    assert [badge["name"] for badge in badges] == ["Bound badge"]
    listed = Client().get(f"/v2/issuers/{bound.entity_id}/badgeclasses", headers=headers)
    assert [badge["name"] for badge in listed.json()["result"]] == ["Bound badge"]


def test_an_issuer_bound_token_gets_404_on_another_issuer(two_issuers):
    owner, bound, other = two_issuers
    headers = bearer(bound_token(owner, bound))
    assert Client().get(f"/v2/issuers/{bound.entity_id}", headers=headers).status_code == 200
    for path in (
        f"/v2/issuers/{other.entity_id}",
        f"/v2/issuers/{other.entity_id}/badgeclasses",
        f"/v2/issuers/{other.entity_id}/assertions",
    ):
        assert Client().get(path, headers=headers).status_code == 404, path
    deleted = Client().delete(f"/v2/issuers/{other.entity_id}", headers=headers)
    assert deleted.status_code == 404


def test_an_issuer_bound_token_awards_on_its_issuer(two_issuers):
    owner, bound, _ = two_issuers
    badge_class = bound.badge_classes.get()
    award = {"recipient": {"identity": "earner@example.org", "type": "email"}}
    for access, expected in (("r", 403), ("rw", 201)):
        response = Client().post(
            f"/v2/badgeclasses/{badge_class.entity_id}/assertions",
            award,
            content_type="application/json",
            headers=bearer(bound_token(owner, bound, access)),
        )
        assert response.status_code == expected, response.content


def test_an_app_without_the_pattern_cannot_get_an_issuer_bound_token(two_issuers):
    owner, bound, _ = two_issuers
    app = register_app(scopes="r:profile rw:issuer", name="Issuer-wide tool")
    browser = Client()
    browser.force_login(owner)
    response = browser.get(authorize_url(app, scope=f"rw:issuer:{bound.entity_id}"))
    assert "invalid_scope" in (response.get("Location") or response.content.decode())
