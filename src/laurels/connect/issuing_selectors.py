"""Issuing's rows as a caller may see them: issuing's reads with the decision of
`connect.permissions` (a role against an action, and a token's scopes).

These sit in `connect`, above `issuing`, because they need both; `issuing.selectors`
keeps the reads that need issuing's own data only (docs/architecture.md).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from laurels.connect.permissions import (
    Caller,
    IssuingAction,
    badge_class_scoped_ids,
    issuer_role,
    issuer_scoped_ids,
    require_issuing,
    require_issuing_scope,
    scope_allows,
)
from laurels.core.errors import NotFound
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.issuing.selectors import (
    assertion_with_role,
    assertions_filtered,
    badge_class_with_role,
    issuer_with_role,
    issuers_visible,
)


def _role_read(caller: Caller, issuer: Issuer, role: str | None) -> None:
    """Keep the caller's role on `issuer`, read along with it, where `issuer_role` looks
    first (`Caller.roles`, for this request): the permission is decided as before, on the
    same row, without a query of its own."""
    caller.roles.setdefault(issuer.pk, role)


def issuer_for(*, caller: Caller, entity_id: str, action: IssuingAction) -> Issuer:
    """The issuer with its creator and staff list, if the caller may take `action` on it."""
    issuer, role = issuer_with_role(entity_id=entity_id, user=caller.user)
    if issuer is None:
        raise NotFound()
    _role_read(caller, issuer, role)
    require_issuing(caller, action, issuer)
    return issuer


def issuer_for_list(*, caller: Caller, entity_id: str, action: IssuingAction) -> Issuer:
    """The issuer of a list that a token bound to single badge classes may see part of:
    members only (others get NotFound), and an issuer-wide or badge-class scope."""
    issuer = Issuer.objects.filter(entity_id=entity_id).first()
    if issuer is None or issuer_role(caller, issuer) is None:
        raise NotFound()
    if scope_allows(caller, action, issuer=issuer):
        require_issuing(caller, action, issuer)
    else:
        require_issuing_scope(caller, action, allow_badge_class_scopes=True)
    return issuer


def badge_class_for(*, caller: Caller, entity_id: str, action: IssuingAction) -> BadgeClass:
    """The badge class with its issuer and creator, if the caller may take `action`."""
    badge_class, role = badge_class_with_role(entity_id=entity_id, user=caller.user)
    if badge_class is None:
        raise NotFound()
    _role_read(caller, badge_class.issuer, role)
    require_issuing(caller, action, badge_class.issuer, badge_class)
    return badge_class


def assertion_for(*, caller: Caller, entity_id: str, action: IssuingAction) -> Assertion:
    """The award with its badge class, issuer and creator, if the caller may take `action`."""
    assertion, role = assertion_with_role(entity_id=entity_id, user=caller.user)
    if assertion is None:
        raise NotFound()
    _role_read(caller, assertion.issuer, role)
    require_issuing(caller, action, assertion.issuer, assertion.badge_class)
    return assertion


def issuers_visible_to(*, caller: Caller) -> QuerySet[Issuer]:
    """The caller's issuers; a token bound to issuers sees just those."""
    issuers = issuers_visible(user=caller.user)
    if not scope_allows(caller, IssuingAction.ISSUER_VIEW):
        issuers = issuers.filter(entity_id__in=issuer_scoped_ids(caller))
    return issuers


def badge_classes_visible(*, caller: Caller, issuer: Issuer | None = None) -> QuerySet[BadgeClass]:
    """Badge classes of the caller's issuers; a token bound to single badge classes or to
    issuers sees just those, and those of its issuers."""
    badge_classes = BadgeClass.objects.filter(issuer__staff__user=caller.user)
    if issuer is not None:
        badge_classes = badge_classes.filter(issuer=issuer)
    if not scope_allows(caller, IssuingAction.BADGECLASS_VIEW, issuer=issuer):
        badge_classes = badge_classes.filter(
            Q(entity_id__in=badge_class_scoped_ids(caller))
            | Q(issuer__entity_id__in=issuer_scoped_ids(caller))
        )
    return badge_classes.select_related("issuer", "created_by").order_by("-id")


def issuer_assertions(*, caller: Caller, issuer: Issuer, **filters) -> QuerySet[Assertion]:
    assertions = Assertion.objects.filter(issuer=issuer)
    if not scope_allows(caller, IssuingAction.AWARD_HISTORY, issuer=issuer):
        assertions = assertions.filter(badge_class__entity_id__in=badge_class_scoped_ids(caller))
    return assertions_filtered(assertions, **filters)
