"""Public, unauthenticated Open Badges resources: JSON-LD for machines, pages for people.

`/public/{issuers,badges,assertions}/{id}` answer JSON-LD unless the Accept header prefers
text/html (browsers; `core.responses.accepts_json`): a missing Accept or `*/*` gets JSON,
as do `?format=json` and an `{id}.json` path. As in Badgr, `?v=1_1` gives the Open Badges
1.1 form, and `?expand=badge&expand=badge.issuer` (assertions) or `?expand=issuer` (badge
classes) embeds what is otherwise linked (`document_variant`). JSON answers are cached
under the versions of the rows they show (`services.document_versions`), which every
change moves on in its own transaction, and under their variant; they carry ETag and
Last-Modified, and honour conditional requests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from laurels.core.responses import JSON_LD, image_response, stored_image_response, wants_json
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.openbadges import documents, pages
from laurels.openbadges.kept import assertion_parts, embedded_document, entry_made
from laurels.openbadges.models import IssuerKey
from laurels.openbadges.services import (
    PUBLIC_CACHE_SECONDS,
    baked_image,
    document_versions,
    newest_signing_key,
    public_cache_key,
)

# What an entityId can look like (`laurels.core.ids`); anything else names no document.
ENTITY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
JSON_SUFFIX = ".json"
# What `?expand=` may embed, by kind of document (Badgr's names).
EXPANSIONS = {"assertions": frozenset({"badge", "badge.issuer"}), "badges": frozenset({"issuer"})}
# The most badge classes `/public/issuers/{id}/badges` lists.
ISSUER_BADGES_LIMIT = 500


def document_variant(kind: str, query_string: str) -> tuple[str, str, frozenset[str]]:
    """What a query asks of a hosted document: the kind whose versions it is kept under
    (an embedded document's versions are read too), its variant's name in the cache
    ("" for the plain 2.0 document) and what it embeds. Unknown values are ignored, as
    Badgr ignored them. Shared by the views and the fast path."""
    if not query_string:
        return kind, "", frozenset()
    params = parse_qs(query_string[:2000])  # bounded by length, not by fields: never raises
    version = "1_1" if "1_1" in params.get("v", []) else ""
    expand = frozenset(params.get("expand", [])) & EXPANSIONS.get(kind, frozenset())
    if "badge.issuer" in expand:
        expand |= {"badge"}
    versions_kind = f"{kind}+{'badge' if kind == 'assertions' else 'issuer'}" if expand else kind
    variant = ":".join([version, *sorted(expand)]) if version or expand else ""
    return versions_kind, variant, expand


def _requested(request: HttpRequest, entity_id: str) -> tuple[str, bool]:
    """The entity id and whether JSON was asked for (`{id}.json` always is)."""
    if entity_id.endswith(JSON_SUFFIX):
        return entity_id.removesuffix(JSON_SUFFIX), True
    return entity_id, wants_json(request)


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


def public_document_entry(kind: str, entity_id: str, build, query_string: str = "") -> dict:
    """The cached entry of a public document, built and cached on a miss; `build` is
    given what to embed (`document_variant`), and `?v=1_1` turns what it makes into the
    Open Badges 1.1 form.

    Its versions are read first, and the entry is kept under them: a change committed
    meanwhile has moved them on, so an entry made from rows read before it is never
    found again (a verifier that misses as an award is revoked cannot put "valid" back).
    """
    versions_kind, variant, expand = document_variant(kind, query_string)
    versions = (
        document_versions(versions_kind, entity_id) if ENTITY_ID.fullmatch(entity_id) else None
    )
    if versions is None:
        raise Http404("Not found.")
    key = public_cache_key(kind, entity_id, versions, variant)
    entry = cache.get(key)
    if entry is None:
        entry = entry_made(*build(expand), variant)
        cache.set(key, entry, PUBLIC_CACHE_SECONDS)
    return entry


def _public_json(
    request: HttpRequest,
    kind: str,
    entity_id: str,
    build: Callable[[frozenset[str]], tuple[int, dict, datetime]],
) -> HttpResponse:
    """A cached JSON-LD answer with validators; `build` runs on a cache miss."""
    entry = public_document_entry(kind, entity_id, build, request.META.get("QUERY_STRING", ""))
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
@vary_on_headers("Accept")
def issuer(request: HttpRequest, entity_id: str) -> HttpResponse:
    entity_id, as_json = _requested(request, entity_id)

    def build(expand):
        found = _found(Issuer.objects.all(), entity_id)
        return 200, documents.issuer_profile(found, newest_signing_key(found)), found.updated_at

    if as_json:
        return _public_json(request, "issuers", entity_id, build)
    return render(
        request,
        "openbadges/issuer.html",
        pages.issuer_page(_found(Issuer.objects.all(), entity_id)),
    )


@require_GET
@vary_on_headers("Accept")
def badge_class(request: HttpRequest, entity_id: str) -> HttpResponse:
    rows = BadgeClass.objects.select_related("issuer")
    entity_id, as_json = _requested(request, entity_id)

    def build(expand):
        found = _found(rows, entity_id)
        document = documents.badge_class_document(found)
        modified = found.updated_at
        if "issuer" in expand:
            issuer = found.issuer
            document["issuer"] = embedded_document(
                documents.issuer_profile(issuer, newest_signing_key(issuer))
            )
            modified = max(modified, issuer.updated_at)
        return 200, document, modified

    if as_json:
        return _public_json(request, "badges", entity_id, build)
    return render(
        request, "openbadges/badge_class.html", pages.badge_class_page(_found(rows, entity_id))
    )


@require_GET
def badge_class_criteria(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Badgr's criteria link: to the criteria URL the issuer gave, else the badge class's
    page (which shows its criteria narrative)."""
    found = _found(BadgeClass.objects.select_related("issuer"), entity_id)
    own = documents.badge_class_criteria_url(found)  # never redirect to itself
    if found.criteria_url and found.criteria_url.rstrip("/") != own:
        return HttpResponseRedirect(found.criteria_url)
    return render(request, "openbadges/badge_class.html", pages.badge_class_page(found))


@require_GET
def issuer_badges(request: HttpRequest, entity_id: str) -> HttpResponse:
    """The issuer's badge classes as Open Badges documents, oldest first (at most
    ISSUER_BADGES_LIMIT: Badgr listed them all)."""
    found = _found(Issuer.objects.all(), entity_id)
    rows = BadgeClass.objects.filter(issuer=found).select_related("issuer").order_by("id")
    listed = [documents.badge_class_document(b) for b in rows[:ISSUER_BADGES_LIMIT]]
    response = JsonResponse(listed, safe=False, json_dumps_params={"indent": 2})
    response["Content-Type"] = JSON_LD
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@vary_on_headers("Accept")
def assertion(request: HttpRequest, entity_id: str) -> HttpResponse:
    rows = Assertion.objects.select_related("badge_class", "issuer")
    entity_id, as_json = _requested(request, entity_id)

    def build(expand):
        return assertion_parts(_found(rows, entity_id), expand)

    if as_json:
        return _public_json(request, "assertions", entity_id, build)
    return render(
        request, "openbadges/assertion.html", pages.assertion_page(_found(rows, entity_id))
    )


@require_GET
def revocations(request: HttpRequest, entity_id: str) -> HttpResponse:
    def build(expand):
        found = _found(Issuer.objects.all(), entity_id)
        revoked = list(
            found.assertions.filter(revoked=True).only(
                "entity_id", "hosted_origin", "revocation_reason"
            )
        )
        return 200, documents.revocation_list_document(found, revoked), timezone.now()

    return _public_json(request, "revocations", entity_id, build)


@require_GET
def key(request: HttpRequest, entity_id: str) -> HttpResponse:
    def build(expand):
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
