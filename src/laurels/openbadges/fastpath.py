"""A WSGI fast path for the hottest requests a badge server gets: verifiers fetching a
hosted document (JSON-LD) that is already cached, or kept in the database (an award's
plain document, `laurels.openbadges.kept`), and people without a session opening an
award's public page that is kept.

It reads the document's versions (one indexed query, `services.document_versions`; those
of what its variant embeds too, `views.document_variant`) and
answers from the cache entry the view keeps under them (`views.public_document_entry`),
with the same headers (`views.cached_answer`), before Django's middleware and URL
routing run. A revocation moves the versions on in its own transaction, so the next
request, on any worker or machine, misses and goes to Django, as does anything else.

A kept page is served only to a request Django would answer exactly so: no session or
messages cookie (a signed-in person sees their own menu), no credentials, no query. Its
headers are Django's own: the first kept page a process would serve goes to Django, and
the headers of that answer (security headers, the Content-Security-Policy, `Vary`) are
what every later one is sent with, per scheme (HSTS is sent over https only).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest
from django.http.cookie import parse_cookie

from laurels.core.hosts import allowed_host
from laurels.core.responses import accepts_json
from laurels.openbadges.kept import (
    ASSERTIONS,
    PAGE_VERSIONS,
    PAGES,
    kept_entry,
    kept_page_body,
    page_key,
)
from laurels.openbadges.services import (
    document_versions,
    document_versions_kept,
    public_cache_key,
)
from laurels.openbadges.views import cached_answer, document_variant

logger = logging.getLogger(__name__)
PUBLIC_DOCUMENT = re.compile(r"/public/(assertions|badges|issuers)/([A-Za-z0-9_-]{1,64})(\.json)?")
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class PublicDocumentFastPath:
    def __init__(self, application):
        self.application = application
        # The headers of Django's answer with a kept page, by whether it came over https.
        self.page_headers: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            match = PUBLIC_DOCUMENT.fullmatch(environ.get("PATH_INFO", ""))
            query = environ.get("QUERY_STRING", "")
            if not match or _with_body(environ) or allowed_host(environ) is None:
                pass
            elif not match[3] and not accepts_json(environ.get("HTTP_ACCEPT", ""), query):
                if match[1] == ASSERTIONS and not query and _visitor(environ):
                    return self._page(match[2], environ, start_response)
            else:
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

    def _page(self, entity_id: str, environ, start_response):
        """An award's kept page, or Django's answer (which teaches the headers)."""
        entry = _kept_page(entity_id)
        if entry is None:
            return self.application(environ, start_response)
        request = HttpRequest()
        request.META = environ
        secure = request.is_secure()
        headers = self.page_headers.get(secure)
        if headers is None:
            return self.application(environ, self._learning(secure, start_response))
        body = kept_page_body(entry)
        length = str(len(body))
        start_response(
            STATUS_LINES[200],
            [(name, length if name == "Content-Length" else value) for name, value in headers],
        )
        return [body]

    def _learning(self, secure: bool, start_response):
        """`start_response` that remembers the headers of Django's page answer."""

        def remember(status: str, headers: list, exc_info=None):
            names = {name.lower() for name, _ in headers}
            content_type = dict((n.lower(), v) for n, v in headers).get("content-type", "")
            if (
                status.startswith("200 ")
                and exc_info is None
                and "set-cookie" not in names
                and content_type.startswith("text/html")
                and any(name == "Content-Length" for name, _ in headers)
            ):
                self.page_headers[secure] = list(headers)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return remember

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


def _with_body(environ: dict) -> bool:
    """Whether the request declares a body: Django refuses an unreadable or too long
    Content-Length (`core.middleware.UnreadableRequestMiddleware`); no GET answered here
    has one, so any such request goes to Django."""
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or (
        "HTTP_TRANSFER_ENCODING" in environ
    )


def _visitor(environ: dict) -> bool:
    """Whether Django would answer this request as it answers anyone without an account:
    no session, no messages waiting (both cookies), no credentials."""
    if "HTTP_AUTHORIZATION" in environ:
        return False
    cookie = environ.get("HTTP_COOKIE")
    if not cookie:
        return True
    names = parse_cookie(cookie)
    return settings.SESSION_COOKIE_NAME not in names and CookieStorage.cookie_name not in names


def _kept_page(entity_id: str) -> dict | None:
    """The entry of an award's page kept under its current versions and still fresh."""
    try:
        found = document_versions_kept(PAGE_VERSIONS, entity_id, kept=PAGES)
    except DatabaseError:
        logger.exception("Could not read the kept page of %s; Django answers", entity_id)
        connection.close()
        return None
    if found is None:
        return None
    versions, kept = found
    return kept_entry(page_key(entity_id, versions), kept)
