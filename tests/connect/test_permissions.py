import pytest

from laurels.connect.permissions import (
    Caller,
    InsufficientScope,
    Permission,
    caller_can,
    require,
    require_connected_apps_manage,
)
from laurels.connect.scopes import Scope, expand_scopes
from laurels.core.errors import PermissionDenied
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_session_has_the_users_full_power():
    caller = Caller(user=UserFactory())
    assert caller.is_session
    assert all(caller_can(caller, permission) for permission in Permission)


def test_a_token_is_limited_to_its_scopes():
    caller = Caller(user=UserFactory(), scopes=frozenset({Scope.PROFILE_READ}))
    assert caller_can(caller, Permission.PROFILE_READ)
    assert not caller_can(caller, Permission.PROFILE_WRITE)
    with pytest.raises(PermissionDenied, match="rw:profile"):
        require(caller, Permission.PROFILE_WRITE)


def test_a_write_scope_includes_its_read_scope():
    caller = Caller(user=UserFactory(), scopes=frozenset({"rw:profile"}))
    assert caller_can(caller, Permission.PROFILE_READ)
    assert caller_can(caller, Permission.PROFILE_WRITE)


def test_unrelated_or_unknown_scopes_grant_nothing():
    caller = Caller(user=UserFactory(), scopes=frozenset({"rw:backpack", "x:made-up"}))
    assert not caller_can(caller, Permission.PROFILE_READ)


def test_an_inactive_user_can_do_nothing():
    caller = Caller(user=UserFactory(is_active=False))
    assert not caller_can(caller, Permission.PROFILE_READ)


def test_expand_scopes():
    assert expand_scopes({"rw:profile"}) == {"rw:profile", "r:profile"}
    assert expand_scopes({"rw:issuer"}) == {
        "rw:issuer",
        "r:issuer",
        "rw:issuer:award",
        "r:issuer:history",
        "rw:issuer:define",
    }
    assert expand_scopes({"rw:issuer:award"}) == {"rw:issuer:award", "r:issuer"}
    assert expand_scopes({"r:issuer"}) == {"r:issuer"}
    assert expand_scopes({"rw:badgeclass:abc"}) == {"rw:badgeclass:abc", "r:badgeclass:abc"}
    assert expand_scopes(set()) == frozenset()


def test_a_token_without_the_scope_gets_insufficient_scope():
    caller = Caller(user=UserFactory(), scopes=frozenset({"r:backpack"}))
    with pytest.raises(InsufficientScope) as caught:
        require(caller, Permission.PROFILE_WRITE)
    assert caught.value.scopes == {"rw:profile"}


def test_connected_apps_are_managed_only_in_person():
    token = Caller(user=UserFactory(), scopes=frozenset({"rw:profile", "rw:backpack"}))
    with pytest.raises(PermissionDenied) as caught:
        require_connected_apps_manage(token)
    assert not isinstance(caught.value, InsufficientScope)
    require_connected_apps_manage(Caller(user=token.user))
