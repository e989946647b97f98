"""Reads about connected apps that depend on who is asking."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from laurels.accounts.models import User
from laurels.connect.models import AppConsent, Application
from laurels.core.sql import Stamp, fetch_one_row


def user_connected_apps(*, viewer: User) -> QuerySet[AppConsent]:
    """The apps the viewer has approved, newest first, with each app loaded (one query)."""
    return (
        AppConsent.objects.filter(user=viewer).select_related("application").order_by("-created_at")
    )


@dataclass(frozen=True)
class BearerTokenState:
    """What decides whether an access token is still accepted, read in one query.

    `verdict` holds everything besides the expiry that the toolkit's `verify_request`
    and our permissions check (the app is enabled and approved, the user is active), so
    an answer kept for this token is reused only while all of it holds. `stamp` holds
    the values of the expressions the caller asked to read along (see `Stamp`).
    """

    token_id: int
    expires: datetime
    verdict: tuple
    stamp: tuple = ()


def bearer_token_state(token: str, stamp: Stamp | None = None) -> BearerTokenState | None:
    """The state of the access token `token`, or None when there is no such token.

    One indexed lookup by checksum, as the toolkit does, without building model objects;
    `stamp` adds expressions about the token's user (`u.id`) to that same query. The
    kept list answers (`laurels.api.answer_cache`) call it on every request.
    """
    stamp = stamp or Stamp(expressions=())
    sql = _token_state_sql(stamp.expressions)
    params = {**stamp.params, "checksum": hashlib.sha256(token.encode()).hexdigest()}
    row = fetch_one_row(sql, params)
    if row is None:
        return None
    token_id, expires, enabled, review, user_active, *values = row
    return BearerTokenState(
        token_id=token_id,
        # A naive value is SQLite's UTC; PostgreSQL hands back an aware one.
        expires=expires if timezone.is_aware(expires) else timezone.make_aware(expires, UTC),
        verdict=(bool(enabled), review, bool(user_active)),
        stamp=tuple(values),
    )


@functools.lru_cache(maxsize=16)
def _token_state_sql(expressions: tuple[str, ...]) -> str:
    extra = "".join(f", ({expression})" for expression in expressions)
    return (
        f"SELECT t.id, t.expires, a.enabled, a.review, u.is_active{extra} "  # noqa: S608 (our SQL; values are parameters)
        f"FROM {get_access_token_model()._meta.db_table} t "
        f"JOIN {Application._meta.db_table} a ON a.id = t.application_id "
        f"JOIN {User._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.token_checksum = %(checksum)s"
    )
