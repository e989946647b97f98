"""Baking: putting an assertion (its URL, or a signed JWS) inside the badge image, and
reading it back (the backpack's import of baked images uses `unbake`).

PNG: an `iTXt` chunk with the keyword `openbadges`, inserted before `IEND`, leaving every
other byte of the image as it was. SVG: an `<openbadges:assertion verify="...">` element
as the first child of `<svg>`. Both as the Open Badges 2.0 baking specification describes.
"""

from __future__ import annotations

import struct
import zlib
from xml.etree import ElementTree as serializer

from defusedxml import ElementTree

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"openbadges"
OB_NAMESPACE = "http://openbadges.org"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"

serializer.register_namespace("", SVG_NAMESPACE)
serializer.register_namespace("openbadges", OB_NAMESPACE)
serializer.register_namespace("xlink", "http://www.w3.org/1999/xlink")


class NotBakeable(ValueError):
    """The image cannot carry or does not carry an assertion."""


def _png_chunks(data: bytes):
    if not data.startswith(PNG_SIGNATURE):
        raise NotBakeable("Not a PNG image.")
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(data):
            raise NotBakeable("The PNG image is truncated.")
        yield offset, end, kind, data[offset + 8 : offset + 8 + length]
        offset = end


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def bake_png(image: bytes, content: str) -> bytes:
    """The PNG with `content` in an uncompressed iTXt `openbadges` chunk (any earlier
    `openbadges` chunk is replaced)."""
    kept, iend_at = [], None
    for start, end, kind, body in _png_chunks(image):
        if kind in (b"iTXt", b"tEXt") and body.split(b"\0", 1)[0] == KEYWORD:
            continue
        if kind == b"IEND":
            iend_at = start
            break
        kept.append(image[start:end])
    if iend_at is None:
        raise NotBakeable("The PNG image has no end chunk.")
    # keyword, null, compression flag 0, method 0, empty language tag, empty translated keyword
    body = KEYWORD + b"\0\0\0\0\0" + content.encode("utf-8")
    return PNG_SIGNATURE + b"".join(kept) + _png_chunk(b"iTXt", body) + image[iend_at:]


def unbake_png(image: bytes) -> str:
    for _, _, kind, body in _png_chunks(image):
        if kind == b"iTXt" and body.startswith(KEYWORD + b"\0"):
            rest = body[len(KEYWORD) + 1 :]
            compressed, _method = rest[0], rest[1]
            language_end = rest.index(b"\0", 2)
            translated_end = rest.index(b"\0", language_end + 1)
            text = rest[translated_end + 1 :]
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
        if kind == b"tEXt" and body.startswith(KEYWORD + b"\0"):  # older bakers
            return body[len(KEYWORD) + 1 :].decode("latin-1")
    raise NotBakeable("The PNG image carries no Open Badges assertion.")


def bake_svg(image: bytes, content: str, assertion_json: str | None = None) -> bytes:
    """The SVG with `<openbadges:assertion verify="content">` first inside `<svg>`; for a
    hosted assertion its JSON goes in the element too, as the specification suggests."""
    root = ElementTree.fromstring(image, forbid_dtd=True)
    for old in root.findall(f"{{{OB_NAMESPACE}}}assertion"):
        root.remove(old)
    element = serializer.Element(f"{{{OB_NAMESPACE}}}assertion", {"verify": content})
    if assertion_json:
        element.text = assertion_json
    root.insert(0, element)
    return serializer.tostring(root, encoding="utf-8", xml_declaration=True)


def unbake_svg(image: bytes) -> str:
    try:
        root = ElementTree.fromstring(image, forbid_dtd=True)
    except Exception:  # defusedxml raises several types for hostile or broken XML
        raise NotBakeable("The SVG image is not well-formed.") from None
    element = root.find(f"{{{OB_NAMESPACE}}}assertion")
    if element is None or not element.get("verify"):
        raise NotBakeable("The SVG image carries no Open Badges assertion.")
    return element.get("verify")


def unbake(image: bytes) -> str:
    """The assertion URL or JWS carried by a baked PNG or SVG."""
    if image.startswith(PNG_SIGNATURE):
        return unbake_png(image)
    return unbake_svg(image)
