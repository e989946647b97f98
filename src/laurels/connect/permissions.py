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

from laurels.connect.models import PERSONAL_TOKENS_CLIENT_ID
from laurels.connect.scopes import Scope, expand_scopes
from laurels.core.errors import NotFound, PermissionDenied
from laurels.issuing import selectors as issuing_selectors
from laurels.issuing.models import ROLE_RANK, Role


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
    BACKPACK_READ = "backpack:read"
    BACKPACK_WRITE = "backpack:write"


# The scopes that allow each permission to a token (any one of them suffices).
PERMISSION_SCOPES: dict[Permission, frozenset[Scope]] = {
    Permission.PROFILE_READ: frozenset({Scope.PROFILE_READ}),
    Permission.PROFILE_WRITE: frozenset({Scope.PROFILE_WRITE}),
    Permission.BACKPACK_READ: frozenset({Scope.BACKPACK_READ}),
    Permission.BACKPACK_WRITE: frozenset({Scope.BACKPACK_WRITE}),
}


@dataclass(frozen=True)
class Caller:
    """Who is calling the API: the user, and the scopes if a connected app's token is used.

    `scopes is None` means a first-party session, limited only by the user's own rights.
    `roles` caches the user's issuer roles for the length of one request.
    """

    user: User
    scopes: frozenset[str] | None = None
    application: object | None = None
    granted: frozenset[str] = field(init=False)
    roles: dict[int, str | None] = field(default_factory=dict, repr=False, compare=False)

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


def require_connected_apps_manage(caller: Caller) -> None:
    """Seeing and disconnecting one's connected apps (`/v2/auth/tokens`): from a session,
    or, as in Badgr, with a token holding rw:profile, but only a first-party app's (Badgr's
    password log-in, the API docs) or a personal token. A third-party app's token never:
    it could learn which other apps the person uses, and disconnect its competitors."""
    application = caller.application
    allowed = caller.user.is_active and (
        caller.is_session
        or (getattr(application, "first_party", False) and Scope.PROFILE_WRITE in caller.granted)
    )
    if not allowed:
        raise PermissionDenied("Connected apps cannot do this; sign in to Laurels yourself.")


def require_personal_tokens_manage(caller: Caller) -> None:
    """Making, listing and deleting one's personal tokens (and Badgr's legacy key): from
    a session, or from a first-party app's token with rw:profile (Badgr's password log-in,
    which scripts use before asking for their key). Never from another app's token or a
    personal token: either would turn a narrow or short-lived token into a broad,
    long-lived one."""
    application = caller.application
    allowed = caller.user.is_active and (
        caller.is_session
        or (
            getattr(application, "first_party", False)
            and getattr(application, "client_id", None) != PERSONAL_TOKENS_CLIENT_ID
            and Scope.PROFILE_WRITE in caller.granted
        )
    )
    if not allowed:
        raise PermissionDenied(
            "Personal tokens are made on your account page or after signing in with your "
            "password; connected apps and personal tokens cannot make them."
        )


# --- Issuing: the user's role on the issuer, intersected with the token's scopes ----------


class IssuingAction(StrEnum):
    ISSUER_VIEW = "issuer:view"
    ISSUER_EDIT = "issuer:edit"
    ISSUER_DELETE = "issuer:delete"
    STAFF_MANAGE = "issuer:staff"
    BADGECLASS_DEFINE = "badgeclass:define"
    BADGECLASS_VIEW = "badgeclass:view"
    BADGECLASS_EDIT = "badgeclass:edit"
    AWARD = "assertion:award"
    AWARD_HISTORY = "assertion:history"
    AWARD_REVOKE = "assertion:revoke"


# The least role on the issuer that may take each action (staff < editor < owner: the
# roles and their rank are issuing's, `issuing.models`).
ROLE_NEEDED: dict[IssuingAction, str] = {
    IssuingAction.ISSUER_VIEW: Role.STAFF,
    IssuingAction.ISSUER_EDIT: Role.EDITOR,
    IssuingAction.ISSUER_DELETE: Role.OWNER,
    IssuingAction.STAFF_MANAGE: Role.OWNER,
    IssuingAction.BADGECLASS_DEFINE: Role.EDITOR,
    IssuingAction.BADGECLASS_VIEW: Role.STAFF,
    IssuingAction.BADGECLASS_EDIT: Role.EDITOR,
    IssuingAction.AWARD: Role.STAFF,
    IssuingAction.AWARD_HISTORY: Role.STAFF,
    IssuingAction.AWARD_REVOKE: Role.EDITOR,
}

# Issuer-wide scopes that allow each action to a token (after rw -> r expansion).
ISSUER_SCOPES: dict[IssuingAction, frozenset[str]] = {
    IssuingAction.ISSUER_VIEW: frozenset({Scope.ISSUER_READ}),
    IssuingAction.ISSUER_EDIT: frozenset({Scope.ISSUER_WRITE}),
    IssuingAction.ISSUER_DELETE: frozenset({Scope.ISSUER_WRITE}),
    IssuingAction.STAFF_MANAGE: frozenset({Scope.ISSUER_WRITE}),
    IssuingAction.BADGECLASS_DEFINE: frozenset({Scope.ISSUER_DEFINE}),
    IssuingAction.BADGECLASS_VIEW: frozenset({Scope.ISSUER_READ}),
    IssuingAction.BADGECLASS_EDIT: frozenset({Scope.ISSUER_DEFINE}),
    IssuingAction.AWARD: frozenset({Scope.ISSUER_AWARD}),
    IssuingAction.AWARD_HISTORY: frozenset({Scope.ISSUER_READ, Scope.ISSUER_HISTORY}),
    IssuingAction.AWARD_REVOKE: frozenset({Scope.ISSUER_WRITE}),
}

# Badge-class-bound scope prefix that allows each action on that one badge class.
BADGECLASS_SCOPES: dict[IssuingAction, str] = {
    IssuingAction.BADGECLASS_VIEW: "r:badgeclass",
    IssuingAction.BADGECLASS_EDIT: "rw:badgeclass",
    IssuingAction.AWARD: "rw:badgeclass",
    IssuingAction.AWARD_HISTORY: "r:badgeclass",
    IssuingAction.AWARD_REVOKE: "rw:badgeclass",
}


def issuer_role(caller: Caller, issuer) -> str | None:
    """The caller's role on `issuer` (None for non-members), looked up once per request.
    Roles are issuing's data; what they allow is decided here."""
    if issuer.pk not in caller.roles:
        caller.roles[issuer.pk] = issuing_selectors.issuer_role(user=caller.user, issuer=issuer)
    return caller.roles[issuer.pk]


def scope_allows(caller: Caller, action: IssuingAction, badge_class=None) -> bool:
    if caller.is_session:
        return True
    if ISSUER_SCOPES[action] & caller.granted:
        return True
    prefix = BADGECLASS_SCOPES.get(action)
    return bool(
        prefix and badge_class is not None and f"{prefix}:{badge_class.entity_id}" in caller.granted
    )


def scopes_for(action: IssuingAction, badge_class=None) -> frozenset[str]:
    """The scopes a token could hold to be allowed `action` (for insufficient_scope)."""
    scopes = set(ISSUER_SCOPES[action])
    prefix = BADGECLASS_SCOPES.get(action)
    if prefix and badge_class is not None:
        scopes.add(f"{prefix}:{badge_class.entity_id}")
    return frozenset(scopes)


def require_issuing(caller: Caller, action: IssuingAction, issuer, badge_class=None) -> None:
    """Allow `action` on `issuer` (and `badge_class`) or raise.

    Non-members get NotFound, so entity ids of private issuers do not leak; members whose
    role is too low get PermissionDenied; tokens without a fitting scope get
    InsufficientScope. A session acts with all of the user's roles.
    """
    role = issuer_role(caller, issuer) if caller.user.is_active else None
    if role is None:
        raise NotFound()
    if ROLE_RANK[role] < ROLE_RANK[ROLE_NEEDED[action]]:
        raise PermissionDenied(
            f"Your role on this issuer ({role}) does not allow this; "
            f"it needs {ROLE_NEEDED[action]} or above."
        )
    if not scope_allows(caller, action, badge_class):
        raise InsufficientScope(scopes_for(action, badge_class))


def require_issuing_scope(
    caller: Caller, action: IssuingAction, *, allow_badge_class_scopes: bool = False
) -> None:
    """For actions without one target (lists, creating an issuer). With
    `allow_badge_class_scopes`, a token bound to single badge classes passes too; the list
    then shows just those (see connect.issuing_selectors)."""
    if not caller.user.is_active:
        raise PermissionDenied()
    if scope_allows(caller, action):
        return
    if allow_badge_class_scopes and badge_class_scoped_ids(caller):
        return
    raise InsufficientScope(ISSUER_SCOPES[action])


def badge_class_scoped_ids(caller: Caller, access: str = "r") -> frozenset[str]:
    """Entity ids of the badge classes a token is bound to (for list endpoints)."""
    prefix = f"{access}:badgeclass:"
    return frozenset(s.removeprefix(prefix) for s in caller.granted if s.startswith(prefix))
