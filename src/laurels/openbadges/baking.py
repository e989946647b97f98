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

from laurels.core.images import OB_NAMESPACE, PNG_SIGNATURE
from laurels.core.untrusted import InflateRefused, inflate

KEYWORD = b"openbadges"
TEXT_CHUNKS = (b"iTXt", b"zTXt", b"tEXt")
# Far more than any assertion URL or signed assertion needs; what is read stops there.
MAX_CARRIED_BYTES = 256 * 1024
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


def unbake_png(image: bytes, *, limit: int = MAX_CARRIED_BYTES) -> str:
    """The text of the first `openbadges` chunk: iTXt (UTF-8, maybe compressed), or zTXt
    and tEXt (Latin-1) from older bakers. Compressed text is inflated only up to `limit`
    bytes (a small chunk may inflate a thousandfold); a malformed chunk says so."""
    for _, _, kind, body in _png_chunks(image):
        if kind in TEXT_CHUNKS and body.startswith(KEYWORD + b"\0"):
            return _chunk_text(kind, body[len(KEYWORD) + 1 :], limit)
    raise NotBakeable("The PNG image carries no Open Badges assertion.")


def _chunk_text(kind: bytes, rest: bytes, limit: int) -> str:
    if kind == b"tEXt":
        text, encoding = rest, "latin-1"
    elif kind == b"zTXt":
        text, encoding = _inflated(rest[1:], rest[:1], limit), "latin-1"
    else:  # iTXt: compression flag, method, language tag, translated keyword, text
        try:
            flag = rest[0]
            language_end = rest.index(b"\0", 2)
            translated_end = rest.index(b"\0", language_end + 1)
        except (IndexError, ValueError):
            raise NotBakeable("The PNG image's Open Badges chunk is malformed.") from None
        text = rest[translated_end + 1 :]
        text = _inflated(text, rest[1:2], limit) if flag else text
        encoding = "utf-8"
    if len(text) > limit:
        raise NotBakeable(f"The assertion carried by the PNG image is over {limit} bytes.")
    try:
        return text.decode(encoding)
    except UnicodeDecodeError:
        raise NotBakeable("The assertion carried by the PNG image is not valid UTF-8.") from None


def _inflated(data: bytes, method: bytes, limit: int) -> bytes:
    if method != b"\0":  # 0, zlib's deflate, is the only method PNG defines
        raise NotBakeable("The PNG image's Open Badges chunk is malformed.")
    try:
        return inflate(data, limit=limit)
    except InflateRefused as error:
        raise NotBakeable(f"The assertion carried by the PNG image is refused: {error}.") from None


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


def unbake_svg(image: bytes, *, limit: int = MAX_CARRIED_BYTES) -> str:
    try:
        root = ElementTree.fromstring(image, forbid_dtd=True)
    except Exception:  # defusedxml raises several types for hostile or broken XML
        raise NotBakeable("The SVG image is not well-formed.") from None
    element = root.find(f"{{{OB_NAMESPACE}}}assertion")
    carried = element.get("verify") if element is not None else None
    if not carried:
        raise NotBakeable("The SVG image carries no Open Badges assertion.")
    if len(carried) > limit:
        raise NotBakeable(f"The assertion carried by the SVG image is over {limit} bytes.")
    return carried


def unbake(image: bytes, *, limit: int = MAX_CARRIED_BYTES) -> str:
    """The assertion URL or JWS carried by a baked PNG or SVG, at most `limit` bytes."""
    if image.startswith(PNG_SIGNATURE):
        return unbake_png(image, limit=limit)
    return unbake_svg(image, limit=limit)
