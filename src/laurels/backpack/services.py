"""Changes to a backpack: acceptance, removal, collections and sharing."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction

from laurels.accounts.models import User
from laurels.backpack import importing, selectors
from laurels.backpack.models import Collection, CollectionEntry, ImportedBadge
from laurels.core.ratelimit import Limit, enforce_limits
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


def _entries_for(user: User, entity_ids: list[str]) -> list[CollectionEntry]:
    entries = []
    for position, entity_id in enumerate(dict.fromkeys(entity_ids)):
        found = selectors.backpack_entry(user=user, entity_id=entity_id)
        if isinstance(found, Assertion):
            entries.append(CollectionEntry(assertion=found, position=position))
        else:
            entries.append(CollectionEntry(imported=found, position=position))
    return entries


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
    """Create or change a collection. Publishing gives it a share hash; unpublishing
    drops the hash, so old share links stop working for good."""
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
    entries = _entries_for(user, assertions) if assertions is not None else None
    collection.save()
    if entries is not None:
        collection.entries.all().delete()
        for entry in entries:
            entry.collection = collection
        CollectionEntry.objects.bulk_create(entries)
    return collection


@transaction.atomic
def collection_delete(*, collection: Collection) -> None:
    collection.delete()
