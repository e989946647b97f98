"""Changes to a backpack: acceptance, removal, collections and sharing."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from laurels.accounts.models import User
from laurels.backpack import importing, selectors
from laurels.backpack.models import Collection, CollectionEntry, ImportedBadge
from laurels.core.errors import NotFound
from laurels.core.ratelimit import Limit, address_key, enforce_limits
from laurels.issuing.models import Acceptance, Assertion


@transaction.atomic
def entry_acceptance_set(*, entry, acceptance: str):
    """Accept or reject an award or an imported badge; the row and the backpack version
    its receiver moves on commit together."""
    if acceptance not in Acceptance.values:
        raise ValidationError({"acceptance": ["Use Unaccepted, Accepted or Rejected."]})
    entry.acceptance = acceptance
    entry.save(update_fields=["acceptance", "updated_at"])
    return entry


@transaction.atomic
def entry_remove(*, entry) -> None:
    """An imported badge is deleted; an award made here is rejected (it is the issuer's)."""
    if isinstance(entry, ImportedBadge):
        entry.delete()
    else:
        entry_acceptance_set(entry=entry, acceptance=Acceptance.REJECTED)


# "Check now" on a badge's page: each press fetches from the badge's issuer, so a person
# (or a script holding their session) may not turn the server into a fetching loop.
CHECK_NOW_LIMIT, CHECK_NOW_WINDOW = 10, 600


def badge_check_now(*, badge: ImportedBadge) -> importing.Recheck:
    """Re-verify one imported badge at its earner's request, within CHECK_NOW_LIMIT per
    person per window (RateLimited past it). Counted and fetched with no transaction
    open; `badge_reverify` writes what it found in its own."""
    enforce_limits(
        Limit("backpack:check-now", str(badge.user_id), CHECK_NOW_LIMIT, CHECK_NOW_WINDOW),
        message="You have checked badges many times in a row. Try again in {wait}.",
    )
    return importing.badge_reverify(badge=badge)


def badge_import_rate_check(*, user: User, client_ip: str | None) -> None:
    """Count one import, or one check of a badge before importing it (which fetches as
    much), by `user` from `client_ip`; RateLimited past LAURELS_IMPORT_RATE_PER_USER or
    _PER_IP in the window. Each fetches from whatever host the badge names, so neither a
    person nor one address with many accounts may turn the server into a fetching loop.
    Shared by every way in (the Import page, /v2, Badge Connect); call it before fetching,
    with no transaction open."""
    window = settings.LAURELS_IMPORT_RATE_WINDOW
    enforce_limits(
        Limit("backpack:import", str(user.pk), settings.LAURELS_IMPORT_RATE_PER_USER, window),
        Limit(
            "backpack:import:ip",
            address_key(client_ip),
            settings.LAURELS_IMPORT_RATE_PER_IP,
            window,
        ),
        message="Too many badges checked or imported in a row. Try again in {wait}.",
    )


# The most badges one collection holds: every change checks its ids in a few queries,
# and a list longer than any backpack could only come from a script.
MAX_COLLECTION_BADGES = 1000


def _entries_for(user: User, entity_ids: list[str]) -> list[CollectionEntry]:
    """Unsaved entries for badges of the user's backpack, in order and each once;
    NotFound if one is not in it."""
    return [
        CollectionEntry(assertion=badge)
        if isinstance(badge, Assertion)
        else CollectionEntry(imported=badge)
        for badge in selectors.backpack_entries(user=user, entity_ids=entity_ids)
    ]


def _check_size(count: int) -> None:
    if count > MAX_COLLECTION_BADGES:
        raise ValidationError(
            {"assertions": [f"A collection holds at most {MAX_COLLECTION_BADGES} badges."]}
        )


def _lock(collection: Collection) -> None:
    """Lock the collection's row until the transaction ends and reload it, so that a
    change is made to what is there now: two changes at once (two tabs adding) wait for
    each other and both count. NotFound if it was deleted meanwhile."""
    try:
        collection.refresh_from_db(from_queryset=Collection.objects.select_for_update())
    except Collection.DoesNotExist as error:
        raise NotFound("That collection no longer exists.") from error


def _current_entries(collection: Collection) -> dict[str, CollectionEntry]:
    """The collection's badges as they are now (read under its lock), in order, by
    entity id: unsaved entries to write back in a new order, in one query."""
    rows = collection.entries.values_list(
        "assertion_id", "imported_id", "assertion__entity_id", "imported__entity_id"
    )
    return {
        award_id or import_id: CollectionEntry(assertion_id=award, imported_id=imported)
        for award, imported, award_id, import_id in rows
    }


def _entries_write(collection: Collection, entries: list[CollectionEntry]) -> None:
    """Make `entries` the collection's badges, in this order (two queries)."""
    collection.entries.all().delete()
    for position, entry in enumerate(entries):
        entry.collection, entry.position = collection, position
    CollectionEntry.objects.bulk_create(entries)


@transaction.atomic
def collection_save(
    *,
    user: User,
    collection: Collection | None = None,
    name: str | None = None,
    description: str | None = None,
    assertions: list[str] | None = None,
    published: bool | None = None,
) -> Collection:
    """Create or change a collection; `assertions`, when given, is the whole new list of
    its badges (what /v2 takes). Publishing gives it a share hash; unpublishing drops the
    hash, so old share links stop working for good. An existing collection is locked and
    reloaded first: the changes apply to what is there now."""
    if collection is not None and collection.pk is not None:
        _lock(collection)
    collection = collection or Collection(user=user)
    if name is not None:
        collection.name = name.strip()
    if description is not None:
        collection.description = description
    if not collection.name:
        raise ValidationError({"name": ["A collection needs a name."]})
    if published is not None:
        collection.published = published
        if published and not collection.share_hash:
            collection.share_hash = secrets.token_urlsafe(16)
        if not published:
            collection.share_hash = None
    if assertions is not None:
        _check_size(len(set(assertions)))
    entries = _entries_for(user, assertions) if assertions is not None else None
    collection.save()
    if entries is not None:
        _entries_write(collection, entries)
    return collection


@transaction.atomic
def collection_add(*, user: User, collection: Collection, entity_ids: list[str]) -> list[str]:
    """Add badges of the user's backpack at the end of the collection, in the order
    given; those already in it stay where they are. Returns the ids it added (none when
    all were in). NotFound if one is not in the backpack."""
    _lock(collection)
    current = _current_entries(collection)
    new = [entity_id for entity_id in dict.fromkeys(entity_ids) if entity_id not in current]
    if new:
        _check_size(len(current) + len(new))
        try:
            added = _entries_for(user, new)
        except NotFound as error:
            raise NotFound("That badge is not in your backpack.") from error
        _entries_write(collection, [*current.values(), *added])
        collection.save(update_fields=["updated_at"])
    return new


@transaction.atomic
def collection_remove(*, collection: Collection, entity_id: str) -> None:
    """Take one badge out of the collection (it stays in the backpack); NotFound if it
    is not in it."""
    _lock(collection)
    current = _current_entries(collection)
    if current.pop(entity_id, None) is None:
        raise NotFound("That badge is not in this collection.")
    _entries_write(collection, list(current.values()))
    collection.save(update_fields=["updated_at"])


@transaction.atomic
def collection_move(*, collection: Collection, entity_id: str, step: int) -> None:
    """Move one badge `step` places: -1 is up one, +1 down one. NotFound if it is not in
    the collection, ValidationError past either end."""
    _lock(collection)
    current = _current_entries(collection)
    order = list(current)
    if entity_id not in current:
        raise NotFound("That badge is not in this collection.")
    index = order.index(entity_id)
    target = index + step
    if not 0 <= target < len(order):
        raise ValidationError("That badge cannot move further that way.")
    order[index], order[target] = order[target], order[index]
    _entries_write(collection, [current[key] for key in order])
    collection.save(update_fields=["updated_at"])


@transaction.atomic
def collection_delete(*, collection: Collection) -> None:
    collection.delete()
