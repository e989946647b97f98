"""Public, unauthenticated Open Badges resources. So far: the stored images of issuers and
badge classes (an award's image is its badge class's image until baking lands)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from laurels.issuing.models import Assertion, BadgeClass, Issuer

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def _image_response(field_file) -> FileResponse:
    if not field_file:
        raise Http404("No image.")
    extension = field_file.name.rsplit(".", 1)[-1].lower()
    response = FileResponse(field_file.open("rb"), content_type=CONTENT_TYPES.get(extension))
    # SVGs were sanitized on upload; this keeps any script from running even so.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _public_image(rows, entity_id: str, image_of) -> FileResponse:
    found = rows.filter(entity_id=entity_id).first()
    if found is None:
        raise Http404("Not found.")
    return _image_response(image_of(found))


@require_GET
@cache_control(public=True, max_age=3600)
def issuer_image(request: HttpRequest, entity_id: str) -> FileResponse:
    return _public_image(Issuer.objects.only("image"), entity_id, lambda issuer: issuer.image)


@require_GET
@cache_control(public=True, max_age=3600)
def badge_class_image(request: HttpRequest, entity_id: str) -> FileResponse:
    return _public_image(BadgeClass.objects.only("image"), entity_id, lambda badge: badge.image)


@require_GET
@cache_control(public=True, max_age=3600)
def assertion_image(request: HttpRequest, entity_id: str) -> FileResponse:
    return _public_image(
        Assertion.objects.select_related("badge_class"),
        entity_id,
        lambda assertion: assertion.badge_class.image,
    )
