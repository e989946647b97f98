"""Who may do what: declared here once, decided here for every entry point.

An API caller acts for a user, either directly (a logged-in browser session, which has
the user's full power) or through a connected app's token, which is limited to its
scopes. What a token can do is always the intersection of its scopes and the user's own
rights: a scope never raises a role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from laurels.connect.scopes import Scope, expand_scopes
from laurels.core.errors import PermissionDenied


class InsufficientScope(PermissionDenied):
    """A valid token without the scope an action needs (RFC 6750 `insufficient_scope`)."""

    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes
        super().__init__(f"This needs the {' or '.join(sorted(scopes))} scope.")


if TYPE_CHECKING:
    from laurels.accounts.models import User


class Permission(StrEnum):
    PROFILE_READ = "profile:read"
    PROFILE_WRITE = "profile:write"
    # Seeing and revoking one's own connected apps: never through an app's token.
    CONNECTED_APPS_MANAGE = "connected-apps:manage"


# The scopes that allow each permission to a token (any one of them suffices).
PERMISSION_SCOPES: dict[Permission, frozenset[Scope]] = {
    Permission.PROFILE_READ: frozenset({Scope.PROFILE_READ}),
    Permission.PROFILE_WRITE: frozenset({Scope.PROFILE_WRITE}),
    Permission.CONNECTED_APPS_MANAGE: frozenset(),
}


@dataclass(frozen=True)
class Caller:
    """Who is calling the API: the user, and the scopes if a connected app's token is used.

    `scopes is None` means a first-party session, limited only by the user's own rights.
    """

    user: User
    scopes: frozenset[str] | None = None
    application: object | None = None
    granted: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        granted = expand_scopes(self.scopes) if self.scopes is not None else frozenset()
        object.__setattr__(self, "granted", granted)

    @property
    def is_session(self) -> bool:
        return self.scopes is None


def caller_can(caller: Caller, permission: Permission) -> bool:
    if not caller.user.is_active:
        return False
    if caller.is_session:
        return True
    return bool(PERMISSION_SCOPES[permission] & caller.granted)


def require(caller: Caller, permission: Permission) -> None:
    """Raise PermissionDenied (InsufficientScope for a token) unless the caller may."""
    if caller_can(caller, permission):
        return
    scopes = PERMISSION_SCOPES[permission]
    if caller.is_session or not caller.user.is_active:
        raise PermissionDenied()
    if not scopes:
        raise PermissionDenied("Connected apps cannot do this; sign in to Laurels yourself.")
    raise InsufficientScope(scopes)
