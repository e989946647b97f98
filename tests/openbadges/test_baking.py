import json

import pytest

from laurels.openbadges import baking
from tests.factories import png_bytes

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
    b'<rect width="4" height="4"/></svg>'
)
URL = "https://badges.example.org/public/assertions/abc"


def test_png_round_trip_keeps_the_image():
    image = png_bytes()
    baked = baking.bake_png(image, URL)
    assert baking.unbake(baked) == URL
    # Every original chunk is still there, in order; only the iTXt chunk was added.
    assert baked.startswith(image[:-12]) and baked.endswith(image[-12:])
    import io

    from PIL import Image

    with Image.open(io.BytesIO(baked)) as reopened:
        reopened.verify()


def test_png_rebaking_replaces_the_assertion():
    twice = baking.bake_png(baking.bake_png(png_bytes(), URL), URL + "2")
    assert baking.unbake(twice) == URL + "2"
    assert twice.count(b"openbadges") == 1


def test_png_with_a_long_jws():
    jws = "eyJhbGciOiJSUzI1NiJ9." + "a" * 5000 + ".sig"
    assert baking.unbake(baking.bake_png(png_bytes(), jws)) == jws


def test_svg_round_trip():
    baked = baking.bake_svg(SVG, URL, json.dumps({"id": URL}))
    assert baking.unbake(baked) == URL
    assert b"<rect" in baked
    assert baking.unbake(baking.bake_svg(baked, URL + "2")) == URL + "2"


@pytest.mark.parametrize(
    "image", [png_bytes(), SVG, b"\x89PNG\r\n\x1a\nbroken", b"<svg/>", b"junk"]
)
def test_unbaked_or_broken_images_say_so(image):
    with pytest.raises(baking.NotBakeable):
        baking.unbake(image)
