"""Awards' hosted documents, rendered once and kept in the database (`KeptDocument`).

Most requests for hosted assertions name an award nobody asked for lately: a process
cache over a million awards rarely hits. So an award's plain Open Badges 2.0 document
(no `?v=` or `?expand=`) is rendered by the queued task `openbadges.keep_documents`
after the change that made or revoked it commits (`documents_queue`, in that change's
transaction; never inside the award's own transaction, so a 10,000-award batch is not
held up), and kept under the key of its versions. The WSGI fast path
(`laurels.openbadges.fastpath`) reads the award's versions and its kept document in one
indexed query and serves it while the key still matches.

The same task keeps each award's public page (HTML) as a visitor without a session sees
it (`PAGES`), under the versions of everything the page shows (the award, its badge
class and issuer) and a digest of what else it is made with (`page_format`). The page
says Valid until the award expires, so a page kept before that is only served until
then (`fresh_until`): the clock, too, makes it stale, never wrong.

Correct by construction, as the process cache: the versions are read *before* the rows
the document is made from, and every change moves them on in its own transaction, so a
document made from rows older than a change is kept under a key that no longer matches.
A change the task does not hear of (a badge class's or issuer's new name) only makes
kept documents stale: they are then not served, and Django answers as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import zlib
from collections.abc import Iterable
from datetime import datetime
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.loader import get_template, render_to_string

from laurels import __version__
from laurels.issuing.models import Assertion
from laurels.jobs.services import job_enqueue
from laurels.openbadges import documents, pages
from laurels.openbadges.models import KeptDocument
from laurels.openbadges.services import (
    active_signing_key,
    document_versions,
    key_ending,
    newest_signing_key,
    public_cache_key,
)

logger = logging.getLogger(__name__)
KEEP_TASK = "openbadges.keep_documents"
# Awards per queued task: one task's reads and upsert take a fraction of a second.
KEEP_CHUNK = 500
# The most awards one `kept_documents_refresh` queues (about 80 s of the runner's time).
REFRESH_LIMIT = 100_000
ASSERTIONS = "assertions"
# An award's public page: kept under the versions of the award with its badge class
# (`document_variant`'s kind for what an `?expand=badge` document shows).
PAGES = "assertion-pages"
PAGE_VERSIONS = "assertions+badge"
PAGE_TEMPLATE = "openbadges/assertion.html"
# The templates a kept page is made of: their sources are part of its key.
PAGE_TEMPLATES = (PAGE_TEMPLATE, "openbadges/_head.html", "web/base.html")


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
    """The task: render and keep these awards' documents and pages; how many awards were
    kept. Safe to run again, and in any order with other runs: a document kept under old
    versions is never served, only replaced."""
    versions, page_versions = {}, {}
    for entity_id in assertions:  # first, before the rows (see the module's docstring)
        found = document_versions(ASSERTIONS, entity_id)
        if found is not None:
            versions[entity_id] = found
            page_versions[entity_id] = document_versions(PAGE_VERSIONS, entity_id)
    rows = Assertion.objects.select_related("badge_class__issuer", "issuer").filter(
        entity_id__in=list(versions)
    )
    signing_keys: dict[int, object] = {}
    kept = []
    for found in rows:
        if found.issuer_id not in signing_keys:
            signing_keys[found.issuer_id] = active_signing_key(found.issuer) or False
        entry = entry_made(*assertion_parts(found, frozenset(), signing_keys[found.issuer_id]))
        key = public_cache_key(ASSERTIONS, found.entity_id, versions[found.entity_id])
        kept.append(KeptDocument(kind=ASSERTIONS, entity_id=found.entity_id, key=key, **entry))
    KeptDocument.objects.bulk_create(
        [*kept, *pages_kept(rows, page_versions)],
        update_conflicts=True,
        unique_fields=["kind", "entity_id"],
        update_fields=["key", "status", "body", "modified", "etag", "fresh_until"],
    )
    return len(versions)


def pages_kept(rows: Iterable[Assertion], versions: dict[str, tuple | None]) -> list:
    """The pages of these awards (read with their badge classes and issuers) ready to
    keep, under the versions read before them; none where they cannot be made here: a
    page names its static files by the manifest `laurels serve` collects, and a job
    runner started without it keeps the documents all the same."""
    made = []
    try:
        for found in rows:
            page = versions[found.entity_id] and page_kept(found, versions[found.entity_id])
            if page is not None:
                made.append(page)
    except ValueError:  # Django's "Missing staticfiles manifest entry"
        logger.exception("Awards' pages not kept: static files are not collected here")
        return []
    return made


def visitor_request(path: str) -> HttpRequest:
    """A GET of `path` by a visitor without a session: whom a kept page is made for."""
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = path
    request.user = AnonymousUser()
    return request


def _page_code() -> list[str]:
    """The sources of the code that fills a page in and the versions of the libraries
    that render it, as this process loaded them (read once, at import)."""
    package = Path(__file__).resolve().parent.parent
    return [
        *((package / name).read_text() for name in PAGE_CODE),
        *(f"{name} {metadata.version(name)}" for name in PAGE_LIBRARIES),
        __version__,
    ]


# The modules (under src/laurels) and libraries a kept page is made with.
PAGE_CODE = (
    "openbadges/pages.py",
    "openbadges/kept.py",
    "core/public.py",
    "web/oembed.py",
    "web/templatetags/oembed.py",
    "web/context_processors.py",
)
PAGE_LIBRARIES = ("Django", "Markdown", "nh3")
PAGE_CODE_LOADED = _page_code()


@functools.cache
def page_format() -> str:
    """A digest of what a kept page is made with besides its rows: the templates'
    sources, the layout a visitor sees (site name, sign-up link, static files' names),
    the code and libraries that fill them in and how dates are written. It is part of
    every kept page's key, so a page kept by other code, libraries or settings is never
    served (`kept_documents_refresh` keeps those pages again)."""
    made_with = [
        render_to_string("web/base.html", request=visitor_request("/")),
        *(get_template(name).template.source for name in PAGE_TEMPLATES),
        *PAGE_CODE_LOADED,
        settings.TIME_ZONE,
        settings.LANGUAGE_CODE,
    ]
    return hashlib.sha256("\0".join(made_with).encode()).hexdigest()[:16]


@receiver(setting_changed)
def _page_format_forget(**kwargs) -> None:
    """Settings changed under a running process (tests do it): the digest is made again."""
    page_format.cache_clear()


def page_variant() -> str:
    return f"page:{page_format()}"


def page_key(entity_id: str, versions: tuple) -> str:
    return public_cache_key(ASSERTIONS, entity_id, versions, page_variant())


def page_kept(found: Assertion, versions: tuple) -> KeptDocument | None:
    """An award's public page as a visitor sees it, ready to keep. It says Valid until
    the award expires: kept before then, it is fresh only until then. None once it has
    expired: when it did is this machine's reading of the clock, and a web server whose
    clock is behind still says Valid, so Django answers for such awards."""
    state, _ = pages.award_state(found)
    if state == "expired":
        return None
    html = render_to_string(
        PAGE_TEMPLATE,
        pages.assertion_page(found),
        request=visitor_request(f"/public/assertions/{found.entity_id}"),
    )
    return KeptDocument(
        kind=PAGES,
        entity_id=found.entity_id,
        key=page_key(found.entity_id, versions),
        status=200,
        body=zlib.compress(html.encode()),
        modified=int(found.updated_at.timestamp()),
        etag="",
        fresh_until=int(found.expires.timestamp()) if state == "valid" and found.expires else None,
    )


def kept_entry(key: str, kept: tuple) -> dict | None:
    """The entry of a kept document read beside its versions (`services.
    document_versions_kept`), when it was kept under `key` and is still fresh; else
    None."""
    kept_key, status, body, modified, etag, fresh_until = kept
    if kept_key != key or (fresh_until is not None and time.time() >= fresh_until):
        return None
    return {"status": status, "body": bytes(body), "modified": modified, "etag": etag}


def kept_page_body(entry: dict) -> bytes:
    """The HTML of a kept page's entry (`kept_entry`): pages are kept compressed, as
    they are three times the size of an award's document and mostly the same markup."""
    return zlib.decompress(entry["body"])


def kept_documents_refresh() -> int:
    """The periodic task: queue the keeping of every award whose document was never
    kept, or whose document or page was kept by other code or settings (an upgrade, a
    new site name: their keys end otherwise, and they are never served); how many were
    queued. One pass over the kept rows, at most REFRESH_LIMIT awards (the next run takes
    the rest); the jobs do the rest."""
    if not settings.LAURELS_KEEP_DOCUMENTS:
        return 0
    try:
        page_ending = f"%:{key_ending(page_variant())}"
    except ValueError:  # no static manifest here: no page is kept here either
        page_ending = "%"
    table = connection.ops.quote_name(KeptDocument._meta.db_table)
    awards = connection.ops.quote_name(Assertion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.entity_id FROM {awards} a "  # noqa: S608 (our SQL)
            f"LEFT JOIN {table} d ON d.kind = %s AND d.entity_id = a.entity_id "
            f"LEFT JOIN {table} p ON p.kind = %s AND p.entity_id = a.entity_id "
            "WHERE d.key IS NULL OR d.key NOT LIKE %s OR p.key NOT LIKE %s "
            "ORDER BY a.id LIMIT %s",
            [ASSERTIONS, PAGES, f"%:{key_ending()}", page_ending, REFRESH_LIMIT],
        )
        stale = [entity_id for (entity_id,) in cursor.fetchall()]
    documents_queue(stale)
    return len(stale)


def kept_documents_prune() -> int:
    """The periodic task: drop the documents of awards that are gone (deleted with
    their issuer or badge class); how many went."""
    table = connection.ops.quote_name(KeptDocument._meta.db_table)
    awards = connection.ops.quote_name(Assertion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE kind IN (%s, %s) AND NOT EXISTS "  # noqa: S608 (our SQL)
            f"(SELECT 1 FROM {awards} a WHERE a.entity_id = {table}.entity_id)",
            [ASSERTIONS, PAGES],
        )
        return cursor.rowcount
