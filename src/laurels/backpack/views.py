"""Public share pages: published collections, and images of imported badges."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from laurels.backpack import selectors
from laurels.backpack.models import Collection, ImportedBadge
from laurels.backpack.presenters import EXPAND, badge_json, share_link
from laurels.core.errors import NotFound
from laurels.core.responses import stored_image_response, wants_json


def _share_items(collection) -> list[dict]:
    """The collection's badges, without their recipients: a share page is public."""
    items = [
        badge_json(entry.assertion or entry.imported, EXPAND) for entry in collection.entries.all()
    ]
    for item in items:
        del item["recipient"]
    return items


def share_url(collection: Collection) -> str:
    """A published collection's public address, the `shareUrl` /v2 gives it."""
    return f"{settings.LAURELS_BASE_URL}/share/collections/{collection.share_hash}"


def share_context(collection: Collection) -> dict:
    """What a public collection page (and its embeddable form) shows: its badges without
    recipients, its owner, its address and plain share links (no third-party scripts)."""
    url = share_url(collection)
    items = _share_items(collection)
    email = urlencode({"subject": collection.name, "body": url}, quote_via=quote)
    return {
        "collection": collection,
        "items": items,
        "owner": collection.user.get_full_name() or "A Laurels user",
        "share_url": url,
        "share_image": items[0]["image"] if items else "",
        "share_links": [
            ("Share on LinkedIn", share_link("linkedin", url, collection.name)),
            ("Share on X (Twitter)", share_link("twitter", url, collection.name)),
            ("Share on Facebook", share_link("facebook", url, collection.name)),
            ("Share by email", f"mailto:?{email}"),
        ],
    }


@require_GET
def shared_collection(request: HttpRequest, share_hash: str) -> HttpResponse:
    try:
        collection = selectors.shared_collection(share_hash=share_hash)
    except NotFound:
        return render(request, "backpack/not_shared.html", status=404)
    if wants_json(request):
        items = _share_items(collection)
        return JsonResponse(
            {"name": collection.name, "description": collection.description, "badges": items},
            json_dumps_params={"indent": 2},
        )
    return render(request, "backpack/collection.html", share_context(collection))


@require_GET
def imported_image(request: HttpRequest, entity_id: str) -> HttpResponse:
    badge = ImportedBadge.objects.filter(entity_id=entity_id).only("image").first()
    if badge is None:
        return HttpResponse(status=404)
    return stored_image_response(badge.image)
