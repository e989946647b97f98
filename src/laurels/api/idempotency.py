"""`Idempotency-Key` for award endpoints: a retried request gets the first answer back
instead of awarding twice.

The answer is stored in the same transaction as the award, so either both exist or
neither; a concurrent duplicate waits on the key's unique index and then replays.

A stored answer holds the award whole, recipients' addresses included, so it is kept only
for LAURELS_IDEMPOTENCY_RETENTION_SECONDS (a day by default): past that it is never
replayed (its key starts afresh), and the periodic job `idempotency-prune` deletes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from laurels.core.errors import Conflict
from laurels.core.secrets import overwrite_deleted_content
from laurels.issuing.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# Records deleted per statement by the pruning job: short write transactions, so that
# requests are not kept waiting for SQLite's lock while a large backlog goes.
PRUNE_BATCH = 1000


class IdempotencyKeyReused(Conflict):
    status = 422
    default_message = "This Idempotency-Key was used for a different request."


def _digest(request: HttpRequest) -> str:
    return hashlib.sha256(
        request.method.encode() + request.path.encode() + request.body
    ).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> tuple[int, dict]:
    if record.request_digest != digest:
        raise IdempotencyKeyReused()
    return record.status, record.body


def idempotent(
    request: HttpRequest, user, produce: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `produce` (which returns status and body) at most once per key and user within
    the retention window."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return produce()
    key = key[:255]
    digest = _digest(request)
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None and existing.created_at >= retention_cutoff():
        return _replay(existing, digest)
    try:
        with transaction.atomic():
            if existing is not None:
                # Past the window: forgotten, even when the job has not pruned it yet.
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            status, body = produce()
            IdempotencyRecord.objects.create(
                user=user,
                key=key,
                method=request.method,
                path=request.path[:500],
                request_digest=digest,
                status=status,
                body=body,
            )
    except IntegrityError:
        # Another request with this key committed first; its award stands, ours is undone.
        return _replay(IdempotencyRecord.objects.get(user=user, key=key), digest)
    return status, body


def retention_cutoff() -> datetime:
    """Answers stored before this moment are past the window: never replayed, pruned."""
    return timezone.now() - timedelta(seconds=settings.LAURELS_IDEMPOTENCY_RETENTION_SECONDS)


def idempotency_records_prune() -> int:
    """Delete every stored answer past the window (the periodic job); how many went.

    Batches keep each write short; on SQLite the deleted bytes are overwritten, so that
    the addresses in those answers do not linger in the database file's free space.
    """
    cutoff = retention_cutoff()
    overwrite_deleted_content(connection)
    expired = IdempotencyRecord.objects.filter(created_at__lt=cutoff)
    pruned = 0
    while batch := list(expired.values_list("pk", flat=True)[:PRUNE_BATCH]):
        pruned += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]
    return pruned
