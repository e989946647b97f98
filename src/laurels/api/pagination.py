"""Keyset (cursor) pagination for /v2 lists: `?num=` items per page, and a `Link` header
with rel="next" carrying an opaque cursor. No COUNT(*), no OFFSET: page N costs what page 1
costs.

A cursor is ours but comes back from the client, so each part is read as strictly as any
other input (`cursor_row_id`, `cursor_instant`, `cursor_entity_id`): a forged one is a 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.http import urlencode
from ninja import Field, Schema

from laurels.api.inputs import BadInput
from laurels.core.untrusted import whole_number
from laurels.issuing.models import in_utc

# Badgr clamped `num` to 1..500 and, without it, returned every row; here a list without
# `num` gives the most a page may hold, and the `Link` header leads on (a documented
# divergence: every row at once does not survive a million awards).
MAX_PAGE = 500
DEFAULT_PAGE = MAX_PAGE
MAX_CURSOR_LENGTH = 500
# Few enough digits that the id fits the database's 64-bit integer (ASCII only:
# `core.untrusted.whole_number`).
ROW_ID_DIGITS = 18
ENTITY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadCursor(BadInput):
    default_message = "The cursor is not valid; start again from the first page."

    def __init__(self) -> None:
        super().__init__(field="cursor")


class PageQuery(Schema):
    """The query of every paginated list."""

    num: int | None = Field(
        None,
        description=f"items per page: 1 to {MAX_PAGE}, a number outside is taken as the "
        f"nearest of the two, as Badgr did (default {DEFAULT_PAGE})",
    )
    cursor: str | None = Field(
        None, max_length=MAX_CURSOR_LENGTH, description='from the `Link: rel="next"` header'
    )


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor() from None


def cursor_row_id(text: str) -> int:
    row_id = whole_number(text, max_digits=ROW_ID_DIGITS)
    if row_id is None:
        raise BadCursor()
    return row_id


def cursor_instant(text: str) -> datetime:
    """A row's time as a cursor carries it: any time in UTC (rows imported from elsewhere
    may be older than the dates Laurels itself accepts), but never one that overflows."""
    try:
        return in_utc(datetime.fromisoformat(text))
    except ValueError:
        raise BadCursor() from None


def cursor_entity_id(text: str) -> str:
    if not ENTITY_ID.fullmatch(text):
        raise BadCursor()
    return text


def cursor_parts(cursor: str, count: int) -> list[str]:
    """The `count` parts of a cursor made by `encode_cursor`."""
    parts = decode_cursor(cursor)
    if len(parts) != count:
        raise BadCursor()
    return parts


def page_size(num: int | None) -> int:
    """`num` clamped to 1..MAX_PAGE: Badgr's clients send what Badgr took."""
    if num is None:
        return DEFAULT_PAGE
    return min(max(num, 1), MAX_PAGE)


def link_next(request: HttpRequest, response: HttpResponse, cursor: str) -> None:
    query = request.GET.copy()
    query["cursor"] = cursor
    url = request.build_absolute_uri(f"{request.path}?{urlencode(query, doseq=True)}")
    response["Link"] = f'<{url}>; rel="next"'


def next_page_url(response: HttpResponse) -> str | None:
    """The URL `link_next` put in the `Link` header, if there is a next page."""
    link = response.get("Link", "")
    return link[1 : link.index(">")] if link.startswith("<") else None


def _page(rows: QuerySet, size: int, request, response, cursor_after) -> list:
    """Up to `size` rows; one more is read to know whether a next page exists, and if so
    the `Link` header points after the last row shown."""
    page = list(rows[: size + 1])
    if len(page) > size:
        page = page[:size]
        link_next(request, response, cursor_after(page[-1]))
    return page


def newest_first_page(
    rows: QuerySet,
    *,
    request: HttpRequest,
    response: HttpResponse,
    num: int | None,
    cursor: str | None,
) -> list:
    """A page of `rows` ordered by descending id, continuing after `cursor`."""
    size = page_size(num)
    if cursor:
        (last_id,) = cursor_parts(cursor, 1)
        rows = rows.filter(id__lt=cursor_row_id(last_id))
    return _page(rows, size, request, response, lambda last: encode_cursor(str(last.id)))


def changes_page(
    rows: QuerySet,
    *,
    request: HttpRequest,
    response: HttpResponse,
    num: int | None,
    cursor: str | None,
) -> list:
    """A page of `rows` ordered by (updated_at, id), continuing after `cursor`."""
    size = page_size(num)
    if cursor:
        updated_text, id_text = cursor_parts(cursor, 2)
        updated_at, last_id = cursor_instant(updated_text), cursor_row_id(id_text)
        rows = rows.filter(updated_at__gte=updated_at).exclude(
            updated_at=updated_at, id__lte=last_id
        )
    return _page(
        rows,
        size,
        request,
        response,
        lambda last: encode_cursor(last.updated_at.isoformat(), str(last.id)),
    )
