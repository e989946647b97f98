"""Helpers for values that came from elsewhere (remote documents, uploaded images).

Whoever wrote such a value may be an attacker: a URL may name any scheme, a compressed
chunk may inflate a thousandfold, a string may be megabytes long. These helpers bound
each of those once, for every caller.
"""

from __future__ import annotations

import zlib
from urllib.parse import SplitResult, urlsplit

import idna

# Longest URL taken from elsewhere (browsers and servers commonly stop near 2,000).
MAX_URL_LENGTH = 2000
# Characters of a remote value shown in a message to people: enough to recognise it.
SHOWN_CHARS = 200
# zlib window bits that accept a zlib or a gzip header.
ZLIB_OR_GZIP = 32 + zlib.MAX_WBITS


class InflateRefused(ValueError):
    """Compressed data that is corrupt, or that inflates past the limit."""


def clipped(value: object, limit: int = SHOWN_CHARS) -> str:
    """`value` as text for a message, cut to `limit` characters: a remote value is never
    echoed whole (it may be megabytes long)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """`text` as a non-negative integer when it is 1 to `max_digits` ASCII digits, else
    None. `str.isdigit()` and `int()` also take other scripts' digits ("²" passes the
    first and fails the second), so a query or header value is checked here instead."""
    if 1 <= len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def split_http_url(url: str, *, max_length: int = MAX_URL_LENGTH) -> SplitResult:
    """The parts of an absolute http or https URL with a host, a valid port and no
    credentials; ValueError saying what is wrong otherwise. Only such URLs are fetched,
    kept or shown as links (no `javascript:`, `data:` or `file:`)."""
    if not isinstance(url, str):
        raise ValueError("it is not text")
    if len(url) > max_length:
        raise ValueError(f"it is longer than {max_length} characters")
    if any(ord(character) <= 0x20 or ord(character) == 0x7F for character in url):
        raise ValueError("it contains spaces or control characters")
    if "\\" in url:
        # Browsers read a backslash as a slash (https://evil.example\.good.example/ goes
        # to evil.example); Python's parser does not, so the two would disagree on the host.
        raise ValueError("it contains a backslash")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (reading it raises ValueError for a port out of range)
    except ValueError:
        raise ValueError("it is malformed") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError("only http and https URLs are accepted")
    if not parts.hostname:
        raise ValueError("it has no host")
    try:
        ascii_host(parts.hostname)
    except UnicodeError:
        raise ValueError("its host name is not a valid international name") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("it has credentials in it")
    return parts


def ascii_host(hostname: str) -> str:
    """`hostname` as it goes on the wire: an international name encoded as browsers
    encode it (IDNA 2008 with UTS 46; Python's own codec is IDNA 2003, which reads some
    names differently), anything ASCII (names, IP literals) as it is. UnicodeError (of
    which idna.IDNAError is one) for a name that cannot be encoded."""
    if hostname.isascii():
        return hostname
    return idna.encode(hostname, uts46=True).decode("ascii")


def shown_url(value: object) -> str | None:
    """`value` if it is an http or https URL fit to show as a link, else None: for values
    kept before they were checked on the way in."""
    try:
        split_http_url(value)
    except ValueError:
        return None
    return value


def inflate(data: bytes, *, limit: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    """`data` decompressed, never holding more than `limit` + 1 bytes of output: a small
    input that would inflate past the limit (a decompression bomb) is refused while it
    is still small. Trailing bytes after the compressed stream count as corrupt."""
    decompressor = zlib.decompressobj(wbits)
    try:
        inflated = decompressor.decompress(data, limit + 1)
    except zlib.error:
        raise InflateRefused("the compressed data is corrupt") from None
    if len(inflated) > limit:
        raise InflateRefused(f"it inflates to more than {limit} bytes")
    if not decompressor.eof or decompressor.unused_data:
        raise InflateRefused("the compressed data is cut short or followed by junk")
    return inflated
