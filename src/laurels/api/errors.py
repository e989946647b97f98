"""One translation from exceptions to envelope answers, for the whole /v2 API."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from laurels.api.envelope import error_response
from laurels.connect.permissions import InsufficientScope
from laurels.core.errors import DomainError, RateLimited
from laurels.core.storage import StorageUnavailable, log_storage_fault, storage_fault

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger(__name__)

# The parts of a pydantic error location that name where a value came from, not which field.
_LOCATION_WORDS = {"body", "query", "path", "header", "cookie", "form", "file", "payload"}


def camel_case(name: str) -> str:
    """`first_name` -> `firstName`: services name model fields, the API speaks camelCase."""
    return re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), name)


def _field_name(location: list) -> str:
    parts = [str(part) for part in location if str(part) not in _LOCATION_WORDS]
    return ".".join(parts) if parts else "__all__"


def on_input_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    field_errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in exc.errors:
        message = str(error.get("msg", "Invalid value.")).removeprefix("Value error, ")
        name = _field_name(list(error.get("loc", [])))
        if name == "__all__":
            general.append(message)
        else:
            field_errors.setdefault(name, []).append(message)
    return error_response(
        400, "Invalid input.", validation_errors=general, field_errors=field_errors
    )


def on_service_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    field_errors: dict[str, list[str]] = {}
    general: list[str] = []
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            if field == "__all__":
                general.extend(messages)
            else:
                field_errors[camel_case(field)] = list(messages)
    else:
        general.extend(exc.messages)
    return error_response(
        400, "Invalid input.", validation_errors=general, field_errors=field_errors
    )


def domain_error_response(exc: DomainError) -> HttpResponse:
    """The answer to a DomainError, with `fieldErrors` when it names a field (`field`)."""
    field = getattr(exc, "field", None)
    response = error_response(
        exc.status, exc.message, field_errors={field: [exc.message]} if field else None
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InsufficientScope):
        response["WWW-Authenticate"] = (
            f'Bearer realm="laurels", error="insufficient_scope", '
            f'scope="{" ".join(sorted(exc.scopes))}"'
        )
    return response


def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_error_response(exc)


def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if getattr(request, "laurels_invalid_token", False):
        response = error_response(401, "The access token is invalid, expired or revoked.")
        response["WWW-Authenticate"] = 'Bearer realm="laurels", error="invalid_token"'
        return response
    response = error_response(401, "Authentication credentials were not provided or are invalid.")
    response["WWW-Authenticate"] = 'Bearer realm="laurels"'
    return response


def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja turns whatever the body parser raised into "Cannot parse request body"; ours
    # (`api.inputs.BadInput`) says what is wrong, so it is answered instead.
    if isinstance(exc.__cause__, DomainError):
        return domain_error_response(exc.__cause__)
    return error_response(exc.status_code, str(exc.message))


def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "Not found.")


def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(413, "The request body is too large.")


def on_unreadable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A body or query Django cannot read (malformed multipart, too many fields): the
    middleware refuses these before the view, this answers any that get past it."""
    logger.warning("Unreadable request %s %s: %s", request.method, request.path, exc)
    return error_response(400, "The request cannot be read.")


def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if storage_fault(exc):  # a full or read-only disk: 503, see laurels.core.storage
        log_storage_fault(request, exc)
        return on_domain_error(request, StorageUnavailable())
    logger.exception("Unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "Internal server error.")


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the handlers; ninja picks the most specific class in the exception's MRO."""
    api.add_exception_handler(NinjaValidationError, on_input_invalid)
    api.add_exception_handler(DjangoValidationError, on_service_invalid)
    api.add_exception_handler(DomainError, on_domain_error)
    api.add_exception_handler(AuthenticationError, on_unauthenticated)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(RequestDataTooBig, on_too_big)
    api.add_exception_handler(SuspiciousOperation, on_unreadable)
    api.add_exception_handler(MultiPartParserError, on_unreadable)
    api.add_exception_handler(Exception, on_unexpected)
