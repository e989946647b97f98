"""Keyset (cursor) pagination for /v2 lists: `?num=` items per page, and a `Link` header
with rel="next" carrying an opaque cursor. No COUNT(*), no OFFSET: page N costs what page 1
costs."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.http import urlencode

from laurels.core.errors import DomainError

DEFAULT_PAGE = 100
MAX_PAGE = 1000


class BadCursor(DomainError):
    default_message = "The cursor is not valid; start again from the first page."


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor() from None


def page_size(num: int | None) -> int:
    if num is None:
        return DEFAULT_PAGE
    if num < 1 or num > MAX_PAGE:
        raise DomainError(f"num must be between 1 and {MAX_PAGE}.")
    return num


def link_next(request: HttpRequest, response: HttpResponse, cursor: str) -> None:
    query = request.GET.copy()
    query["cursor"] = cursor
    url = request.build_absolute_uri(f"{request.path}?{urlencode(query, doseq=True)}")
    response["Link"] = f'<{url}>; rel="next"'


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
        (last_id,) = decode_cursor(cursor)[:1]
        if not last_id.isdigit():
            raise BadCursor()
        rows = rows.filter(id__lt=int(last_id))
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
        parts = decode_cursor(cursor)
        try:
            updated_at, last_id = datetime.fromisoformat(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise BadCursor() from None
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
