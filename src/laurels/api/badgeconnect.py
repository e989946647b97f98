"""Badge Connect 1.0 (Open Badges 2.1), as Badgr served it: the manifest, and the /bcv1
API through which another backpack or a learning platform (Moodle's "Open Badges 2.1"
backpack) lists a user's badges, pushes one into their backpack and reads their profile.

The apps register themselves at /o/register with Badge Connect's scopes (connect.services,
connect.client_metadata) and get tokens by the authorization code flow; these views take
only tokens holding Badge Connect's scopes (a browser session has no way in). Every answer,
success or error, is Badge Connect's envelope:

    {"status": {"error": null, "statusCode": 200, "statusText": "OK"}, "results": [...]}

Plain Django views rather than a ninja API: that envelope, the limit/offset paging and
Badgr's `Link` header are unlike /v2's in every part, and a catch-all route keeps even an
unknown /bcv1 path in the envelope.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from laurels.api.auth import BearerCaller
from laurels.api.inputs import BadInput, body_data
from laurels.api.pagination import page_size
from laurels.backpack import importing, selectors, services
from laurels.backpack.presenters import badge_json
from laurels.connect.names import BRAND
from laurels.connect.permissions import Caller, InsufficientScope, Permission, require
from laurels.connect.scopes import Scope
from laurels.core.clients import client_address
from laurels.core.errors import DomainError, PermissionDenied, RateLimited
from laurels.core.middleware import request_problem
from laurels.core.storage import StorageUnavailable, log_storage_fault, storage_fault
from laurels.core.untrusted import whole_number
from laurels.issuing.models import Acceptance, in_utc

logger = logging.getLogger(__name__)

MANIFEST_CONTEXT = "https://w3id.org/openbadges/badgeconnect/v1"
OPEN_BADGES_CONTEXT = "https://w3id.org/openbadges/v2"
API_VERSION = "v1p0"
# Offered in this order, as Badgr listed them.
SCOPES_OFFERED = (
    Scope.BADGE_CONNECT_ASSERTIONS_READ,
    Scope.BADGE_CONNECT_ASSERTIONS_CREATE,
    Scope.BADGE_CONNECT_PROFILE_READ,
)
# A push carries one assertion (Moodle sends the whole document, badge and issuer
# embedded): far less than this; anything larger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024
# JSON, as Badge Connect says; a form too, as Badgr (Django REST framework) took one.
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded")
# Badgr's word for a missing or bad token; every other status is named after its code.
STATUS_TEXTS = {HTTPStatus.UNAUTHORIZED: "UNAUTHENTICATED"}
MAX_OFFSET_DIGITS = 9
DUPLICATE_BADGE = "DUPLICATE_BADGE"


class Unauthenticated(DomainError):
    status = 401
    default_message = "Authentication credentials were not provided or are invalid."

    def __init__(self, *, invalid_token: bool) -> None:
        super().__init__()
        self.invalid_token = invalid_token


class BodyTooLarge(DomainError):
    status = 413
    default_message = f"The request body is larger than {MAX_BODY_BYTES} bytes."


class UnsupportedMediaType(DomainError):
    status = 415
    default_message = "Send the assertion as application/json."


class MethodNotAllowed(DomainError):
    status = 405
    default_message = "This method is not allowed here."

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(f"Use {' or '.join(allowed)}.")
        self.allowed = allowed


# --- the envelope ----------------------------------------------------------------------------


def status_text(code: int) -> str:
    return STATUS_TEXTS.get(code) or HTTPStatus(code).name


def answer(
    status: int = 200, *, results: list | None = None, error: str | None = None
) -> JsonResponse:
    """Badge Connect's envelope. A success always says statusCode 200, whatever the HTTP
    status (201 for a push), as Badgr's did: Moodle looks for exactly that."""
    shown = 200 if status < 400 else status
    body: dict[str, Any] = {
        "status": {"error": error, "statusCode": shown, "statusText": status_text(shown)}
    }
    if results is not None:
        body["results"] = results
    return JsonResponse(body, status=status)


def error_answer(exc: Exception, request: HttpRequest) -> JsonResponse:
    """Every failure in the envelope, with the headers its status calls for."""
    if isinstance(exc, ValidationError):
        return answer(400, error=" ".join(exc.messages))
    if isinstance(exc, RequestDataTooBig):  # past Django's own cap, without Content-Length
        exc = BodyTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # a body Django refuses to read
        exc = BadInput()
    if not isinstance(exc, DomainError):
        if not storage_fault(exc):
            logger.exception("Unhandled error in %s %s", request.method, request.path)
            return answer(500, error="Internal server error.")
        log_storage_fault(request, exc)
        exc = StorageUnavailable()
    response = answer(exc.status, error=None if exc.status == 401 else exc.message)
    for header, value in _error_headers(exc).items():
        response[header] = value
    return response


def _error_headers(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, Unauthenticated):
        invalid = ', error="invalid_token"' if exc.invalid_token else ""
        return {"WWW-Authenticate": f'Bearer realm="laurels"{invalid}'}
    if isinstance(exc, InsufficientScope):
        scopes = " ".join(sorted(exc.scopes))
        return {
            "WWW-Authenticate": f'Bearer realm="laurels", error="insufficient_scope", '
            f'scope="{scopes}"'
        }
    if isinstance(exc, MethodNotAllowed):
        return {"Allow": ", ".join(exc.allowed)}
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    return {}


def enveloped(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer whatever `view` raises in the envelope; never a page or a bare status. An
    unreadable request (NUL in the URL, a form or Basic credentials, too many fields) is
    refused first, as `core.middleware` refuses it elsewhere."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        problem = request_problem(request)
        if problem is not None:
            return answer(400, error=problem[0])
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:  # each kind is answered in error_answer
            return error_answer(exc, request)

    return wrapper


# --- who calls -------------------------------------------------------------------------------

bearer = BearerCaller()


def badge_connect_caller(request: HttpRequest, permission: Permission) -> Caller:
    """The user an app's token acts for, allowed `permission`. As in Badgr, the user needs
    a verified email address: the backpack is theirs by the addresses they proved."""
    caller = bearer(request)  # RateLimited beyond the app's quota
    if caller is None:
        raise Unauthenticated(invalid_token=getattr(request, "laurels_invalid_token", False))
    require(caller, permission)
    if not selectors.verified_emails(caller.user):
        raise PermissionDenied("Verify an email address on your account first.")
    return caller


def endpoint(**permissions: Permission) -> Callable:
    """A /bcv1 view for the methods named (GET=..., POST=...), each with the permission
    its token must hold; the view gets the caller after the request."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @enveloped
        @functools.wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            permission = permissions.get(request.method or "")
            if permission is None:
                raise MethodNotAllowed(tuple(permissions))
            caller = badge_connect_caller(request, permission)
            return view(request, caller, *args, **kwargs)

        return checked

    return decorate


# --- the manifest ----------------------------------------------------------------------------


def our_domain() -> str:
    """This server's host (and port), as Badge Connect names it in the manifest's path."""
    return urlsplit(settings.LAURELS_BASE_URL).netloc


def manifest_document() -> dict:
    """Badgr's manifest: where to register, authorize, get tokens and call the API."""
    base = settings.LAURELS_BASE_URL
    return {
        "@context": MANIFEST_CONTEXT,
        "id": f"{base}/bcv1/manifest/{our_domain()}",
        "badgeConnectAPI": [
            {
                "name": BRAND,
                "apiBase": f"{base}/bcv1",
                "version": API_VERSION,
                "scopesOffered": [str(scope) for scope in SCOPES_OFFERED],
                "registrationUrl": f"{base}/o/register",
                "authorizationUrl": f"{base}/o/authorize",
                "tokenUrl": f"{base}/o/token",
            }
        ],
    }


def _safe_method(request: HttpRequest) -> None:
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(("GET", "HEAD"))


@enveloped
def manifest(request: HttpRequest, domain: str) -> HttpResponse:
    """`/bcv1/manifest/{domain}`: the manifest of this server's own domain; any other
    domain is not served here (404)."""
    _safe_method(request)
    if domain.lower() != our_domain().lower():
        return answer(404, error=f"No Badge Connect API is served here for {domain[:200]}.")
    response = JsonResponse(manifest_document())
    response["Access-Control-Allow-Origin"] = "*"
    return response


@enveloped
def well_known_manifest(request: HttpRequest) -> HttpResponse:
    """`/.well-known/badgeconnect.json`: redirects to this domain's manifest, as Badgr did
    (clients, Moodle's among them, follow it)."""
    _safe_method(request)
    response = HttpResponse(status=302)
    response["Location"] = f"{settings.LAURELS_BASE_URL}/bcv1/manifest/{our_domain()}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- assertions ------------------------------------------------------------------------------


def assertion_json(entry) -> dict:
    """A backpack badge as Badge Connect's Assertion (Badgr's fields), made from its
    /v2 presentation so that both tell the same."""
    shown = badge_json(entry)
    return {
        "@context": OPEN_BADGES_CONTEXT,
        "type": "Assertion",
        "id": shown["openBadgeId"],
        "badge": shown["badgeclassOpenBadgeId"],
        "image": shown["image"],
        "recipient": shown["recipient"],
        "issuedOn": shown["issuedOn"],
        "narrative": shown["narrative"],
        "evidence": shown["evidence"],
        "revoked": shown["revoked"],
        "revocationReason": shown["revocationReason"],
        "expires": shown["expires"],
    }


def _whole_number(request: HttpRequest, name: str) -> int | None:
    text = request.GET.get(name)
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or len(text) > MAX_OFFSET_DIGITS:
        raise BadInput(f"{name} must be a whole number of at most {MAX_OFFSET_DIGITS} digits.")
    return int(text)


def _since(request: HttpRequest) -> datetime | None:
    text = request.GET.get("since")
    if not text:
        return None
    try:
        moment = parse_datetime(text)
        if moment is not None and moment.utcoffset() is not None:
            return in_utc(moment)  # ValueError for a time beyond year 1..9999 in UTC
    except ValueError:
        pass
    raise BadInput("since must be an ISO 8601 time with its time zone, in years 1 to 9999.")


def _page_link(request: HttpRequest, offset: int, limit: int) -> str:
    query = request.GET.copy()
    query["limit"], query["offset"] = str(limit), str(offset)
    return request.build_absolute_uri(f"{request.path}?{urlencode(query, doseq=True)}")


def page_links(request: HttpRequest, *, offset: int, limit: int, total: int) -> str:
    """Badgr's `Link` header: next (if any), first, last, prev (if any)."""
    last = max(0, (total - 1) // limit * limit)
    links = []
    if offset + limit < total:
        links.append((offset + limit, "next"))
    links += [(0, "first"), (last, "last")]
    if offset > 0:
        links.append((max(0, offset - limit), "prev"))
    return ",".join(f'<{_page_link(request, at, limit)}>; rel="{rel}"' for at, rel in links)


def _list(request: HttpRequest, caller: Caller) -> HttpResponse:
    limit = page_size(_whole_number(request, "limit"))
    offset = _whole_number(request, "offset") or 0
    page = selectors.changed_entries_page(
        user=caller.user, since=_since(request), offset=offset, limit=limit
    )
    response = answer(results=[assertion_json(entry) for entry in page.entries])
    response["Link"] = page_links(request, offset=offset, limit=limit, total=page.total)
    response["X-Total-Count"] = str(page.total)
    return response


def _pushed_url(request: HttpRequest) -> str:
    """The assertion id of a push: `{"assertion": {"id": URL}}` (Badgr also read a bare
    `{"id": URL}`). Its being an http(s) URL is the import's to check."""
    declared = whole_number(request.META.get("CONTENT_LENGTH") or "0")
    if declared is None or declared > MAX_BODY_BYTES:
        raise BodyTooLarge()
    if request.content_type not in BODY_TYPES:
        raise UnsupportedMediaType()
    document = body_data(request)
    if not isinstance(document, dict):
        raise BadInput("The body must be a JSON object.")
    assertion = document.get("assertion", document)
    url = assertion.get("id") if isinstance(assertion, dict) else assertion
    if not isinstance(url, str) or not url:
        raise BadInput('Give the assertion to add as {"assertion": {"id": URL}}.')
    return url


def _push(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Import the assertion into the backpack (fetched and verified before anything is
    written, no transaction held meanwhile). A badge already there is a 400 naming
    DUPLICATE_BADGE, as in Badgr, and is marked accepted again. Counted in the import
    limits of every other way in (`services.badge_import_rate_check`; 429 beyond)."""
    url = _pushed_url(request)
    services.badge_import_rate_check(user=caller.user, client_ip=client_address(request))
    badge, created = importing.badge_import(user=caller.user, url=url)
    if not created:
        if badge.acceptance != Acceptance.ACCEPTED:
            services.entry_acceptance_set(entry=badge, acceptance=Acceptance.ACCEPTED)
        return answer(
            400, error=f"{DUPLICATE_BADGE}: You already have this badge in your backpack."
        )
    return answer(201)


@endpoint(
    GET=Permission.BADGE_CONNECT_ASSERTIONS_READ, POST=Permission.BADGE_CONNECT_ASSERTIONS_CREATE
)
def assertions(request: HttpRequest, caller: Caller) -> HttpResponse:
    """`GET /bcv1/assertions` (`limit`, `offset`, `since`), `POST /bcv1/assertions`."""
    if request.method == "POST":
        return _push(request, caller)
    return _list(request, caller)


@endpoint(GET=Permission.BADGE_CONNECT_PROFILE_READ)
def profile(request: HttpRequest, caller: Caller) -> HttpResponse:
    """`GET /bcv1/profile`: the user's name and email address, as Badgr gave them."""
    user = caller.user
    shown = {
        "@context": OPEN_BADGES_CONTEXT,
        "name": f"{user.first_name} {user.last_name}".strip(),
        "email": user.email,
    }
    return answer(results=[shown])


@enveloped
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return answer(404, error="Not found.")


urlpatterns = [
    re_path(r"^\.well-known/badgeconnect\.json$", well_known_manifest, name="bc-well-known"),
    path("bcv1/manifest/<str:domain>", manifest, name="bc-manifest"),
    re_path(r"^bcv1/assertions/?$", assertions, name="bc-assertions"),
    re_path(r"^bcv1/profile/?$", profile, name="bc-profile"),
    re_path(r"^bcv1(?:/(?P<rest>.*))?$", not_found),
]
