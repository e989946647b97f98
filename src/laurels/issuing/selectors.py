"""Reads of issuing data for a user, on issuing's own data: staff membership and roles.

Reads that also need a permission decision (a role against an action, a token's scopes)
are made by `laurels.connect.issuing_selectors`, above this app: `issuing` imports
nothing of `connect` (docs/architecture.md)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.sql import (
    Stamp,
    fetch_rows,
    model_columns,
    models_of_row,
    set_prefetched,
    set_related,
)
from laurels.core.versions import ISSUER_AWARDS, version_sql
from laurels.issuing.models import (
    Acceptance,
    Assertion,
    BadgeClass,
    Issuer,
    IssuerStaff,
    StaffInvitation,
)

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


# --- One object with the reader's role, in one raw query ------------------------------------
# A /v2 GET of one issuer, badge class or award reads the object, what its answer shows of
# the related rows, and the reader's role on its issuer. Through the ORM that was three
# queries whose compiling cost more than the queries themselves; these read the same rows
# into the same model objects (`core.sql.models_of_row`) in one statement each.


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _role_sql(issuer_column: str) -> str:
    """SQL for the role of the user `%(user_id)s` on the issuer whose id is in
    `issuer_column` (NULL for a non-member): at most one row (`one_role_per_issuer_user`)."""
    return (
        f"(SELECT s.{_column(IssuerStaff, 'role')} FROM {_table(IssuerStaff)} s "  # noqa: S608 (our SQL)
        f"WHERE s.{_column(IssuerStaff, 'issuer')} = {issuer_column} "
        f"AND s.{_column(IssuerStaff, 'user')} = %(user_id)s)"
    )


def _read_with_role(sql: str, layout: tuple, *, entity_id: str, user: User) -> tuple | None:
    """The model objects of the one row `sql` reads for `entity_id` (in `layout`) and
    `user`'s role, the row's last column; None if there is no such row."""
    rows = fetch_rows(sql, {"entity_id": entity_id, "user_id": user.pk})
    if not rows:
        return None
    return models_of_row(rows[0], *layout), rows[0][-1]


def _issuer_layout() -> tuple:
    return ((Issuer, "i"), (User, "c"), (IssuerStaff, "s"), (User, "su"))


@functools.lru_cache(maxsize=1)
def _issuer_sql() -> str:
    """The issuer, its creator, and one row per staff member (with their user) in the
    order of `staff_prefetch`."""
    return (
        f"SELECT {model_columns(*_issuer_layout())} "  # noqa: S608 (our SQL; values are parameters)
        f"FROM {_table(Issuer)} i "
        f"LEFT JOIN {_table(User)} c ON c.id = i.{_column(Issuer, 'created_by')} "
        f"LEFT JOIN {_table(IssuerStaff)} s ON s.{_column(IssuerStaff, 'issuer')} = i.id "
        f"LEFT JOIN {_table(User)} su ON su.id = s.{_column(IssuerStaff, 'user')} "
        f"WHERE i.{_column(Issuer, 'entity_id')} = %(entity_id)s ORDER BY s.id"
    )


def issuer_with_role(*, entity_id: str, user: User) -> tuple[Issuer | None, str | None]:
    """The issuer `entity_id` (None if there is none) loaded as `issuers_visible` loads
    one (its creator, its staff list with their users), and `user`'s role on it (None for
    a non-member): the staff list holds it."""
    issuer, role, staff = None, None, []
    for row in fetch_rows(_issuer_sql(), {"entity_id": entity_id}):
        issuer, creator, member, member_user = models_of_row(row, *_issuer_layout())
        if member is not None:
            set_related(member, user=member_user)
            staff.append(member)
            role = member.role if member.user_id == user.pk else role
    if issuer is None:
        return None, None
    set_related(issuer, created_by=creator)
    set_prefetched(issuer, "staff", staff, queryset=staff_prefetch().queryset)
    return issuer, role


def _badge_class_layout() -> tuple:
    return ((BadgeClass, "b"), (Issuer, "i"), (User, "c"))


@functools.lru_cache(maxsize=1)
def _badge_class_sql() -> str:
    return (
        f"SELECT {model_columns(*_badge_class_layout())}, "  # noqa: S608 (our SQL; values are parameters)
        f"{_role_sql('b.' + _column(BadgeClass, 'issuer'))} "
        f"FROM {_table(BadgeClass)} b "
        f"JOIN {_table(Issuer)} i ON i.id = b.{_column(BadgeClass, 'issuer')} "
        f"LEFT JOIN {_table(User)} c ON c.id = b.{_column(BadgeClass, 'created_by')} "
        f"WHERE b.{_column(BadgeClass, 'entity_id')} = %(entity_id)s"
    )


def badge_class_with_role(*, entity_id: str, user: User) -> tuple[BadgeClass | None, str | None]:
    """The badge class `entity_id` (None if there is none) with its issuer and creator
    loaded (as `select_related` would), and `user`'s role on its issuer."""
    read = _read_with_role(
        _badge_class_sql(), _badge_class_layout(), entity_id=entity_id, user=user
    )
    if read is None:
        return None, None
    (badge_class, issuer, creator), role = read
    set_related(badge_class, issuer=issuer, created_by=creator)
    return badge_class, role


def _assertion_layout() -> tuple:
    return ((Assertion, "a"), (BadgeClass, "b"), (Issuer, "i"), (User, "c"))


@functools.lru_cache(maxsize=1)
def _assertion_sql() -> str:
    return (
        f"SELECT {model_columns(*_assertion_layout())}, "  # noqa: S608 (our SQL; values are parameters)
        f"{_role_sql('a.' + _column(Assertion, 'issuer'))} "
        f"FROM {_table(Assertion)} a "
        f"JOIN {_table(BadgeClass)} b ON b.id = a.{_column(Assertion, 'badge_class')} "
        f"JOIN {_table(Issuer)} i ON i.id = a.{_column(Assertion, 'issuer')} "
        f"LEFT JOIN {_table(User)} c ON c.id = a.{_column(Assertion, 'created_by')} "
        f"WHERE a.{_column(Assertion, 'entity_id')} = %(entity_id)s"
    )


def assertion_with_role(*, entity_id: str, user: User) -> tuple[Assertion | None, str | None]:
    """The award `entity_id` (None if there is none) with its badge class, issuer and
    creator loaded (as `select_related` would), and `user`'s role on its issuer."""
    read = _read_with_role(_assertion_sql(), _assertion_layout(), entity_id=entity_id, user=user)
    if read is None:
        return None, None
    (assertion, badge_class, issuer, creator), role = read
    set_related(assertion, badge_class=badge_class, issuer=issuer, created_by=creator)
    return assertion, role


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


# --- the issuer workspace (web pages): lists and dashboard figures, one query each ---------


def issuers_of_member(*, user: User) -> QuerySet[Issuer]:
    """Issuers `user` is staff of, newest first, each annotated with `member_role` (their
    role), `badge_class_count` and `award_count` (awards not revoked): one query however
    many issuers, each count a correlated subquery on an index beginning with `issuer`."""
    role = IssuerStaff.objects.filter(issuer=OuterRef("pk"), user=user).values("role")[:1]
    return (
        Issuer.objects.filter(staff__user=user)
        .annotate(
            member_role=Subquery(role),
            badge_class_count=_count_of(BadgeClass.objects.all()),
            award_count=_count_of(Assertion.objects.filter(revoked=False)),
        )
        .order_by("-id")
    )


def _count_of(rows: QuerySet) -> Coalesce:
    counted = (
        rows.filter(issuer=OuterRef("pk"))
        .order_by()
        .values("issuer")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def issuer_awards_by_month(*, issuer: Issuer, months: int = 12) -> list[tuple[datetime, int]]:
    """Awards made by `issuer` (revoked ones too) in each of the last `months` calendar
    months (UTC), oldest first, months without awards as 0: one GROUP BY query."""
    now = timezone.now()
    starts = []
    year, month = now.year, now.month
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    counted = (
        Assertion.objects.filter(issuer=issuer, issued_on__gte=starts[0], issued_on__lte=now)
        .annotate(month=TruncMonth("issued_on", tzinfo=UTC))
        .order_by()
        .values("month")
        .annotate(n=Count("id"))
    )
    by_month = {(row["month"].year, row["month"].month): row["n"] for row in counted}
    return [(start, by_month.get((start.year, start.month), 0)) for start in starts]


def issuer_acceptance_counts(*, issuer: Issuer) -> dict[str, int]:
    """How many of the issuer's live awards (neither revoked nor expired) each answer of
    their earners (`Acceptance`) has: one GROUP BY query."""
    live = Assertion.objects.filter(issuer=issuer, revoked=False).filter(
        Q(expires__isnull=True) | Q(expires__gt=timezone.now())
    )
    counted = live.order_by().values("acceptance").annotate(n=Count("id"))
    found = {row["acceptance"]: row["n"] for row in counted}
    return {answer: found.get(answer, 0) for answer in Acceptance.values}


# --- the issuer workspace (web pages): the award list, its revoking and its CSV export ------

# The award list's columns: what the /v2 list reads, and the names it shows.
AWARD_TABLE_FIELDS = (*ASSERTION_LIST_FIELDS, "recipient_name", "badge_class__name")
# The greatest code point: every text that begins with a prefix sorts before
# `prefix + RANGE_END`, so a prefix is a range on an index (no LIKE, no scan).
RANGE_END = "\U0010ffff"
AWARD_STATUSES = ("valid", "revoked", "expired")


def awards_listed(
    *,
    issuer: Issuer,
    badge_class: BadgeClass | None = None,
    recipient: str = "",
    exact: bool = False,
    status: str = "",
    issued_since: datetime | None = None,
    issued_until: datetime | None = None,
) -> QuerySet[Assertion]:
    """`assertions_filtered` for the award list of an issuer (or of one of its badge
    classes): `recipient` (normalized as that function does: trimmed, lower-cased)
    matched exactly or as a prefix (a range on the index (issuer, recipient_plaintext,
    id)), one status of AWARD_STATUSES (valid: neither revoked nor expired) and an
    issue-date range; newest first."""
    key = normalize_email_address(recipient)
    assertions = Assertion.objects.filter(issuer=issuer)
    if badge_class is not None and key:
        # Searching one badge class's awards: the same rows, but compared as an
        # expression no index serves, so that the planner takes the recipient index
        # (without statistics SQLite would rather walk the issuer's awards by id).
        assertions = assertions.alias(in_class=F("badge_class_id") + 0).filter(
            in_class=badge_class.pk
        )
    elif badge_class is not None:
        assertions = assertions.filter(badge_class=badge_class)
    rows = assertions_filtered(
        assertions,
        recipients=[key] if exact and key else (),
        revoked={"valid": False, "revoked": True, "expired": False}.get(status),
        include_expired=status != "valid",
        issued_since=issued_since,
        issued_until=issued_until,
    )
    if key and not exact:
        rows = rows.filter(recipient_plaintext__gte=key, recipient_plaintext__lt=key + RANGE_END)
    if status == "expired":
        rows = rows.filter(expires__lte=timezone.now())
    return rows.only(*AWARD_TABLE_FIELDS)


@dataclass(frozen=True)
class AwardsPage:
    """One page of a newest-first award list: `newer` / `older` are the row ids to page
    from (`before=` / `after=`), None at either end."""

    awards: list[Assertion]
    newer: int | None
    older: int | None


def awards_page(
    rows: QuerySet[Assertion], *, size: int, after: int | None = None, before: int | None = None
) -> AwardsPage:
    """Keyset paging by id: the `size` rows older than `after`, or newer than `before`,
    or the newest; one more row is read to know whether the list goes on. No OFFSET, no
    COUNT: every page costs one query on an index, however long the list."""
    if before is not None:
        found = list(rows.filter(id__gt=before).order_by("id")[: size + 1])
        more_newer = len(found) > size
        found = found[:size][::-1]
        return AwardsPage(
            found,
            newer=found[0].id if more_newer else None,
            older=found[-1].id if found else None,
        )
    if after is not None:
        rows = rows.filter(id__lt=after)
    found = list(rows[: size + 1])
    more_older = len(found) > size
    found = found[:size]
    return AwardsPage(
        found,
        newer=found[0].id if after is not None and found else None,
        older=found[-1].id if more_older else None,
    )


def awards_in_chunks(rows: QuerySet[Assertion], *, chunk: int = 1000) -> Iterator[Assertion]:
    """Every row of a newest-first list, read `chunk` at a time by keyset (an export of
    a million awards holds one chunk in memory at a time)."""
    last = None
    while True:
        part = list((rows if last is None else rows.filter(id__lt=last))[:chunk])
        yield from part
        if len(part) < chunk:
            return
        last = part[-1].id


def issuer_awards_named(*, issuer: Issuer, entity_ids: Iterable[str]) -> dict[str, Assertion]:
    """The issuer's awards among `entity_ids` (others' and unknown ones left out), by
    entity id, with what revoking one needs loaded: one query."""
    found = Assertion.objects.filter(issuer=issuer, entity_id__in=list(entity_ids))
    return {a.entity_id: a for a in found.select_related("badge_class", "issuer", "created_by")}
