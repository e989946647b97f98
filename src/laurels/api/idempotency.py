"""`Idempotency-Key` for award endpoints: a retried request gets the first answer back
instead of awarding twice.

The answer is stored in the same transaction as the award, so either both exist or
neither; a concurrent duplicate waits on the key's unique index and then replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from laurels.core.errors import Conflict
from laurels.issuing.models import IdempotencyRecord

HEADER = "Idempotency-Key"


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
    """Run `produce` (which returns status and body) at most once per key and user."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return produce()
    key = key[:255]
    digest = _digest(request)
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None:
        return _replay(existing, digest)
    try:
        with transaction.atomic():
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
