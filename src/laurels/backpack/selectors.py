"""What is in a user's backpack: awards to their verified identities, and imports."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db.models import IntegerField, Prefetch, Q, QuerySet, Value
from django.utils import timezone

from laurels.accounts.models import EmailAddress, User
from laurels.backpack.models import Collection, CollectionEntry, ImportedBadge
from laurels.core.errors import NotFound
from laurels.core.sql import Stamp
from laurels.core.versions import AWARDS_TO, BACKPACK, CATALOG, version_join, version_sql
from laurels.issuing.models import Acceptance, Assertion

# What a backpack shows of an award made here (loading less makes long lists cheaper).
LOCAL_AWARD_FIELDS = (
    "entity_id",
    "issued_on",
    "expires",
    "revoked",
    "revocation_reason",
    "acceptance",
    "narrative",
    "evidence",
    "recipient_type",
    "recipient_plaintext",
    "recipient_hashed",
    "hosted_origin",  # the origins make the Open Badges ids (`laurels.core.public.url_of`)
    "badge_class__entity_id",
    "badge_class__hosted_origin",
    "badge_class__name",
    "badge_class__description",
    "badge_class__criteria_url",
    "badge_class__criteria_narrative",
    "issuer__entity_id",
    "issuer__hosted_origin",
    "issuer__name",
    "issuer__url",
    "issuer__verified_at",  # the cards' "Verified issuer" (`web.backpack_views.card`)
)


def verified_emails(user: User) -> list[str]:
    return list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )


def local_awards(
    *,
    user: User,
    include_expired: bool = True,
    include_revoked: bool = False,
    include_rejected: bool = False,
    whole: bool = False,
) -> QuerySet[Assertion]:
    """Awards made here to any of the user's verified email addresses; `whole` loads all
    of their badge classes and issuers (what expanded answers show), else only what a
    backpack list shows."""
    awards = Assertion.objects.filter(
        recipient_type="email", recipient_plaintext__in=verified_emails(user)
    )
    if not include_revoked:
        awards = awards.filter(revoked=False)
    awards = _by_expiry_and_acceptance(awards, include_expired, include_rejected)
    awards = awards.select_related("badge_class", "issuer")
    return awards if whole else awards.only(*LOCAL_AWARD_FIELDS)


def imported_badges(
    *,
    user: User,
    include_expired: bool = True,
    include_revoked: bool = False,
    include_rejected: bool = False,
) -> QuerySet[ImportedBadge]:
    badges = ImportedBadge.objects.filter(user=user)
    if not include_revoked:
        badges = badges.filter(status=ImportedBadge.Status.VERIFIED)
    return _by_expiry_and_acceptance(badges, include_expired, include_rejected)


def _by_expiry_and_acceptance(
    entries: QuerySet, include_expired: bool, include_rejected: bool
) -> QuerySet:
    """Leave out expired and rejected entries unless asked; awards made here and imports
    both have `expires` and `acceptance`."""
    if not include_expired:
        entries = entries.filter(Q(expires__isnull=True) | Q(expires__gt=timezone.now()))
    if not include_rejected:
        entries = entries.exclude(acceptance=Acceptance.REJECTED)
    return entries


def backpack_entry(*, user: User, entity_id: str, whole: bool = False):
    """One badge of the backpack (a local award or an import), or NotFound."""
    found = (
        local_awards(user=user, include_revoked=True, include_rejected=True, whole=whole)
        .filter(entity_id=entity_id)
        .first()
    )
    if found is None:
        found = (
            imported_badges(user=user, include_revoked=True, include_rejected=True)
            .filter(entity_id=entity_id)
            .first()
        )
    if found is None:
        raise NotFound()
    return found


def backpack_entries(*, user: User, entity_ids: list[str]) -> list:
    """The backpack badges `entity_ids` name (awards made here or imports), in that order
    and each once, or NotFound (as `backpack_entry`) if any is not in the user's backpack.
    What `backpack_entry` is for one id, in at most three queries however many there are
    (the imports, the user's verified addresses, the awards), so that saving a collection
    costs the same for 2 badges or 200."""
    wanted = list(dict.fromkeys(entity_ids))
    imports = imported_badges(user=user, include_revoked=True, include_rejected=True)
    found = {b.entity_id: b for b in imports.filter(entity_id__in=wanted)} if wanted else {}
    rest = [entity_id for entity_id in wanted if entity_id not in found]
    if rest:
        awards = local_awards(user=user, include_revoked=True, include_rejected=True)
        found.update((a.entity_id, a) for a in awards.filter(entity_id__in=rest))
    if len(found) < len(wanted):
        raise NotFound()
    return [found[entity_id] for entity_id in wanted]


@dataclass(frozen=True)
class ChangedPage:
    """One page of a backpack's badges, most recently changed first, and how many the
    whole list holds."""

    entries: list
    total: int


def changed_entries_page(
    *, user: User, since: datetime | None, offset: int, limit: int
) -> ChangedPage:
    """Badge Connect's list of a backpack, as Badgr gave it: every badge, revoked and
    expired ones too (a displayer must learn of those), rejected ones not, most recently
    changed first; with `since`, only those changed at or after it. The awards made here
    and the imports are merged and paged in one query, then loaded by id."""
    local = local_awards(user=user, include_revoked=True)
    imported = imported_badges(user=user, include_revoked=True)
    if since is not None:
        local, imported = (
            local.filter(updated_at__gte=since),
            imported.filter(updated_at__gte=since),
        )
    keys = list(
        _change_keys(local, 0)
        .union(_change_keys(imported, 1), all=True)
        .order_by("-updated_at", "-source", "-id")[offset : offset + limit]
    )
    loaded = (
        local.in_bulk([pk for _, source, pk in keys if source == 0]),
        imported.in_bulk([pk for _, source, pk in keys if source == 1]),
    )
    return ChangedPage(
        entries=[loaded[source][pk] for _, source, pk in keys],
        total=local.count() + imported.count(),
    )


def _change_keys(entries: QuerySet, source: int) -> QuerySet:
    """(updated_at, source, id) of each entry, for a union of awards and imports."""
    return (
        entries.order_by()
        .annotate(source=Value(source, output_field=IntegerField()))
        .values_list("updated_at", "source", "id")
    )


# What the backpack pages show a badge as (`entry_status`) and filter by.
VALID, EXPIRED, REVOKED, PENDING, REJECTED = "valid", "expired", "revoked", "pending", "rejected"
GRID_STATUSES = (VALID, PENDING, EXPIRED, REVOKED)


def entry_status(entry, now: datetime | None = None) -> str:
    """One word for a backpack badge's state, in this order of precedence: revoked (by
    its issuer, or an import no longer verifying), expired, rejected, pending (an award
    not yet accepted), else valid."""
    now = now or timezone.now()
    if isinstance(entry, Assertion):
        revoked = entry.revoked
    else:
        revoked = entry.status != ImportedBadge.Status.VERIFIED
    if revoked:
        return REVOKED
    if entry.expires is not None and entry.expires <= now:
        return EXPIRED
    if entry.acceptance == Acceptance.REJECTED:
        return REJECTED
    return PENDING if entry.acceptance == Acceptance.UNACCEPTED else VALID


def _status_filter(status: str, revoked: Q, now: datetime) -> Q:
    """The rows in `status` (one of GRID_STATUSES), given what marks a row revoked;
    mirrors `entry_status` so that a filter shows what the badges say."""
    live = ~revoked & (Q(expires__isnull=True) | Q(expires__gt=now))
    return {
        REVOKED: revoked,
        EXPIRED: ~revoked & Q(expires__lte=now),
        PENDING: live & Q(acceptance=Acceptance.UNACCEPTED),
        VALID: live & ~Q(acceptance=Acceptance.UNACCEPTED),
    }[status]


@dataclass(frozen=True)
class GridPage:
    """One page of the backpack grid, newest award first, and whether more follow."""

    entries: list
    has_next: bool


def backpack_grid_page(
    *, user: User, search: str = "", status: str = "", offset: int = 0, limit: int = 48
) -> GridPage:
    """The backpack page's badges (awards made here and imports, rejected ones left out),
    optionally those whose badge or issuer name holds `search` and those in `status`
    (GRID_STATUSES). One query pages the merged keys, two load the page's rows, so a
    page costs the same for a backpack of thousands."""
    now = timezone.now()
    local = local_awards(user=user, include_revoked=True)
    imported = imported_badges(user=user, include_revoked=True)
    if search:
        local = local.filter(
            Q(badge_class__name__icontains=search) | Q(issuer__name__icontains=search)
        )
        imported = imported.filter(
            Q(badge_class__name__icontains=search) | Q(issuer__name__icontains=search)
        )
    if status:
        local = local.filter(_status_filter(status, Q(revoked=True), now))
        imported = imported.filter(
            _status_filter(status, ~Q(status=ImportedBadge.Status.VERIFIED), now)
        )
    keys = list(
        _grid_keys(local, 0)
        .union(_grid_keys(imported, 1), all=True)
        .order_by("-issued_on", "-source", "-id")[offset : offset + limit + 1]
    )
    page = keys[:limit]
    loaded = (
        local.in_bulk([pk for _, source, pk in page if source == 0]),
        imported.in_bulk([pk for _, source, pk in page if source == 1]),
    )
    return GridPage(
        entries=[loaded[source][pk] for _, source, pk in page], has_next=len(keys) > limit
    )


def _grid_keys(entries: QuerySet, source: int) -> QuerySet:
    """(issued_on, source, id) of each entry, for a union of awards and imports."""
    return (
        entries.order_by()
        .annotate(source=Value(source, output_field=IntegerField()))
        .values_list("issued_on", "source", "id")
    )


def user_collections(*, user: User) -> QuerySet[Collection]:
    return (
        Collection.objects.filter(user=user)
        .select_related("user")
        .prefetch_related("entries__assertion", "entries__imported")
        .order_by("-id")
    )


def collection_for(*, user: User, entity_id: str, badges: bool = True) -> Collection:
    """One of the user's collections, or NotFound; `badges=False` leaves its badges
    unloaded, for a change whose service reads them under its lock anyway."""
    found = (
        (user_collections(user=user) if badges else Collection.objects.filter(user=user))
        .filter(entity_id=entity_id)
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def shared_collection(*, share_hash: str) -> Collection:
    """A published collection with its owner and its badges, each award's badge class and
    issuers joined in: the public page shows them all, so it costs two queries however
    many badges it holds."""
    entries = CollectionEntry.objects.select_related(
        "assertion__badge_class__issuer", "assertion__issuer", "imported"
    )
    found = (
        Collection.objects.filter(share_hash=share_hash, published=True)
        .select_related("user")
        .prefetch_related(Prefetch("entries", queryset=entries))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


@functools.cache
def backpack_stamp() -> Stamp:
    """What moves whenever the backpack list of the token's user (`u.id`) could change
    (`laurels.core.versions`): their backpack's version (their verified addresses, their
    imports), the sum of the versions of the awards to each of those addresses, and the
    catalog (the badge class and issuer names a backpack shows). While the backpack's
    version stands still the addresses are the same, and each address's version only
    grows, so the sum moves whenever one of them does. Read along with the token in one
    query, a few index lookups. Made once: it has no parameters.
    """
    awards = (
        "SELECT COALESCE(SUM(v.n), 0) "  # noqa: S608 (our SQL)
        f"FROM {EmailAddress._meta.db_table} e {version_join(AWARDS_TO, 'e.email')} "
        "WHERE e.user_id = u.id AND e.verified"
    )
    return Stamp(expressions=(version_sql(BACKPACK, "u.id"), awards, version_sql(CATALOG, "''")))
