"""A WSGI fast path for the hottest request a badge server gets: verifiers fetching a
hosted document (JSON-LD) that is already cached, or kept in the database (an award's
plain document, `laurels.openbadges.kept`).

It reads the document's versions (one indexed query, `services.document_versions`; those
of what its variant embeds too, `views.document_variant`) and
answers from the cache entry the view keeps under them (`views.public_document_entry`),
with the same headers (`views.cached_answer`), before Django's middleware and URL
routing run. A revocation moves the versions on in its own transaction, so the next
request, on any worker or machine, misses and goes to Django, as does anything else.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from django.core.cache import cache
from django.db import DatabaseError, connection

from laurels.core.hosts import allowed_host
from laurels.core.responses import accepts_json
from laurels.openbadges.kept import ASSERTIONS, kept_entry
from laurels.openbadges.services import (
    document_versions,
    document_versions_kept,
    public_cache_key,
)
from laurels.openbadges.views import cached_answer, document_variant

logger = logging.getLogger(__name__)
PUBLIC_DOCUMENT = re.compile(
    r"^/public/(assertions|badges|issuers)/([A-Za-z0-9_-]{1,64})(\.json)?$"
)
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class PublicDocumentFastPath:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            match = PUBLIC_DOCUMENT.match(environ.get("PATH_INFO", ""))
            query = environ.get("QUERY_STRING", "")
            if (
                match
                and (match[3] or accepts_json(environ.get("HTTP_ACCEPT", ""), query))
                and allowed_host(environ) is not None
            ):
                entry = self._cached(match[1], match[2], query)
                if entry is not None:
                    status, headers, body = cached_answer(
                        entry,
                        environ.get("HTTP_IF_NONE_MATCH"),
                        environ.get("HTTP_IF_MODIFIED_SINCE"),
                    )
                    headers.append(("Content-Length", str(len(body))))
                    start_response(STATUS_LINES[status], headers)
                    return [body]
        return self.application(environ, start_response)

    @staticmethod
    def _cached(kind: str, entity_id: str, query: str) -> dict | None:
        versions_kind, variant, _ = document_variant(kind, query)
        # An award's plain document may be kept in the database (`openbadges.kept`): read
        # with its versions, in the same query.
        with_kept = versions_kind == ASSERTIONS and not variant
        try:
            if with_kept:
                found = document_versions_kept(versions_kind, entity_id)
                versions, kept = found if found is not None else (None, None)
            else:
                versions = document_versions(versions_kind, entity_id)
        except DatabaseError:
            logger.exception(
                "Could not read the versions of %s %s; Django answers", kind, entity_id
            )
            connection.close()
            return None
        if versions is None:
            return None  # no such document: Django answers the 404
        key = public_cache_key(kind, entity_id, versions, variant)
        return (kept_entry(key, kept) if with_kept else None) or cache.get(key)
