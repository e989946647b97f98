"""Requests no view can answer sensibly, refused before any of them runs; and the old
Badgr host kept to the public paths it is there for."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.http.multipartparser import MultiPartParserError
from django.http.request import split_domain_port

from laurels.core.untrusted import whole_number

# Paths whose middleware answers the same refusal in its own format (the /v2 envelope,
# Badge Connect's status envelope), and reads its own bodies (api.inputs): the API's
# (`api.envelope.API_PREFIXES`) and Badge Connect's (`api.badgeconnect`).
OWN_REFUSALS = ("/v2/", "/v1/", "/bcv1/")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL = "\x00"


def url_problem(request: HttpRequest) -> tuple[str, str | None] | None:
    """(message, query field to blame) for NUL in the path or the query, which PostgreSQL
    refuses in any lookup (a 500 deep in a view), or for more query fields than Django
    reads; None for a readable URL."""
    if NUL in request.path:
        return "The path may not contain the NUL character (%00).", None
    try:
        query = request.GET
    except SuspiciousOperation:
        return "The query has too many fields.", None
    return _fields_problem(query, "query")


def _fields_problem(fields, where: str) -> tuple[str, str | None] | None:
    refusal = f"The {where} may not contain the NUL character (%00)."
    for name, values in fields.lists():
        if NUL in name:
            return refusal, None
        if any(NUL in value for value in values):
            return refusal, name
    return None


def _form_problem(request: HttpRequest) -> tuple[str, str | None] | None:
    """The same for a form body (the OAuth endpoints, the pages' forms). Django would
    parse it anyway before any view runs: the CSRF check reads the form."""
    if request.method != "POST" or request.content_type not in FORMS:
        return None
    try:
        form = request.POST
    except (SuspiciousOperation, MultiPartParserError):
        return "The form cannot be read (too many fields, or a malformed multipart body).", None
    return _fields_problem(form, "form")


def _authorization_problem(request: HttpRequest) -> tuple[str, str | None] | None:
    """NUL in the client id or secret of HTTP Basic authentication (OAuth clients)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if NUL in header:
        return "The Authorization header may not contain the NUL character.", None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None  # the OAuth library answers invalid_client for it
    if b"\x00" in decoded or b"%00" in decoded:
        return "The client credentials may not contain the NUL character.", None
    return None


def request_problem(request: HttpRequest) -> tuple[str, str | None] | None:
    """What `url_problem` finds, or NUL in a form body or in Basic credentials."""
    return url_problem(request) or _form_problem(request) or _authorization_problem(request)


def declared_length(request: HttpRequest) -> int | None:
    """The body's length as its Content-Length header declares it (0 without one);
    None when the header is not a number."""
    return whole_number(request.META.get("CONTENT_LENGTH") or "0")


def too_large_message() -> str:
    return f"The request body is too large (at most {settings.LAURELS_MAX_REQUEST_BYTES} bytes)."


class UnreadableRequestMiddleware:
    """400 for a request that `request_problem` refuses, and 413 for a body declared
    larger than LAURELS_MAX_REQUEST_BYTES, on every page outside /v2. Django caps a
    form's fields in memory but streams its files to disk whatever their size: an
    upload is refused here before any of it is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(OWN_REFUSALS):
            length = declared_length(request)
            if length is None:
                return HttpResponseBadRequest(
                    "The Content-Length header is not a number.", content_type="text/plain"
                )
            if length > settings.LAURELS_MAX_REQUEST_BYTES:
                return HttpResponse(too_large_message(), status=413, content_type="text/plain")
            problem = request_problem(request)
            if problem is not None:
                return HttpResponseBadRequest(problem[0], content_type="text/plain")
        return self.get_response(request)


class OldOriginPublicOnlyMiddleware:
    """On the old Badgr server's host (LAURELS_BADGR_ORIGIN, pointed here) only its public
    Open Badges paths are served; every other path redirects to LAURELS_BASE_URL.

    That host exists so that URLs baked into old awards keep verifying. Serving log-in,
    OAuth and the API there too would give people a second origin to sign in on (its own
    cookies and sessions, consent pages under a name they may not know) for no reason."""

    SERVED = ("/public/", "/static/")

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        origin = settings.LAURELS_BADGR_ORIGIN
        old_host = urlsplit(origin).hostname if origin else None
        own_host = urlsplit(settings.LAURELS_BASE_URL).hostname
        self.old_host = old_host if old_host and old_host != own_host else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.old_host and not request.path.startswith(self.SERVED):
            host, _ = split_domain_port(request.get_host())
            if host == self.old_host:
                return HttpResponseRedirect(settings.LAURELS_BASE_URL + request.get_full_path())
        return self.get_response(request)
