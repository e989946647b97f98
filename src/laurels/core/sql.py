"""Small pieces of portable SQL (SQLite and PostgreSQL) for the few raw queries we write."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections


@dataclass(frozen=True)
class Stamp:
    """Scalar SQL expressions (each one value, e.g. a subquery) with their named
    parameters (`%(name)s`), to be read in the same query as the access token. They may
    name the token's user as `u.id`."""

    expressions: tuple[str, ...]
    params: dict = field(default_factory=dict)


NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=64)
def _in_driver_style(sql: str, vendor: str) -> str:
    """`%(name)s` parameters as the driver wants them (sqlite3: `:name`)."""
    return NAMED_PARAMETER.sub(r":\1", sql) if vendor == "sqlite" else sql


def fetch_one_row(sql: str, params: dict) -> tuple | None:
    """The first row of `sql` (named `%(name)s` parameters), run on the database
    driver's own cursor.

    For the one query of a hot path (`connect.selectors.bearer_token_state`): Django's
    cursor wrapper costs as much as a small indexed query. Errors still come out as
    Django's `DatabaseError` classes; the query is not recorded in `connection.queries`.
    """
    database = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs per attribute
    if database.connection is None:
        database.ensure_connection()
    with database.wrap_database_errors:
        cursor = database.connection.cursor()
        try:
            cursor.execute(_in_driver_style(sql, database.vendor), params)
            return cursor.fetchone()
        finally:
            cursor.close()
