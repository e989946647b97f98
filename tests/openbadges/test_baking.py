import io
import json
import struct
import tracemalloc
import zlib

import pytest
from PIL import Image

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


def _with_chunk(kind: bytes, body: bytes) -> bytes:
    image = png_bytes()
    crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return image[:-12] + struct.pack(">I", len(body)) + kind + body + crc + image[-12:]


def test_compressed_text_chunks_are_read():
    itxt = _with_chunk(b"iTXt", b"openbadges\0\x01\x00en\0\0" + zlib.compress(URL.encode()))
    ztxt = _with_chunk(b"zTXt", b"openbadges\0\x00" + zlib.compress(URL.encode()))
    assert baking.unbake(itxt) == baking.unbake(ztxt) == URL


def test_a_text_chunk_bomb_is_refused_without_inflating_it():
    packer = zlib.compressobj(9)
    text = b"".join(packer.compress(b"h" * 1024 * 1024) for _ in range(64)) + packer.flush()
    bomb = _with_chunk(b"iTXt", b"openbadges\0\x01\x00\0\0" + text)
    tracemalloc.start()
    try:
        with pytest.raises(baking.NotBakeable, match="inflates to more than 1024 bytes"):
            baking.unbake(bomb, limit=1024)
        assert tracemalloc.get_traced_memory()[1] < 8 * 1024 * 1024
    finally:
        tracemalloc.stop()


def test_carried_text_over_the_limit_is_refused():
    long_url = URL + "/" + "a" * 5000
    with pytest.raises(baking.NotBakeable, match="over 1000 bytes"):
        baking.unbake(baking.bake_png(png_bytes(), long_url), limit=1000)
    with pytest.raises(baking.NotBakeable, match="over 1000 bytes"):
        baking.unbake(baking.bake_svg(SVG, long_url), limit=1000)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (b"iTXt", b"openbadges\0"),
        (b"iTXt", b"openbadges\0\0\0"),
        (b"iTXt", b"openbadges\0\x01\x00\0\0not zlib"),
        (b"iTXt", b"openbadges\0\x01\x07\0\0x"),
        (b"iTXt", b"openbadges\0\0\0\0\0\xff\xfe"),
        (b"zTXt", b"openbadges\0"),
        (b"zTXt", b"openbadges\0\0garbage"),
    ],
)
def test_malformed_text_chunks_say_so(kind, body):
    with pytest.raises(baking.NotBakeable):
        baking.unbake(_with_chunk(kind, body))
