"""Badge and issuer images: PNG or SVG only, size-capped, checked and sanitized before
anything is stored.

PNGs are checked with Pillow, with a pixel cap read from the header before any
decoding (decompression bombs). SVGs are parsed with defusedxml (no DTDs, no entity
expansion) and rebuilt from an allow-list of static SVG: drawing elements and their
attributes, CSS limited to known properties whose values refer to nothing outside the
document, `href` only to `#fragments` (or an embedded PNG/JPEG/GIF/WebP). Everything else
goes: scripts, animations (they can write `href`), foreign namespaces such as XHTML (a
`<meta http-equiv="refresh">` navigates), CSS escapes (`\\75rl(` is `url(`). An allow-list,
because every deny-list of SVG so far has missed something. No library fits: nh3/ammonia
parse HTML, not XML namespaces; svg-hush (whose Python binding is a young package) keeps
its own allow-list only, which drops the Open Badges baking element that baked SVGs need.
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

from defusedxml.ElementTree import DefusedXMLParser
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from laurels.core.errors import DomainError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Where a baked SVG keeps its assertion (Open Badges Baking 2.0); cleaning keeps it.
OB_NAMESPACE = "http://openbadges.org"
DATA_URI = re.compile(
    r"^data:(?P<mime>[\w/+.-]+)(?:;[\w=.-]+)*?(?P<b64>;base64)?,(?P<data>.*)$", re.S
)


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


# --- SVG: an allow-list of static SVG ------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

serializer.register_namespace("", SVG_NS)
serializer.register_namespace("xlink", XLINK_NS)
serializer.register_namespace("openbadges", OB_NAMESPACE)

SVG_ELEMENTS = frozenset(
    {
        # structure and description
        "svg", "g", "defs", "symbol", "use", "switch", "a", "title", "desc", "metadata",
        "style",
        # shapes, text, paint servers, clipping, masking, markers, embedded rasters
        "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "textPath",
        "linearGradient", "radialGradient", "stop", "pattern",
        "clipPath", "mask", "marker", "image",
        # filters
        "filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite",
        "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight",
        "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
        "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset",
        "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
    }
)  # fmt: skip

# Attributes whose values are plain data (numbers, names, path data): nothing fetches them.
SVG_ATTRIBUTES = frozenset(
    {
        "id", "class", "lang", "systemLanguage", "role", "focusable",
        "aria-label", "aria-labelledby", "aria-describedby", "aria-hidden",
        "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr",
        "width", "height", "d", "points", "pathLength",
        "viewBox", "preserveAspectRatio", "version", "baseProfile",
        "dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset", "method",
        "spacing", "side",
        "offset", "gradientUnits", "gradientTransform", "spreadMethod",
        "patternUnits", "patternContentUnits", "patternTransform",
        "clipPathUnits", "maskUnits", "maskContentUnits",
        "markerWidth", "markerHeight", "markerUnits", "refX", "refY", "orient",
        "filterUnits", "primitiveUnits", "in", "in2", "result", "stdDeviation", "edgeMode",
        "mode", "operator", "k1", "k2", "k3", "k4", "type", "values", "tableValues",
        "slope", "intercept", "amplitude", "exponent", "radius", "kernelMatrix", "order",
        "divisor", "bias", "targetX", "targetY", "preserveAlpha", "surfaceScale",
        "diffuseConstant", "specularConstant", "specularExponent", "kernelUnitLength",
        "azimuth", "elevation", "pointsAtX", "pointsAtY", "pointsAtZ",
        "limitingConeAngle", "baseFrequency", "numOctaves", "seed", "stitchTiles", "scale",
        "xChannelSelector", "yChannelSelector",
    }
)  # fmt: skip

# CSS properties allowed in `style` and `<style>`, and as presentation attributes (whose
# values browsers parse as CSS too, escapes and all).
CSS_PROPERTIES = frozenset(
    {
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
        "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray",
        "stroke-dashoffset", "opacity", "color", "display", "visibility", "overflow",
        "clip-path", "clip-rule", "mask", "mask-type", "filter",
        "stop-color", "stop-opacity", "flood-color", "flood-opacity", "lighting-color",
        "solid-color", "solid-opacity", "marker", "marker-start", "marker-mid", "marker-end",
        "font", "font-family", "font-size", "font-size-adjust", "font-stretch", "font-style",
        "font-variant", "font-weight", "font-kerning", "font-feature-settings",
        "font-variation-settings", "font-variant-ligatures", "font-variant-caps",
        "font-variant-numeric", "font-variant-east-asian", "kerning",
        "letter-spacing", "word-spacing", "line-height", "text-anchor", "text-align",
        "text-align-last", "text-decoration", "text-decoration-line",
        "text-decoration-style", "text-decoration-color", "text-indent", "text-transform",
        "text-orientation", "text-rendering", "dominant-baseline", "alignment-baseline",
        "baseline-shift", "writing-mode", "direction", "unicode-bidi", "white-space",
        "inline-size", "shape-inside", "shape-padding", "shape-margin",
        "block-progression", "glyph-orientation-vertical", "glyph-orientation-horizontal",
        "paint-order", "vector-effect", "shape-rendering", "image-rendering",
        "color-rendering", "color-interpolation", "color-interpolation-filters",
        "mix-blend-mode", "isolation", "enable-background",
        "transform", "transform-origin", "transform-box",
    }
)  # fmt: skip
CSS_FUNCTIONS = frozenset(
    {
        "url", "rgb", "rgba", "hsl", "hsla", "matrix", "translate", "translatex",
        "translatey", "rotate", "scale", "scalex", "scaley", "skew", "skewx", "skewy",
    }
)  # fmt: skip

# What drawing programs add for themselves: dropped without counting as cleaning, so that
# strict mode does not refuse an ordinary Inkscape or Illustrator file.
EDITOR_NAMESPACES = (
    "http://www.inkscape.org/namespaces/inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://creativecommons.org/ns#",
    "http://purl.org/dc/elements/1.1/",
    "http://ns.adobe.com/",
    "http://www.bohemiancoding.com/sketch/ns",
    "http://www.serif.com/",
)
EDITOR_CSS_PREFIXES = ("-inkscape-",)
# Deeper nesting than any drawing has is refused: cleaning and writing recurse.
SVG_MAX_DEPTH = 100

# re.ASCII: browsers strip only ASCII white space around a URL; a no-break space before
# `#` would make it a relative path to another document.
SAME_DOCUMENT_HREF = re.compile(r"\s*#\S*\s*", re.ASCII)
RASTER_DATA_URI = re.compile(
    r"\s*data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.I | re.ASCII
)
# In CSS text: backslash escapes, at-rules, comments, markup, control characters; in a
# value, blocks and combinators too.
_UNSAFE_CSS = r"[\\@<\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|/\*|\*/"
UNSAFE_STYLESHEET = re.compile(_UNSAFE_CSS)
UNSAFE_CSS_VALUE = re.compile(_UNSAFE_CSS + r"|[{}>]")
CSS_FUNCTION = re.compile(r"([A-Za-z_-][\w-]*)\(")
SAME_DOCUMENT_CSS_URL = re.compile(r"""url\(\s*(["']?)#[\w.:-]+\1\s*\)""", re.I)
CSS_RULE = re.compile(r"\s*([^{}]+?)\s*\{([^{}]*)\}\s*")
CSS_SELECTOR = re.compile(r"[\w\s.#,:>+~*-]+")


def _namespace(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_editor_data(name: str) -> bool:
    return _namespace(name).startswith(EDITOR_NAMESPACES)


class _SvgTreeBuilder(serializer.TreeBuilder):
    """Counts processing instructions (`<?xml-stylesheet href=...?>`), which the tree
    leaves out, so that strict mode can refuse an SVG that carried one."""

    def __init__(self) -> None:
        super().__init__()
        self.instructions = 0

    def pi(self, target, data=None):
        self.instructions += 1


def _parsed_svg(data: bytes, field: str) -> tuple[serializer.Element, int]:
    builder = _SvgTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    try:
        parser.feed(data)
        root = parser.close()
    except Exception:  # defusedxml raises several types for hostile or broken XML
        raise _invalid(
            "The SVG image is not well-formed, or uses forbidden XML features.", field
        ) from None
    return root, builder.instructions


def _checked_svg(data: bytes, field: str, strict: bool = False) -> CheckedImage:
    root, instructions = _parsed_svg(data, field)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise _invalid(f'The SVG image must have <svg xmlns="{SVG_NS}"> at its root.', field)
    if _depth(root) > SVG_MAX_DEPTH:
        raise _invalid(f"The SVG image nests elements more than {SVG_MAX_DEPTH} deep.", field)
    removed = ["<?processing-instruction?>"] * instructions
    _clean_element(root, removed)
    if strict and removed:
        shown = ", ".join(sorted(set(removed))[:6])
        raise _invalid(f"The SVG image has what a badge image may not: {shown}.", field)
    cleaned = serializer.tostring(root, encoding="utf-8", xml_declaration=True)
    return CheckedImage(cleaned, "svg", "image/svg+xml")


def _depth(root: serializer.Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _clean_element(element: serializer.Element, removed: list[str]) -> None:
    """Clean `element` in place: its attributes, then its children (whole subtrees of what
    is not allowed go), noting in `removed` whatever went that was not editor data."""
    if element.tag == f"{{{OB_NAMESPACE}}}assertion":
        _clean_baked_assertion(element, removed)
        return
    _clean_attributes(element, removed)
    if element.tag == f"{{{SVG_NS}}}style":
        _clean_style_element(element, removed)
        return
    for child in list(element):
        if _is_allowed_element(child.tag):
            _clean_element(child, removed)
        else:
            _remove_child(element, child)
            if not _is_editor_data(child.tag):
                removed.append(f"<{_local_name(child.tag)}>")


def _is_allowed_element(tag: str) -> bool:
    if tag == f"{{{OB_NAMESPACE}}}assertion":
        return True
    return _namespace(tag) == SVG_NS and _local_name(tag) in SVG_ELEMENTS


def _clean_baked_assertion(element: serializer.Element, removed: list[str]) -> None:
    """`<openbadges:assertion verify="...">JSON</openbadges:assertion>`, as baking writes
    it (laurels.openbadges.baking), must survive for baked SVGs to unbake; an element of a
    foreign namespace draws nothing and runs nothing."""
    for name in list(element.attrib):
        if name != "verify":
            del element.attrib[name]
            removed.append(_local_name(name))
    for child in list(element):
        _remove_child(element, child)
        removed.append(f"<{_local_name(child.tag)}>")


def _remove_child(parent: serializer.Element, child: serializer.Element) -> None:
    """Remove `child` and what it contains, keeping the parent's text that follows it."""
    if child.tail:
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _clean_attributes(element: serializer.Element, removed: list[str]) -> None:
    for name, value in list(element.attrib.items()):
        if name == "style":
            cleaned = _clean_declarations(value, removed)
            if cleaned:
                element.set(name, cleaned)
            else:
                del element.attrib[name]
        elif _is_editor_data(name):
            del element.attrib[name]
        elif not _is_allowed_attribute(element.tag, name, value):
            del element.attrib[name]
            removed.append(_local_name(name))


def _is_allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("href", f"{{{XLINK_NS}}}href"):
        return _is_allowed_href(tag, value)
    if name in (f"{{{XML_NS}}}space", f"{{{XML_NS}}}lang"):
        return True
    if name in CSS_PROPERTIES:
        return _is_safe_css_value(value)
    return name in SVG_ATTRIBUTES or name.startswith("data-")


def _is_allowed_href(tag: str, value: str) -> bool:
    """Only to a `#fragment` of this document; `<image>` may also embed a raster image."""
    if SAME_DOCUMENT_HREF.fullmatch(value):
        return True
    return tag == f"{{{SVG_NS}}}image" and bool(RASTER_DATA_URI.fullmatch(value))


# --- SVG: CSS --------------------------------------------------------------------------------


def _is_safe_css_value(value: str) -> bool:
    """A CSS value that can only paint: no escapes, comments or at-rules, balanced quotes,
    known functions only, and `url()` only to a `#fragment` of this document."""
    if UNSAFE_CSS_VALUE.search(value) or value.count('"') % 2 or value.count("'") % 2:
        return False
    functions = {name.lower() for name in CSS_FUNCTION.findall(value)}
    if not functions <= CSS_FUNCTIONS:
        return False
    return "url(" not in SAME_DOCUMENT_CSS_URL.sub("", value).lower()


def _clean_declarations(text: str, removed: list[str]) -> str:
    """`property: value; ...` keeping the allowed properties with safe values."""
    kept = []
    for declaration in text.split(";"):
        if not declaration.strip():
            continue
        name, colon, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name.startswith(EDITOR_CSS_PREFIXES):
            continue
        if colon and name in CSS_PROPERTIES and value and _is_safe_css_value(value):
            kept.append(f"{name}:{value}")
        else:
            removed.append(f"style {name or declaration.strip()[:20]}")
    return ";".join(kept)


def _clean_style_element(element: serializer.Element, removed: list[str]) -> None:
    """A `<style>` sheet rebuilt from its plain rules, `selector { declarations }`, each
    cleaned; a sheet with anything else (at-rules, escapes, comments) is emptied."""
    for child in list(element):  # the text after each is part of the sheet too
        _remove_child(element, child)
        removed.append(f"<{_local_name(child.tag)}>")
    rules = _plain_rules(element.text or "")
    if rules is None:
        element.text = ""
        removed.append("<style> sheet")
        return
    kept = []
    for selector, declarations in rules:
        if CSS_SELECTOR.fullmatch(selector):
            kept.append(f"{selector}{{{_clean_declarations(declarations, removed)}}}")
        else:
            removed.append(f"<style> selector {selector[:20]}")
    element.text = "\n".join(kept)


def _plain_rules(sheet: str) -> list[tuple[str, str]] | None:
    """The `(selector, declarations)` of each rule of a sheet; None if it has anything else."""
    if UNSAFE_STYLESHEET.search(sheet):
        return None
    rules, position = [], 0
    while sheet[position:].strip():
        match = CSS_RULE.match(sheet, position)
        if match is None:
            return None
        rules.append((match[1], match[2]))
        position = match.end()
    return rules
