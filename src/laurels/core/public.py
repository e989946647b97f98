"""How Laurels writes what it publishes: the public address of each Open Badges object
and instants in UTC. Hosted documents, the API, backpack pages and the command line all
name the same objects, so they share these (and no app has to import another for them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_url(kind: str, entity_id: str) -> str:
    return f"{settings.LAURELS_BASE_URL}/public/{kind}/{entity_id}"
