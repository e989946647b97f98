"""Reads of issuing data for a user, on issuing's own data: staff membership and roles.

Reads that also need a permission decision (a role against an action, a token's scopes)
are made by `laurels.connect.issuing_selectors`, above this app: `issuing` imports
nothing of `connect` (docs/architecture.md)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.sql import Stamp
from laurels.core.versions import ISSUER_AWARDS, version_sql
from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff, StaffInvitation

# What an award list shows (the related rows are only needed for their entity ids).
ASSERTION_LIST_FIELDS = (
    "entity_id",
    "created_at",
    "issued_on",
    "expires",
    "narrative",
    "evidence",
    "revoked",
    "revocation_reason",
    "acceptance",
    "recipient_type",
    "recipient_plaintext",
    "recipient_identity",
    "recipient_hashed",
    "recipient_salt",
    "extensions",
    "hosted_origin",  # the origins make the Open Badges ids (`laurels.core.public.url_of`)
    "badge_class__entity_id",
    "badge_class__hosted_origin",
    "issuer__entity_id",
    "issuer__hosted_origin",
    "created_by__entity_id",
)


def staff_prefetch() -> Prefetch:
    return Prefetch("staff", queryset=IssuerStaff.objects.select_related("user").order_by("id"))


def issuers_visible(*, user: User) -> QuerySet[Issuer]:
    """Issuers `user` is staff of, newest first, each with its staff list."""
    return (
        Issuer.objects.filter(staff__user=user)
        .select_related("created_by")
        .prefetch_related(staff_prefetch())
        .order_by("-id")
    )


def issuer_role(*, user: User, issuer: Issuer) -> str | None:
    """`user`'s role on `issuer` (`Role`), None for someone not on its staff."""
    return (
        IssuerStaff.objects.filter(issuer=issuer, user=user).values_list("role", flat=True).first()
    )


def staff_member(*, issuer: Issuer, person: str) -> IssuerStaff | None:
    """The member `person` names: by entityId, or by an address their account holds
    verified. Only members: whether a non-member has an account stays unknown to the
    issuer's owners."""
    person = (person or "").strip()
    members = IssuerStaff.objects.filter(issuer=issuer).select_related("user")
    if "@" in person:
        members = members.filter(
            user__email_addresses__email=normalize_email_address(person),
            user__email_addresses__verified=True,
        )
    else:
        members = members.filter(user__entity_id=person)
    return members.first()


def staff_invitations_pending(*, issuer: Issuer) -> QuerySet[StaffInvitation]:
    """The issuer's invitations still waiting to be accepted, oldest first (for owners:
    the caller has passed `issuer_for(..., STAFF_MANAGE)`)."""
    live = StaffInvitation.objects.filter(issuer=issuer, expires_at__gt=timezone.now())
    return live.order_by("id")


def staff_invitations_for(*, user: User) -> QuerySet[StaffInvitation]:
    """The live invitations waiting for `user`: those sent to an address their account
    holds verified (whoever holds it is who the owner invited), oldest first."""
    addresses = EmailAddress.objects.filter(user=user, verified=True).values("email")
    return (
        StaffInvitation.objects.filter(email__in=addresses, expires_at__gt=timezone.now())
        .select_related("issuer", "invited_by")
        .order_by("id")
    )


def badge_class_by_open_badge_id(*, issuer: Issuer, url: str) -> BadgeClass | None:
    entity_id = url.rstrip("/").rsplit("/", 1)[-1]
    return BadgeClass.objects.filter(issuer=issuer, entity_id=entity_id).first()


def badge_class_by_name(*, issuer: Issuer, name: str) -> BadgeClass | None:
    return BadgeClass.objects.filter(issuer=issuer, name=name).order_by("id").first()


def assertions_filtered(
    assertions: QuerySet[Assertion],
    *,
    recipients: Iterable[str] = (),
    revoked: bool | None = None,
    include_revoked: bool = True,
    include_expired: bool = True,
    issued_since: datetime | None = None,
    issued_until: datetime | None = None,
) -> QuerySet[Assertion]:
    """Awards narrowed by any of `recipients`, by `revoked` (which, when given, decides
    alone), without revoked or expired ones unless `include_revoked`/`include_expired`,
    and by issue date; newest first."""
    wanted = {recipient.strip().lower() for recipient in recipients if recipient.strip()}
    if wanted:
        assertions = assertions.filter(recipient_plaintext__in=sorted(wanted))
    if revoked is not None:
        assertions = assertions.filter(revoked=revoked)
    elif not include_revoked:
        assertions = assertions.filter(revoked=False)
    if not include_expired:
        assertions = assertions.filter(Q(expires__isnull=True) | Q(expires__gt=timezone.now()))
    if issued_since:
        assertions = assertions.filter(issued_on__gte=issued_since)
    if issued_until:
        assertions = assertions.filter(issued_on__lt=issued_until)
    return (
        assertions.select_related("badge_class", "issuer", "created_by")
        .only(*ASSERTION_LIST_FIELDS)
        .order_by("-id")
    )


def badge_class_assertions(*, badge_class: BadgeClass, **filters) -> QuerySet[Assertion]:
    return assertions_filtered(Assertion.objects.filter(badge_class=badge_class), **filters)


def changed_since(model, *, user: User, since: datetime | None) -> QuerySet:
    """Rows of `user`'s issuers changed after `since`, oldest change first."""
    membership = {
        Issuer: "staff__user",
        BadgeClass: "issuer__staff__user",
        Assertion: "issuer__staff__user",
    }[model]
    rows = model.objects.filter(**{membership: user})
    if since is not None:
        rows = rows.filter(updated_at__gt=since)
    related = {
        Issuer: ("created_by",),
        BadgeClass: ("issuer", "created_by"),
        Assertion: ("badge_class", "issuer", "created_by"),
    }[model]
    rows = rows.select_related(*related)
    if model is Issuer:
        rows = rows.prefetch_related(staff_prefetch())
    return rows.order_by("updated_at", "id")


def issuer_awards_stamp(*, issuer_entity_id: str) -> Stamp:
    """What moves whenever an issuer's award list could change for the token's user
    (`u.id`): whether the issuer exists, the user's role on it (which decides whether they
    may see the list), and the version of its award list (`laurels.core.versions`: any
    award made, changed or deleted, any award's creator deleted). Read along with the
    token in one query, on indexes, whatever the number of awards.
    """
    return Stamp(expressions=_issuer_awards_stamp_sql(), params={"issuer": issuer_entity_id})


@functools.cache
def _issuer_awards_stamp_sql() -> tuple[str, ...]:
    issuer = f"SELECT id FROM {Issuer._meta.db_table} WHERE entity_id = %(issuer)s"  # noqa: S608
    return (
        issuer,
        f"SELECT s.role FROM {IssuerStaff._meta.db_table} s "  # noqa: S608 (our SQL)
        f"WHERE s.user_id = u.id AND s.issuer_id = ({issuer})",
        version_sql(ISSUER_AWARDS, f"({issuer})"),
    )
