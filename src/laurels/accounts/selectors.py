"""Reads of users that depend on who is asking."""

from __future__ import annotations

import functools

from laurels.accounts.models import EmailAddress, User
from laurels.core.sql import fetch_rows, model_columns, models_of_row, ordering_sql, set_prefetched


def user_profile(*, viewer: User, reload: bool = True) -> User:
    """The viewer's own account with its email addresses loaded (one extra query).
    With `reload=False` the viewer as this request loaded it is used, and only the
    addresses are read (a read-only request: nothing changed it since)."""
    if not reload:
        if "email_addresses" not in getattr(viewer, "_prefetched_objects_cache", {}):
            set_prefetched(viewer, "email_addresses", email_addresses_of(user_id=viewer.pk))
        return viewer
    return User.objects.prefetch_related("email_addresses").get(pk=viewer.pk)


@functools.lru_cache(maxsize=1)
def _email_addresses_sql() -> str:
    user_column = EmailAddress._meta.get_field("user").column
    return (
        f"SELECT {model_columns((EmailAddress, 'e'))} "  # noqa: S608 (our SQL; values are parameters)
        f"FROM {EmailAddress._meta.db_table} e WHERE e.{user_column} = %(user_id)s "
        f"{ordering_sql(EmailAddress, 'e')}"
    )


def email_addresses_of(*, user_id: int) -> list[EmailAddress]:
    """The user's addresses in their model's order, as `prefetch_related` reads them: in
    a raw query, as the one read of /v2/users/self after the token's (the ORM's compiler
    cost more than the query)."""
    rows = fetch_rows(_email_addresses_sql(), {"user_id": user_id})
    return [models_of_row(row, (EmailAddress, "e"))[0] for row in rows]
