"""Requests no view can answer sensibly, refused before any of them runs."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

# Paths whose middleware answers the same refusal in its own format (the /v2 envelope).
OWN_REFUSALS = ("/v2/",)


def url_problem(request: HttpRequest) -> tuple[str, str | None] | None:
    """(message, query field to blame) for NUL in the path or the query, which PostgreSQL
    refuses in any lookup (a 500 deep in a view), or for more query fields than Django
    reads; None for a readable URL."""
    if "\x00" in request.path:
        return "The path may not contain the NUL character (%00).", None
    try:
        query = request.GET
    except SuspiciousOperation:
        return "The query has too many fields.", None
    refusal = "The query may not contain the NUL character (%00)."
    for name, values in query.lists():
        if "\x00" in name:
            return refusal, None
        if any("\x00" in value for value in values):
            return refusal, name
    return None


class UnreadableUrlMiddleware:
    """400 for a URL that `url_problem` refuses, on every page outside /v2."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(OWN_REFUSALS):
            problem = url_problem(request)
            if problem is not None:
                return HttpResponseBadRequest(problem[0], content_type="text/plain")
        return self.get_response(request)
