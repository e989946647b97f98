"""Entity ids: the shape every public object's id has."""

import base64
import re

from laurels.core import ids

ENTITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{21}")


def test_entity_ids_are_22_url_safe_characters_that_never_look_like_an_option():
    seen = {ids.new_entity_id() for _ in range(5000)}
    assert len(seen) == 5000
    assert all(ENTITY_ID.fullmatch(entity_id) for entity_id in seen)


def test_a_draw_beginning_with_dash_or_underscore_is_drawn_again(monkeypatch):
    # 0xfb and 0xff encode to a leading "-" and "_" in URL-safe base64.
    draws = iter([b"\xfb" + bytes(15), b"\xff" + bytes(15), b"\x00" * 16])
    monkeypatch.setattr(
        ids.secrets,
        "token_urlsafe",
        lambda nbytes: base64.urlsafe_b64encode(next(draws)).rstrip(b"=").decode(),
    )
    assert ids.new_entity_id() == "A" * 22
