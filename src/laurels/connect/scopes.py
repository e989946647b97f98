"""The OAuth scopes Laurels understands, declared once, each with a plain description.

Names follow the Badgr server's scopes so that Badgr connected apps work unchanged.
Every `rw:` scope includes its `r:` counterpart. Besides the fixed scopes there are
entity-bound ones, `r:badgeclass:ENTITY_ID` and `rw:badgeclass:ENTITY_ID`, which limit a
token to one badge class; an app is registered for them with the pattern
`rw:badgeclass:*`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from django.apps import apps


class Scope(StrEnum):
    PROFILE_READ = "r:profile"
    PROFILE_WRITE = "rw:profile"
    ISSUER_READ = "r:issuer"
    ISSUER_WRITE = "rw:issuer"
    ISSUER_AWARD = "rw:issuer:award"
    ISSUER_HISTORY = "r:issuer:history"
    ISSUER_DEFINE = "rw:issuer:define"
    BACKPACK_READ = "r:backpack"
    BACKPACK_WRITE = "rw:backpack"
    OPENID = "openid"
    EMAIL = "email"
    # App-level: lets a resource server introspect tokens (RFC 7662); never acts for a user.
    INTROSPECTION = "introspection"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.PROFILE_READ: "See your name and your email addresses",
    Scope.PROFILE_WRITE: "See and change your name",
    Scope.ISSUER_READ: "See the issuers you work for, their badges and the awards they made",
    Scope.ISSUER_WRITE: "Act for the issuers you work for, as far as your role there allows",
    Scope.ISSUER_AWARD: "Award existing badges for the issuers you work for",
    Scope.ISSUER_HISTORY: "See the award history of the issuers you work for",
    Scope.ISSUER_DEFINE: "Define new badges and edit existing ones for your issuers",
    Scope.BACKPACK_READ: "See the badges in your backpack and your collections",
    Scope.BACKPACK_WRITE: "See and change your backpack: add badges, organize collections",
    Scope.OPENID: "Log you in with your Laurels account",
    Scope.EMAIL: "See your primary email address (for log-in)",
    Scope.INTROSPECTION: "Check tokens issued by this server (resource servers only)",
}

# A scope that grants others: holding the key also grants each value.
SCOPE_IMPLIES: dict[str, frozenset[str]] = {
    Scope.PROFILE_WRITE: frozenset({Scope.PROFILE_READ}),
    Scope.ISSUER_WRITE: frozenset(
        {Scope.ISSUER_READ, Scope.ISSUER_AWARD, Scope.ISSUER_HISTORY, Scope.ISSUER_DEFINE}
    ),
    Scope.ISSUER_AWARD: frozenset({Scope.ISSUER_READ}),
    Scope.ISSUER_HISTORY: frozenset({Scope.ISSUER_READ}),
    Scope.ISSUER_DEFINE: frozenset({Scope.ISSUER_READ}),
    Scope.BACKPACK_WRITE: frozenset({Scope.BACKPACK_READ}),
}

# Scopes that act for a user, and those that only make sense for the app itself.
APP_LEVEL_SCOPES = frozenset({Scope.INTROSPECTION})
ALWAYS_AVAILABLE = frozenset({Scope.PROFILE_READ, Scope.OPENID, Scope.EMAIL})

ENTITY_SCOPE = re.compile(
    r"^(?P<access>r|rw):(?P<kind>badgeclass):(?P<entity_id>[A-Za-z0-9_-]{1,64})$"
)
ENTITY_SCOPE_PATTERNS = {"r:badgeclass:*", "rw:badgeclass:*"}
ENTITY_DESCRIPTIONS = {
    "r": "See the badge class {name} and its awards",
    "rw": "See, edit and award the badge class {name}",
}


def expand_scopes(scopes: set[str] | frozenset[str]) -> frozenset[str]:
    """The scopes held plus everything they imply."""
    expanded = set(scopes)
    for scope in scopes:
        expanded |= SCOPE_IMPLIES.get(scope, frozenset())
        bound = ENTITY_SCOPE.match(scope)
        if bound and bound["access"] == "rw":
            expanded.add(f"r:{bound['kind']}:{bound['entity_id']}")
    return frozenset(expanded)


def scope_description(scope: str) -> str:
    if scope in SCOPE_DESCRIPTIONS:
        return SCOPE_DESCRIPTIONS[scope]
    bound = ENTITY_SCOPE.match(scope)
    if bound:
        name = entity_scope_target_name(scope)
        shown = f"“{name}”" if name else bound["entity_id"]
        return ENTITY_DESCRIPTIONS[bound["access"]].format(name=shown)
    if scope in ENTITY_SCOPE_PATTERNS:
        access = scope.split(":", 1)[0]
        return ENTITY_DESCRIPTIONS[access].format(name="(any one, chosen per request)")
    return scope


def is_known_scope(scope: str) -> bool:
    return scope in SCOPE_DESCRIPTIONS or bool(ENTITY_SCOPE.match(scope))


def is_registrable_scope(scope: str) -> bool:
    """Scopes an app may be registered for: the fixed ones and the entity patterns."""
    return scope in SCOPE_DESCRIPTIONS or scope in ENTITY_SCOPE_PATTERNS


def parse_scopes(text: str) -> list[str]:
    """Space-separated scopes, duplicates dropped, order kept."""
    return list(dict.fromkeys(text.split()))


def entity_scope_target_name(scope: str) -> str | None:
    """The name of the badge class an entity-bound scope names, None if there is none."""
    bound = ENTITY_SCOPE.match(scope)
    if not bound or not apps.is_installed("laurels.issuing"):
        return None
    badge_class = apps.get_model("issuing", "BadgeClass")
    return (
        badge_class.objects.filter(entity_id=bound["entity_id"])
        .values_list("name", flat=True)
        .first()
    )


def entity_scope_target_exists(scope: str) -> bool:
    """Whether the badge class an entity-bound scope names exists on this server."""
    return entity_scope_target_name(scope) is not None


def scope_allowed_by_registration(scope: str, registered: frozenset[str]) -> bool:
    """Whether an app registered for `registered` may ask for `scope`.

    `r:profile` (and the OpenID log-in scopes) are open to every app; a `rw:` registration
    covers its `r:` scope; an entity pattern covers any entity of that kind.
    """
    if scope in ALWAYS_AVAILABLE:
        return True
    held = expand_scopes(registered)
    if scope in held:
        return True
    bound = ENTITY_SCOPE.match(scope)
    if bound:
        patterns = {f"rw:{bound['kind']}:*"}
        if bound["access"] == "r":
            patterns.add(f"r:{bound['kind']}:*")
        return bool(patterns & registered)
    return False


class ScopeDescriptions(dict):
    """All fixed scopes with their descriptions; entity-bound ones described on demand."""

    def __missing__(self, scope: str) -> str:
        return scope_description(scope)


class RegistryScopes:
    """django-oauth-toolkit's scopes backend, answering from this registry."""

    def get_all_scopes(self) -> dict[str, str]:
        return ScopeDescriptions(SCOPE_DESCRIPTIONS)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return list(SCOPE_DESCRIPTIONS)
        registered = frozenset(parse_scopes(application.allowed_scopes))
        return [s for s in SCOPE_DESCRIPTIONS if scope_allowed_by_registration(s, registered)]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        """No scope asked for: `r:profile`, or for the password grant everything allowed."""
        if application is not None and getattr(request, "grant_type", None) == "password":
            return [
                s for s in parse_scopes(application.allowed_scopes) if s not in APP_LEVEL_SCOPES
            ]
        return [Scope.PROFILE_READ]
