"""Badge and issuer images: PNG or SVG only, size-capped, checked and sanitized before
anything is stored.

PNGs are checked with Pillow, with a pixel cap read from the header before any
decoding (decompression bombs). SVGs are parsed with defusedxml (no DTDs, no entity
expansion) and rewritten without scripts, event handlers, foreign objects or references
to anything outside the document.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# Parsing goes through defusedxml; the standard library only writes the cleaned tree back.
from xml.etree import ElementTree as serializer

from defusedxml import ElementTree
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from laurels.core.errors import DomainError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "http://www.w3.org/2000/svg"
DATA_URI = re.compile(
    r"^data:(?P<mime>[\w/+.-]+)(?:;[\w=.-]+)*?(?P<b64>;base64)?,(?P<data>.*)$", re.S
)
FORBIDDEN_SVG_ELEMENTS = {"script", "foreignObject", "iframe", "object", "embed", "handler"}
LINK_ATTRIBUTES = {"href", "{http://www.w3.org/1999/xlink}href", "src"}
EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.I)


serializer.register_namespace("", SVG_NS)
serializer.register_namespace("xlink", "http://www.w3.org/1999/xlink")


class ImageTooLarge(DomainError):
    status = 413


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    extension: str  # "png" or "svg"
    content_type: str


def _invalid(message: str, field: str) -> ValidationError:
    return ValidationError({field: [message]})


def image_from_upload(data: bytes, *, field: str = "image", strict: bool = False) -> CheckedImage:
    """A checked PNG or SVG. `strict` refuses an SVG that needed cleaning instead of
    cleaning it (for images fetched from elsewhere, which nobody here vouches for)."""
    cap = settings.LAURELS_IMAGE_MAX_BYTES
    if len(data) > cap:
        raise ImageTooLarge(f"The {field} is larger than {cap // 1024} KB.")
    if data.startswith(PNG_SIGNATURE):
        return _checked_png(data, field)
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")):
        return _checked_svg(data, field, strict)
    raise _invalid("The image must be a PNG or an SVG.", field)


def data_uri_bytes(value: str, *, field: str = "image") -> bytes:
    """The bytes of a PNG or SVG data URI, refused over the byte cap before decoding."""
    match = DATA_URI.match(value.strip())
    if not match:
        raise _invalid("Send the image as a data URI (data:image/png;base64,...).", field)
    if match["mime"] not in {"image/png", "image/svg+xml"}:
        raise _invalid("The image must be a PNG or an SVG.", field)
    payload = match["data"]
    if len(payload) > settings.LAURELS_IMAGE_MAX_BYTES * 4 // 3 + 4:
        raise ImageTooLarge(
            f"The {field} is larger than {settings.LAURELS_IMAGE_MAX_BYTES // 1024} KB."
        )
    if not match["b64"]:
        return unquote_to_bytes(payload)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The image's base64 data is corrupt.", field) from None


def image_from_data_uri(value: str, *, field: str = "image", strict: bool = False) -> CheckedImage:
    """`data:image/png;base64,...` or `data:image/svg+xml;...` as sent by Badgr clients."""
    return image_from_upload(data_uri_bytes(value, field=field), field=field, strict=strict)


def _checked_png(data: bytes, field: str) -> CheckedImage:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise _invalid("The image must be a PNG or an SVG.", field)
            width, height = image.size
            if width * height > settings.LAURELS_IMAGE_MAX_PIXELS:
                raise ImageTooLarge(
                    f"The {field} is {width}x{height} pixels; at most "
                    f"{settings.LAURELS_IMAGE_MAX_PIXELS} pixels are accepted."
                )
            image.verify()
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            f"The {field} has far too many pixels (a decompression bomb)."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise _invalid("The PNG image is corrupt.", field) from None
    return CheckedImage(data, "png", "image/png")


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _checked_svg(data: bytes, field: str, strict: bool = False) -> CheckedImage:
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except Exception:  # defusedxml raises several types for hostile or broken XML
        raise _invalid(
            "The SVG image is not well-formed, or uses forbidden XML features.", field
        ) from None
    if _local_name(root.tag) != "svg":
        raise _invalid("The SVG image must have <svg> at its root.", field)
    removed = _sanitize(root)
    if strict and removed:
        raise _invalid(
            "The SVG image contains scripts, event handlers or references outside itself.",
            field,
        )
    cleaned = serializer.tostring(root, encoding="utf-8", xml_declaration=True)
    return CheckedImage(cleaned, "svg", "image/svg+xml")


def _sanitize(element) -> int:
    """Remove, in place, everything that could run code or reach outside the image; the
    number of things removed."""
    removed = 0
    for child in list(element):
        if _local_name(child.tag) in FORBIDDEN_SVG_ELEMENTS:
            element.remove(child)
            removed += 1
            continue
        removed += _sanitize(child)
    for name in list(element.attrib):
        value = element.attrib[name]
        local = _local_name(name).lower()
        if (
            local.startswith("on")
            or (name in LINK_ATTRIBUTES and not value.strip().startswith(("#", "data:image/")))
            or EXTERNAL_URL.search(value)
            or "@import" in value.lower()
        ):
            del element.attrib[name]
            removed += 1
    if (
        _local_name(element.tag) == "style"
        and element.text
        and (EXTERNAL_URL.search(element.text) or "@import" in element.text.lower())
    ):
        element.text = ""
        removed += 1
    return removed
