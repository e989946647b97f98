"""A WSGI fast path for the hottest request a badge server gets: verifiers fetching a
hosted document (JSON-LD) that is already cached.

It answers from the same cache entries the view writes (`views.public_document_entry`),
with the same headers (`views.cached_answer`), before Django's middleware and URL
routing run; anything else, and every cache miss, goes to Django unchanged.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from django.core.cache import cache

from laurels.openbadges.services import public_cache_key
from laurels.openbadges.views import accepts_json, cached_answer

PUBLIC_DOCUMENT = re.compile(r"^/public/(assertions|badges|issuers)/([A-Za-z0-9_-]{1,64})$")
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class PublicDocumentFastPath:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            match = PUBLIC_DOCUMENT.match(environ.get("PATH_INFO", ""))
            if match and accepts_json(
                environ.get("HTTP_ACCEPT", ""), environ.get("QUERY_STRING", "")
            ):
                entry = cache.get(public_cache_key(match[1], match[2]))
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
