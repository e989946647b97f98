"""Public, unauthenticated Open Badges resources: JSON-LD for machines, pages for people.

`/public/{issuers,badges,assertions}/{id}` answer JSON-LD to `Accept: application/ld+json`
or `application/json` (or `?format=json`) and an HTML page to browsers. JSON answers are
cached under the versions of the rows they show (`services.document_versions`), which
every change moves on in its own transaction, carry ETag and Last-Modified, and honour
conditional requests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from laurels.core.responses import JSON_LD, image_response, stored_image_response, wants_json
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.openbadges import documents, pages
from laurels.openbadges.models import IssuerKey
from laurels.openbadges.services import (
    PUBLIC_CACHE_SECONDS,
    active_signing_key,
    baked_image,
    document_versions,
    newest_signing_key,
    public_cache_key,
)

# What an entityId can look like (`laurels.core.ids`); anything else names no document.
ENTITY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@functools.lru_cache(maxsize=4096)
def last_modified_header(modified: int) -> str:
    """`http_date`, remembered: the fast path sends the same few dates again and again."""
    return http_date(modified)


def cached_answer(
    entry: dict, if_none_match: str | None, if_modified_since: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a cached public document, honouring conditional
    requests. Shared by the view and the WSGI fast path (laurels.openbadges.fastpath)."""
    headers = [
        ("ETag", entry["etag"]),
        ("Last-Modified", last_modified_header(entry["modified"])),
        ("Cache-Control", "public, max-age=300"),
        ("Access-Control-Allow-Origin", "*"),
        ("Vary", "Accept"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if entry["status"] == 200:
        if if_none_match == entry["etag"]:
            return 304, headers, b""
        if if_none_match is None and if_modified_since:
            since = parse_http_date_safe(if_modified_since)
            if since is not None and entry["modified"] <= since:
                return 304, headers, b""
    return entry["status"], [("Content-Type", JSON_LD), *headers], entry["body"]


def public_document_entry(kind: str, entity_id: str, build) -> dict:
    """The cached entry of a public document, built and cached on a miss.

    Its versions are read first, and the entry is kept under them: a change committed
    meanwhile has moved them on, so an entry made from rows read before it is never
    found again (a verifier that misses as an award is revoked cannot put "valid" back).
    """
    versions = document_versions(kind, entity_id) if ENTITY_ID.fullmatch(entity_id) else None
    if versions is None:
        raise Http404("Not found.")
    key = public_cache_key(kind, entity_id, versions)
    entry = cache.get(key)
    if entry is None:
        status, document, modified = build()
        body = json.dumps(document, indent=2).encode()
        entry = {
            "status": status,
            "body": body,
            "modified": int(modified.timestamp()),
            "etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        }
        cache.set(key, entry, PUBLIC_CACHE_SECONDS)
    return entry


def _public_json(
    request: HttpRequest,
    kind: str,
    entity_id: str,
    build: Callable[[], tuple[int, dict, datetime]],
) -> HttpResponse:
    """A cached JSON-LD answer with validators; `build` runs on a cache miss."""
    entry = public_document_entry(kind, entity_id, build)
    status, headers, body = cached_answer(
        entry, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
    )
    response = HttpResponseNotModified() if status == 304 else HttpResponse(body, status=status)
    for name, value in headers:
        response[name] = value
    return response


def _found(rows, entity_id: str):
    found = rows.filter(entity_id=entity_id).first()
    if found is None:
        raise Http404("Not found.")
    return found


# --- issuers, badge classes, assertions ------------------------------------------------------


@require_GET
def issuer(request: HttpRequest, entity_id: str) -> HttpResponse:
    def build():
        found = _found(Issuer.objects.all(), entity_id)
        return 200, documents.issuer_profile(found, newest_signing_key(found)), found.updated_at

    if wants_json(request):
        return _public_json(request, "issuers", entity_id, build)
    return render(
        request,
        "openbadges/issuer.html",
        pages.issuer_page(_found(Issuer.objects.all(), entity_id)),
    )


@require_GET
def badge_class(request: HttpRequest, entity_id: str) -> HttpResponse:
    rows = BadgeClass.objects.select_related("issuer")

    def build():
        found = _found(rows, entity_id)
        return 200, documents.badge_class_document(found), found.updated_at

    if wants_json(request):
        return _public_json(request, "badges", entity_id, build)
    return render(
        request, "openbadges/badge_class.html", pages.badge_class_page(_found(rows, entity_id))
    )


@require_GET
def assertion(request: HttpRequest, entity_id: str) -> HttpResponse:
    rows = Assertion.objects.select_related("badge_class", "issuer")

    def build():
        found = _found(rows, entity_id)
        # Its verification follows the issuer's signing keys, which move the issuer's
        # updated_at (`openbadges.services._signing_key_changed`), not the award's.
        modified = max(found.updated_at, found.issuer.updated_at)
        if found.revoked:
            return 410, documents.revoked_assertion_document(found), modified
        key = active_signing_key(found.issuer)
        return 200, documents.assertion_document(found, signing_key=key), modified

    if wants_json(request):
        return _public_json(request, "assertions", entity_id, build)
    return render(
        request, "openbadges/assertion.html", pages.assertion_page(_found(rows, entity_id))
    )


@require_GET
def revocations(request: HttpRequest, entity_id: str) -> HttpResponse:
    def build():
        found = _found(Issuer.objects.all(), entity_id)
        revoked = list(found.assertions.filter(revoked=True).only("entity_id", "revocation_reason"))
        return 200, documents.revocation_list_document(found, revoked), timezone.now()

    return _public_json(request, "revocations", entity_id, build)


@require_GET
def key(request: HttpRequest, entity_id: str) -> HttpResponse:
    def build():
        found = _found(IssuerKey.objects.select_related("issuer"), entity_id)
        return 200, documents.cryptographic_key_document(found), found.created_at

    return _public_json(request, "keys", entity_id, build)


# --- images ----------------------------------------------------------------------------------


@require_GET
@cache_control(public=True, max_age=3600)
def issuer_image(request: HttpRequest, entity_id: str) -> HttpResponse:
    return stored_image_response(_found(Issuer.objects.only("image"), entity_id).image)


@require_GET
@cache_control(public=True, max_age=3600)
def badge_class_image(request: HttpRequest, entity_id: str) -> HttpResponse:
    return stored_image_response(_found(BadgeClass.objects.only("image"), entity_id).image)


@require_GET
@cache_control(public=True, max_age=300)
def assertion_image(request: HttpRequest, entity_id: str) -> HttpResponse:
    """The badge image with this award baked in (baked on first request, then kept)."""
    found = _found(Assertion.objects.select_related("badge_class", "issuer"), entity_id)
    content, extension = baked_image(found)
    download = f"badge-{found.entity_id}" if request.GET.get("download") else None
    return image_response(content, extension, download)
