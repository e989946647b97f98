"""What every page of the issuer workspace shares (issuers, badge classes, awarding, the
awards list): finding the issuer or badge class a page is about with the API's permission,
the image upload field with its preview, and CSV cells safe to open in a spreadsheet.

A page answers a permission refusal as the API does, in page form: a non-member (or an
unknown id) gets a 404, so nobody learns which issuers exist; a member whose role is too
low, a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied as PageDenied
from django.core.exceptions import ValidationError
from django.http import Http404

from laurels.connect import issuing_selectors
from laurels.connect.permissions import Caller, IssuingAction, require_issuing
from laurels.core.errors import NotFound, PermissionDenied
from laurels.core.images import CheckedImage, ImageTooLarge, image_from_upload
from laurels.issuing.models import BadgeClass, Issuer

T = TypeVar("T")

# The image preview (web/static/web/image_preview.js) shows the chosen file by an object
# URL: pages with an ImageUploadField need `@policy_allows(**IMAGE_PREVIEW_SOURCES)`.
IMAGE_PREVIEW_SOURCES = {"img_src": ["blob:"]}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_page_errors(call: Callable[..., T], *args, **kwargs) -> T:
    """`call(...)`, with a non-member's NotFound as a 404 and a role too low as a 403."""
    try:
        return call(*args, **kwargs)
    except NotFound as error:
        raise Http404 from error
    except PermissionDenied as error:
        raise PageDenied(error.message) from error


def workspace_issuer(
    caller: Caller, issuer_id: str, action: IssuingAction, *, listing: bool = False
) -> Issuer:
    """The issuer a workspace page is about, if `caller` may take `action` on it (404 for
    a non-member or an unknown id, 403 for a role too low), with its staff prefetched.
    `listing`: a list of the issuer's things (its awards), which skips the staff query
    and, as the API's lists, lets a token bound to badge classes in
    (`issuing_selectors.issuer_for_list`)."""
    find = issuing_selectors.issuer_for_list if listing else issuing_selectors.issuer_for
    return as_page_errors(find, caller=caller, entity_id=issuer_id, action=action)


def workspace_badge_class(
    caller: Caller, issuer_id: str, badge_id: str, action: IssuingAction
) -> BadgeClass:
    """The badge class, only under its own issuer's address (else 404), as
    `workspace_issuer` answers refusals."""
    found = as_page_errors(
        issuing_selectors.badge_class_for, caller=caller, entity_id=badge_id, action=action
    )
    if found.issuer.entity_id != issuer_id:
        raise Http404
    return found


def may(
    caller: Caller, action: IssuingAction, issuer: Issuer, badge_class: BadgeClass | None = None
) -> bool:
    """Whether `connect.permissions` allows `action` (for which links a page shows)."""
    try:
        require_issuing(caller, action, issuer, badge_class)
    except (NotFound, PermissionDenied):
        return False
    return True


def csv_cell(value: object) -> str:
    """A value as a CSV cell no spreadsheet runs as a formula (None is empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class ImageUploadField(forms.FileField):
    """A PNG or SVG upload, cleaned to a `CheckedImage` by `core.images.image_from_upload`
    (the API's check: size cap, PNG pixel cap, SVG rebuilt from an allow-list, so a
    script in an SVG is dropped). Read no further than the cap. For any page that takes
    an image (badge classes, issuers): use with the `data-image-preview` contract of
    web/static/web/image_preview.js, and IMAGE_PREVIEW_SOURCES."""

    def __init__(self, *, preview: str, **kwargs) -> None:
        attrs = {"accept": "image/png,image/svg+xml", "data-image-preview": preview}
        kwargs.setdefault("widget", forms.FileInput(attrs=attrs))
        kwargs.setdefault(
            "help_text",
            f"A PNG or SVG, at most {settings.LAURELS_IMAGE_MAX_BYTES // 1024} KB; "
            "square ones look best.",
        )
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> CheckedImage | None:
        upload = super().clean(data, initial)
        if not upload:
            return None
        cap = settings.LAURELS_IMAGE_MAX_BYTES
        if upload.size is not None and upload.size > cap:
            raise ValidationError(f"The image is larger than {cap // 1024} KB.")
        try:
            return image_from_upload(upload.read(cap + 1))
        except ValidationError as error:
            raise ValidationError(_messages(error)) from None
        except ImageTooLarge as error:
            raise ValidationError(error.message) from None


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for problems in error.message_dict.values() for m in problems]
    return error.messages
