"""Public share pages: published collections, and images of imported badges."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from laurels.backpack import selectors
from laurels.backpack.models import ImportedBadge
from laurels.backpack.presenters import EXPAND, badge_json
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


@require_GET
def shared_collection(request: HttpRequest, share_hash: str) -> HttpResponse:
    try:
        collection = selectors.shared_collection(share_hash=share_hash)
    except NotFound:
        return render(request, "backpack/not_shared.html", status=404)
    items = _share_items(collection)
    if wants_json(request):
        return JsonResponse(
            {"name": collection.name, "description": collection.description, "badges": items},
            json_dumps_params={"indent": 2},
        )
    return render(
        request,
        "backpack/collection.html",
        {
            "collection": collection,
            "items": items,
            "owner": collection.user.get_full_name() or "A Laurels user",
        },
    )


@require_GET
def imported_image(request: HttpRequest, entity_id: str) -> HttpResponse:
    badge = ImportedBadge.objects.filter(entity_id=entity_id).only("image").first()
    if badge is None:
        return HttpResponse(status=404)
    return stored_image_response(badge.image)
