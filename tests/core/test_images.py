import base64

import pytest
from django.core.exceptions import ValidationError

from laurels.core.images import ImageTooLarge, image_from_data_uri, image_from_upload
from tests.factories import png_bytes, png_data_uri

SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="10" height="10" onload="alert(1)">
  <script>alert(2)</script>
  <foreignObject><div>hi</div></foreignObject>
  <rect width="10" height="10" fill="gold" onclick="alert(3)" style="fill: url(http://evil.example/x)"/>
  <image xlink:href="https://evil.example/track.png" width="1" height="1"/>
  <use href="#local"/>
  <circle id="local" r="2" fill="url(#grad)"/>
</svg>"""


def test_png_passes_unchanged():
    data = png_bytes()
    checked = image_from_upload(data)
    assert (checked.extension, checked.content_type, checked.content) == ("png", "image/png", data)


def test_png_from_data_uri():
    assert image_from_data_uri(png_data_uri()).extension == "png"


def test_svg_is_sanitized():
    checked = image_from_upload(SVG)
    text = checked.content.decode()
    assert checked.extension == "svg"
    for gone in ("script", "alert", "foreignObject", "onload", "onclick", "evil.example"):
        assert gone not in text
    assert 'href="#local"' in text  # internal references stay
    assert "url(#grad)" in text


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
        b'<?xml version="1.0"?><!DOCTYPE svg SYSTEM "http://evil.example/dtd"><svg/>',
        b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>",
        b"<?xml version='1.0'?><html/>",
    ],
)
def test_hostile_or_broken_svg_is_refused(hostile):
    with pytest.raises(ValidationError):
        image_from_upload(hostile)


@pytest.mark.parametrize("space", ["\u00a0", "\u2028", "\u0085"])
def test_a_reference_behind_unicode_space_is_not_same_document(space):
    """Browsers strip only ASCII spaces from a URL: `\u00a0#x` is a relative path to
    another document, so it is dropped (and refused in strict mode)."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        f'<use href="{space}#x"/><use xlink:href="{space}#y"/></svg>'
    ).encode()
    cleaned = image_from_upload(svg).content.decode()
    assert "#x" not in cleaned and "#y" not in cleaned
    with pytest.raises(ValidationError):
        image_from_upload(svg, strict=True)


@pytest.mark.parametrize("data", [b"GIF89a....", b"\xff\xd8\xff\xe0 jpeg", b"plain text"])
def test_other_formats_are_refused(data):
    with pytest.raises(ValidationError, match="PNG or an SVG"):
        image_from_upload(data)


def test_corrupt_png_is_refused():
    with pytest.raises(ValidationError, match="corrupt"):
        image_from_upload(png_bytes()[:40])


def test_pixel_cap(settings):
    settings.LAURELS_IMAGE_MAX_PIXELS = 100 * 100
    with pytest.raises(ImageTooLarge, match="pixels"):
        image_from_upload(png_bytes((200, 200)))


def test_byte_cap(settings):
    settings.LAURELS_IMAGE_MAX_BYTES = 1024
    with pytest.raises(ImageTooLarge):
        image_from_upload(png_bytes((300, 300), "red") + b"\0" * 2048)
    with pytest.raises(ImageTooLarge):
        image_from_data_uri("data:image/png;base64," + "A" * 4000)


@pytest.mark.parametrize(
    "uri",
    ["https://example.org/badge.png", "data:image/gif;base64,R0lGOD", "data:image/png;base64,@@@"],
)
def test_bad_data_uris(uri):
    with pytest.raises(ValidationError):
        image_from_data_uri(uri)


def test_a_png_sent_as_svg_type_is_judged_by_content():
    uri = "data:image/svg+xml;base64," + base64.b64encode(png_bytes()).decode()
    assert image_from_data_uri(uri).extension == "png"
