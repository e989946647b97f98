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

from laurels.connect.models import PERSONAL_TOKENS_CLIENT_ID, Application
from laurels.connect.scopes import Scope, entity_scope_parts, expand_scopes
from laurels.connect.services import BADGR_PUBLIC_CLIENT_ID
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
    BADGE_CONNECT_ASSERTIONS_READ = "badgeconnect:assertions:read"
    BADGE_CONNECT_ASSERTIONS_CREATE = "badgeconnect:assertions:create"
    BADGE_CONNECT_PROFILE_READ = "badgeconnect:profile:read"


# The scopes that allow each permission to a token (any one of them suffices).
PERMISSION_SCOPES: dict[Permission, frozenset[Scope]] = {
    Permission.PROFILE_READ: frozenset({Scope.PROFILE_READ}),
    Permission.PROFILE_WRITE: frozenset({Scope.PROFILE_WRITE}),
    Permission.BACKPACK_READ: frozenset({Scope.BACKPACK_READ}),
    Permission.BACKPACK_WRITE: frozenset({Scope.BACKPACK_WRITE}),
    # Badge Connect's routes also take the backpack scopes, as Badgr's did (`rw:` implies `r:`).
    Permission.BADGE_CONNECT_ASSERTIONS_READ: frozenset(
        {Scope.BADGE_CONNECT_ASSERTIONS_READ, Scope.BACKPACK_READ}
    ),
    Permission.BADGE_CONNECT_ASSERTIONS_CREATE: frozenset(
        {Scope.BADGE_CONNECT_ASSERTIONS_CREATE, Scope.BACKPACK_WRITE}
    ),
    Permission.BADGE_CONNECT_PROFILE_READ: frozenset(
        {Scope.BADGE_CONNECT_PROFILE_READ, Scope.BACKPACK_READ}
    ),
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


def acts_as_app_owner(caller: Caller) -> bool:
    """Whether the caller is an app acting as its owner (Badgr's server-to-server
    pattern): a token of the app's owner from an app whose client credentials act as
    them. Whoever holds that app's secret has the owner's power without the owner, and
    its tokens for the owner are all alike to it, so while the switch is on none of them
    may make what would outlive the switch: credentials, personal tokens, Badgr's key, or
    changes to the owner's connected apps. Turning it off ends those tokens (and the
    issuer tokens the app made: connect.services), so the owner's own log-ins to the app
    count as any others' again."""
    application = caller.application
    return (
        not caller.is_session
        and bool(getattr(application, "acts_as_owner", False))
        and getattr(application, "user_id", None) == caller.user.pk
    )


def require_credentials_change(caller: Caller, what: str) -> None:
    """The password and the addresses (a password reset goes to them) only from whom the
    person types their password into: Laurels itself (a session) or an app of the
    operator's (first-party, like Badgr's log-in), not acting as its owner. Any other app
    with rw:profile could otherwise guess the current password and, on a hit, keep its
    token while every other session and token ended, or remove the person's addresses:
    takeovers and lock-outs. `what` completes the refusal ("change your password")."""
    if caller.is_session or (
        getattr(caller.application, "first_party", False) and not acts_as_app_owner(caller)
    ):
        return
    raise PermissionDenied(f"Connected apps cannot {what}; do it on Laurels itself.")


def require_connected_apps_manage(caller: Caller) -> None:
    """Seeing and disconnecting one's connected apps (`/v2/auth/tokens`): from a session,
    or, as in Badgr, with a token holding rw:profile, but only a first-party app's (Badgr's
    password log-in, the API docs) or a personal token. A third-party app's token never:
    it could learn which other apps the person uses, and disconnect its competitors; nor
    an app acting as its owner (`acts_as_app_owner`)."""
    application = caller.application
    allowed = caller.user.is_active and (
        caller.is_session
        or (
            getattr(application, "first_party", False)
            and Scope.PROFILE_WRITE in caller.granted
            and not acts_as_app_owner(caller)
        )
    )
    if not allowed:
        raise PermissionDenied("Connected apps cannot do this; sign in to Laurels yourself.")


def require_personal_tokens_manage(caller: Caller) -> None:
    """Making, listing and deleting one's personal tokens (and Badgr's legacy key): from
    a session, or from a first-party app's token with rw:profile (Badgr's password log-in,
    which scripts use before asking for their key). Never from another app's token, a
    personal token or an app acting as its owner (`acts_as_app_owner`): each would turn
    a narrow or short-lived token into a broad, long-lived one."""
    application = caller.application
    allowed = caller.user.is_active and (
        caller.is_session
        or (
            getattr(application, "first_party", False)
            and getattr(application, "client_id", None) != PERSONAL_TOKENS_CLIENT_ID
            and Scope.PROFILE_WRITE in caller.granted
            and not acts_as_app_owner(caller)
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


# What an issuer-bound scope (Badgr's `rw:issuer:ID`, `r:issuer:ID`) allows on its issuer:
# what the issuer-wide scope of the same access allows everywhere.
ISSUER_BOUND_GRANTS: dict[str, frozenset[str]] = {
    "rw": expand_scopes(frozenset({Scope.ISSUER_WRITE})),
    "r": frozenset({Scope.ISSUER_READ}),
}


def issuer_scoped_ids(caller: Caller) -> frozenset[str]:
    """Entity ids of the issuers a token is bound to (`r:` or `rw:issuer:ID`). Parsed by
    the registry, so the fixed `rw:issuer:award` and the like never count."""
    return frozenset(
        bound[2]
        for scope in caller.granted
        if (bound := entity_scope_parts(scope)) is not None and bound[:2] == ("r", "issuer")
    )


def scopes_on(caller: Caller, issuer) -> frozenset[str]:
    """The token's scopes as they count on `issuer`: the issuer-wide ones, plus what an
    issuer-bound scope naming this issuer stands for."""
    held = set(caller.granted)
    if issuer is not None:
        for access, grants in ISSUER_BOUND_GRANTS.items():
            if f"{access}:issuer:{issuer.entity_id}" in caller.granted:
                held |= grants
    return frozenset(held)


def confined_to_bound_issuers(caller: Caller) -> bool:
    """Whether the token reaches issuing only through issuer-bound scopes: then every
    other issuer is to it as to a non-member (NotFound), whatever the user's role there."""
    return (
        not caller.is_session
        and Scope.ISSUER_READ not in caller.granted
        and not badge_class_scoped_ids(caller)
        and bool(issuer_scoped_ids(caller))
    )


def issuer_role(caller: Caller, issuer) -> str | None:
    """The caller's role on `issuer` (None for non-members), looked up once per request.
    Roles are issuing's data; what they allow is decided here. A token confined to
    other issuers (`confined_to_bound_issuers`) is no member here."""
    if confined_to_bound_issuers(caller) and issuer.entity_id not in issuer_scoped_ids(caller):
        return None
    if issuer.pk not in caller.roles:
        caller.roles[issuer.pk] = issuing_selectors.issuer_role(user=caller.user, issuer=issuer)
    return caller.roles[issuer.pk]


def scope_allows(caller: Caller, action: IssuingAction, badge_class=None, issuer=None) -> bool:
    """Whether the token's scopes allow `action`: issuer-wide, or on `issuer` through an
    issuer-bound scope, or on `badge_class` through a badge-class-bound one."""
    if caller.is_session:
        return True
    if ISSUER_SCOPES[action] & scopes_on(caller, issuer):
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
    if not scope_allows(caller, action, badge_class, issuer):
        raise InsufficientScope(scopes_for(action, badge_class))


def require_issuing_scope(
    caller: Caller,
    action: IssuingAction,
    *,
    allow_badge_class_scopes: bool = False,
    allow_issuer_scopes: bool = False,
) -> None:
    """For actions without one target (lists, creating an issuer). With
    `allow_badge_class_scopes`, a token bound to single badge classes, or to issuers whose
    bound scope allows `action`, passes too; with `allow_issuer_scopes` only the latter
    (a list of issuers). The list then shows just those (see connect.issuing_selectors)."""
    if not caller.user.is_active:
        raise PermissionDenied()
    if scope_allows(caller, action):
        return
    if allow_badge_class_scopes and badge_class_scoped_ids(caller):
        return
    if (allow_badge_class_scopes or allow_issuer_scopes) and issuer_bound_allows(caller, action):
        return
    raise InsufficientScope(ISSUER_SCOPES[action])


def issuer_bound_allows(caller: Caller, action: IssuingAction) -> bool:
    """Whether an issuer-bound scope the token holds allows `action` on its issuer."""
    accesses = {
        bound[0]
        for scope in caller.granted
        if (bound := entity_scope_parts(scope)) is not None and bound[1] == "issuer"
    }
    held = frozenset().union(*(ISSUER_BOUND_GRANTS[access] for access in accesses))
    return bool(ISSUER_SCOPES[action] & held)


def badge_class_scoped_ids(caller: Caller, access: str = "r") -> frozenset[str]:
    """Entity ids of the badge classes a token is bound to (for list endpoints)."""
    prefix = f"{access}:badgeclass:"
    return frozenset(s.removeprefix(prefix) for s in caller.granted if s.startswith(prefix))


def require_issuer_tokens(caller: Caller) -> None:
    """Badgr's `POST /v2/tokens/issuers`: an app's token holding `rw:issuer` (Badgr's
    `valid_scopes`, and never a session: Badgr wanted its OAuth token). Unlike Badgr,
    only the app's owner asks, with the app's token for them (their own log-in to it, or
    client credentials acting as them): the tokens act as the owner, so anyone else who
    approved the app would get the owner's role on the issuers. And only a confidential
    app, not a built-in one: a public app's copies all pass for it, and personal tokens
    and Badgr's password log-in are the person's own, not an app's. A token bound to
    issuers has no `rw:issuer` itself, so it cannot make more of them."""
    application = caller.application
    if caller.is_session or application is None or not caller.user.is_active:
        raise PermissionDenied("Issuer tokens are asked for with an app's OAuth token.")
    if Scope.ISSUER_WRITE not in caller.granted:
        raise InsufficientScope(frozenset({Scope.ISSUER_WRITE}))
    if not _mints_issuer_tokens(application):
        raise PermissionDenied(
            "Only a confidential app with an owner makes issuer tokens, for its owner."
        )
    if application.user_id != caller.user.pk:
        raise PermissionDenied(
            "Issuer tokens act for the app's owner, so only the owner asks for them."
        )


# Built-in apps whose tokens are a person's own, never an app's: no issuer tokens for them.
BUILTIN_PERSONAL_CLIENT_IDS = frozenset({PERSONAL_TOKENS_CLIENT_ID, BADGR_PUBLIC_CLIENT_ID})


def _mints_issuer_tokens(application: Application) -> bool:
    """A confidential app with an owner, not a built-in one."""
    return (
        application.client_type == application.CLIENT_CONFIDENTIAL
        and application.client_id not in BUILTIN_PERSONAL_CLIENT_IDS
        and application.user_id is not None
    )
