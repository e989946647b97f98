"""The OAuth scopes Laurels understands, declared once.

Names follow the Badgr server's scopes so that Badgr connected apps work unchanged.
Every `rw:` scope includes its `r:` counterpart.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    PROFILE_READ = "r:profile"
    PROFILE_WRITE = "rw:profile"
    ISSUER_READ = "r:issuer"
    ISSUER_WRITE = "rw:issuer"
    BACKPACK_READ = "r:backpack"
    BACKPACK_WRITE = "rw:backpack"


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.PROFILE_READ: "See your name and your email addresses",
    Scope.PROFILE_WRITE: "See and change your name and email addresses",
    Scope.ISSUER_READ: "See the issuers you work for, their badges and the awards they made",
    Scope.ISSUER_WRITE: "Act for the issuers you work for, as far as your role allows",
    Scope.BACKPACK_READ: "See the badges in your backpack and your collections",
    Scope.BACKPACK_WRITE: "See and change the badges in your backpack and your collections",
}

# A scope that grants another: holding the key also grants each value.
SCOPE_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.PROFILE_WRITE: frozenset({Scope.PROFILE_READ}),
    Scope.ISSUER_WRITE: frozenset({Scope.ISSUER_READ}),
    Scope.BACKPACK_WRITE: frozenset({Scope.BACKPACK_READ}),
}


def expand_scopes(scopes: set[str] | frozenset[str]) -> frozenset[str]:
    """The scopes held plus everything they imply."""
    expanded = set(scopes)
    for scope in scopes:
        expanded |= SCOPE_IMPLIES.get(scope, frozenset())
    return frozenset(expanded)
