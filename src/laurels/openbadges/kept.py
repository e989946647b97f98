"""Awards' hosted documents, rendered once and kept in the database (`KeptDocument`).

Most requests for hosted assertions name an award nobody asked for lately: a process
cache over a million awards rarely hits. So an award's plain Open Badges 2.0 document
(no `?v=` or `?expand=`) is rendered by the queued task `openbadges.keep_documents`
after the change that made or revoked it commits (`documents_queue`, in that change's
transaction; never inside the award's own transaction, so a 10,000-award batch is not
held up), and kept under the key of its versions. The WSGI fast path
(`laurels.openbadges.fastpath`) reads the award's versions and its kept document in one
indexed query and serves it while the key still matches.

Correct by construction, as the process cache: the versions are read *before* the rows
the document is made from, and every change moves them on in its own transaction, so a
document made from rows older than a change is kept under a key that no longer matches.
A change the task does not hear of (a badge class's or issuer's new name) only makes
kept documents stale: they are then not served, and Django answers as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection

from laurels.issuing.models import Assertion
from laurels.jobs.services import job_enqueue
from laurels.openbadges import documents
from laurels.openbadges.models import KeptDocument
from laurels.openbadges.services import (
    active_signing_key,
    document_versions,
    newest_signing_key,
    public_cache_key,
)

KEEP_TASK = "openbadges.keep_documents"
# Awards per queued task: one task's reads and upsert take a fraction of a second.
KEEP_CHUNK = 500
ASSERTIONS = "assertions"


def entry_made(status: int, document: dict, modified: datetime, variant: str = "") -> dict:
    """A hosted document's cache entry, as served (`views.cached_answer`)."""
    if variant.startswith("1_1"):
        document = documents.ob1_document(document)
    body = json.dumps(document, indent=2).encode()
    return {
        "status": status,
        "body": body,
        "modified": int(modified.timestamp()),
        "etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    }


def assertion_parts(
    found: Assertion, expand: frozenset[str], signing_key=None
) -> tuple[int, dict, datetime]:
    """Status, document and Last-Modified of an award's hosted document (410 with the
    revoked form once revoked). `found` has its badge class and issuer loaded;
    `signing_key` is its issuer's active key when the caller read it already."""
    # Its verification follows the issuer's signing keys, which move the issuer's
    # updated_at (`openbadges.services._signing_key_changed`), not the award's.
    modified = max(found.updated_at, found.issuer.updated_at)
    if found.revoked:
        return 410, documents.revoked_assertion_document(found), modified
    key = signing_key if signing_key is not None else active_signing_key(found.issuer)
    document = documents.assertion_document(found, signing_key=key or None)
    if "badge" in expand:
        document["badge"] = embedded_document(documents.badge_class_document(found.badge_class))
        modified = max(modified, found.badge_class.updated_at)
    if "badge.issuer" in expand:
        profile = documents.issuer_profile(found.issuer, newest_signing_key(found.issuer))
        document["badge"]["issuer"] = embedded_document(profile)
    return 200, document, modified


def embedded_document(document: dict) -> dict:
    """A document embedded in another: the outer one carries the context."""
    return {k: v for k, v in document.items() if k != "@context"}


def documents_queue(entity_ids: Iterable[str]) -> None:
    """Queue the rendering of these awards' documents, in the caller's transaction (the
    task exists exactly when the change commits)."""
    if not settings.LAURELS_KEEP_DOCUMENTS:
        return
    ids = list(entity_ids)
    for start in range(0, len(ids), KEEP_CHUNK):
        job_enqueue(KEEP_TASK, assertions=ids[start : start + KEEP_CHUNK])


def documents_keep(*, assertions: list[str]) -> int:
    """The task: render and keep these awards' documents; how many were kept. Safe to
    run again, and in any order with other runs: a document kept under old versions is
    never served, only replaced."""
    versions = {}
    for entity_id in assertions:  # first, before the rows (see the module's docstring)
        found = document_versions(ASSERTIONS, entity_id)
        if found is not None:
            versions[entity_id] = found
    rows = Assertion.objects.select_related("badge_class", "issuer").filter(
        entity_id__in=list(versions)
    )
    signing_keys: dict[int, object] = {}
    kept = []
    for found in rows:
        if found.issuer_id not in signing_keys:
            signing_keys[found.issuer_id] = active_signing_key(found.issuer) or False
        entry = entry_made(*assertion_parts(found, frozenset(), signing_keys[found.issuer_id]))
        kept.append(
            KeptDocument(
                kind=ASSERTIONS,
                entity_id=found.entity_id,
                key=public_cache_key(ASSERTIONS, found.entity_id, versions[found.entity_id]),
                **entry,
            )
        )
    KeptDocument.objects.bulk_create(
        kept,
        update_conflicts=True,
        unique_fields=["kind", "entity_id"],
        update_fields=["key", "status", "body", "modified", "etag"],
    )
    return len(kept)


def kept_entry(key: str, kept: tuple) -> dict | None:
    """The entry of a kept document read beside its versions (`services.
    document_versions_kept`), when it was kept under `key`; else None."""
    kept_key, status, body, modified, etag = kept
    if kept_key != key:
        return None
    return {"status": status, "body": bytes(body), "modified": modified, "etag": etag}


def kept_documents_prune() -> int:
    """The periodic task: drop the documents of awards that are gone (deleted with
    their issuer or badge class); how many went."""
    table = connection.ops.quote_name(KeptDocument._meta.db_table)
    awards = connection.ops.quote_name(Assertion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE kind = %s AND NOT EXISTS "  # noqa: S608 (our SQL)
            f"(SELECT 1 FROM {awards} a WHERE a.entity_id = {table}.entity_id)",
            [ASSERTIONS],
        )
        return cursor.rowcount
