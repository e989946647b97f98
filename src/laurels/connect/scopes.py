"""The OAuth scopes Laurels understands, declared once, each with a plain description.

Names follow the Badgr server's scopes so that Badgr connected apps work unchanged.
Every `rw:` scope includes its `r:` counterpart. Besides the fixed scopes there are
entity-bound ones: `r:badgeclass:ENTITY_ID` and `rw:badgeclass:ENTITY_ID` limit a token to
one badge class, and Badgr's `r:issuer:ENTITY_ID` and `rw:issuer:ENTITY_ID` to one issuer
(what `r:issuer` / `rw:issuer` allow, there only). An app is registered for them with the
patterns `rw:badgeclass:*` and `rw:issuer:*` (or their `r:` forms). The fixed scopes
`rw:issuer:award`, `r:issuer:history` and `rw:issuer:define` are never read as naming an
issuer.
"""

from __future__ import annotations

import re
from enum import StrEnum

from django.apps import apps

BADGE_CONNECT_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/ob/v2p1/scope/"


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
    # Badge Connect (Open Badges 2.1): a backpack's API for other backpacks and displayers.
    # They allow only the /bcv1 routes (which take the backpack scopes too), as in Badgr.
    BADGE_CONNECT_ASSERTIONS_READ = BADGE_CONNECT_SCOPE_PREFIX + "assertion.readonly"
    BADGE_CONNECT_ASSERTIONS_CREATE = BADGE_CONNECT_SCOPE_PREFIX + "assertion.create"
    BADGE_CONNECT_PROFILE_READ = BADGE_CONNECT_SCOPE_PREFIX + "profile.readonly"


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
    Scope.BADGE_CONNECT_ASSERTIONS_READ: "See the badges in your backpack (Badge Connect)",
    Scope.BADGE_CONNECT_ASSERTIONS_CREATE: "Add badges to your backpack (Badge Connect)",
    Scope.BADGE_CONNECT_PROFILE_READ: "See your name and email address (Badge Connect)",
}

# Badge Connect's scopes: what Badge Connect apps ask for, approved for self-registered
# apps without review (as in Badgr); each user still consents.
BADGE_CONNECT_SCOPES = frozenset(
    {
        Scope.BADGE_CONNECT_ASSERTIONS_READ,
        Scope.BADGE_CONNECT_ASSERTIONS_CREATE,
        Scope.BADGE_CONNECT_PROFILE_READ,
    }
)

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

# The words after `r:issuer:` / `rw:issuer:` that are fixed scopes' (or look like one),
# never an issuer's id: `rw:issuer:award` must not become "the issuer `award`".
FIXED_ISSUER_SUFFIXES = ("award", "history", "define")
ENTITY_SCOPE = re.compile(
    r"^(?P<access>r|rw):(?:(?P<kind>badgeclass)|(?P<issuer_kind>issuer)"
    rf"(?=:)(?!:(?:{'|'.join(FIXED_ISSUER_SUFFIXES)})$))"
    r":(?P<entity_id>[A-Za-z0-9_-]{1,64})$"
)
# The kinds of entity a scope may be bound to: the issuing model that holds them.
ENTITY_SCOPE_MODELS = {"badgeclass": "BadgeClass", "issuer": "Issuer"}
ENTITY_SCOPE_PATTERNS = {
    f"{access}:{kind}:*" for access in ("r", "rw") for kind in ENTITY_SCOPE_MODELS
}
ENTITY_DESCRIPTIONS = {
    ("r", "badgeclass"): "See the badge class {name} and its awards",
    ("rw", "badgeclass"): "See, edit and award the badge class {name}",
    ("r", "issuer"): "See the issuer {name}, its badges and the awards it made",
    ("rw", "issuer"): "Act for the issuer {name}, as far as your role there allows",
}


def entity_scope_parts(scope: str) -> tuple[str, str, str] | None:
    """(access, kind, entity id) of an entity-bound scope, None for any other scope."""
    bound = ENTITY_SCOPE.match(scope)
    if bound is None:
        return None
    return bound["access"], bound["kind"] or bound["issuer_kind"], bound["entity_id"]


def expand_scopes(scopes: set[str] | frozenset[str]) -> frozenset[str]:
    """The scopes held plus everything they imply."""
    expanded = set(scopes)
    for scope in scopes:
        expanded |= SCOPE_IMPLIES.get(scope, frozenset())
        bound = entity_scope_parts(scope)
        if bound and bound[0] == "rw":
            expanded.add(f"r:{bound[1]}:{bound[2]}")
    return frozenset(expanded)


def scope_description(scope: str) -> str:
    if scope in SCOPE_DESCRIPTIONS:
        return SCOPE_DESCRIPTIONS[scope]
    bound = entity_scope_parts(scope)
    if bound:
        name = entity_scope_target_name(scope)
        shown = f"“{name}”" if name else bound[2]
        return ENTITY_DESCRIPTIONS[bound[:2]].format(name=shown)
    if scope in ENTITY_SCOPE_PATTERNS:
        access, kind, _ = scope.split(":")
        return ENTITY_DESCRIPTIONS[access, kind].format(name="(any one, chosen per request)")
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
    """The name of the badge class or issuer an entity-bound scope names, None if there is
    none. (The model is looked up by name: issuing sits below connect's registry users.)"""
    bound = entity_scope_parts(scope)
    if not bound or not apps.is_installed("laurels.issuing"):
        return None
    model = apps.get_model("issuing", ENTITY_SCOPE_MODELS[bound[1]])
    return model.objects.filter(entity_id=bound[2]).values_list("name", flat=True).first()


def entity_scope_target_exists(scope: str) -> bool:
    """Whether the badge class or issuer an entity-bound scope names exists here."""
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
    bound = entity_scope_parts(scope)
    if bound:
        access, kind, _ = bound
        patterns = {f"rw:{kind}:*"}
        if access == "r":
            patterns.add(f"r:{kind}:*")
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
