"""Keeps every answer under /v2 in the envelope, whatever layer produced it.

django-ninja's handlers (`api.errors`) cover errors raised inside an operation. This
middleware covers the rest: requests refused before any view runs (413 too large, 415
wrong media type, 400 for a URL or a multipart body that cannot be read: see
`api.inputs`), and answers made outside ninja, such as the URL resolver's 404, ninja's
bare 405, or Django's 500 page for an error in another middleware.
"""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from laurels.api.envelope import API_PREFIXES, error_response
from laurels.api.errors import domain_error_response
from laurels.api.inputs import multipart_problem, url_bad_input
from laurels.core.middleware import declared_length, too_large_message

MULTIPART = "multipart/form-data"
# Badgr's three: integrations send forms as well as JSON (see `api.inputs.body_data`).
ACCEPTED_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", MULTIPART)
# DELETE too: revoking an award takes its reason in a JSON body.
METHODS_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


class ApiEnvelopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        refused = self._refuse_url(request) or self._refuse_body(request)
        if refused is not None:
            return refused
        return self._enveloped(self.get_response(request))

    @staticmethod
    def _refuse_url(request: HttpRequest) -> HttpResponse | None:
        problem = url_bad_input(request)
        return domain_error_response(problem) if problem is not None else None

    @staticmethod
    def _refuse_body(request: HttpRequest) -> HttpResponse | None:
        if request.method not in METHODS_WITH_BODY:
            return None
        length = declared_length(request)
        if length is None:
            return error_response(400, "The Content-Length header is not a number.")
        if length > settings.LAURELS_MAX_REQUEST_BYTES:
            return error_response(413, too_large_message())
        media_type = request.content_type or ""
        if length and media_type not in ACCEPTED_BODY_TYPES:
            return error_response(
                415,
                f"Unsupported media type {media_type or '(none)'}; send application/json, "
                "application/x-www-form-urlencoded or multipart/form-data.",
            )
        if media_type == MULTIPART:
            try:
                problem = multipart_problem(request)
            except RequestDataTooBig:
                return error_response(413, too_large_message())
            if problem is not None:
                return domain_error_response(problem)
        return None

    @staticmethod
    def _enveloped(response: HttpResponse) -> HttpResponse:
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        status = response.status_code
        try:
            description = HTTPStatus(status).phrase + "."
        except ValueError:
            description = "Error."
        replacement = error_response(status, description)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement
