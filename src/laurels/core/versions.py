"""Versions: counters that a change moves on inside its own transaction, and that kept
answers are stored under.

Laurels keeps whole answers that are costly to make and asked for again and again: the
/v2 lists apps poll (`laurels.api.answer_cache`) and the hosted documents verifiers
fetch (`laurels.openbadges.views`). Each is stored under the versions of what it shows,
read *before* it is made. Every change moves those versions on in the same transaction
as the change itself, so a reader sees either the old rows with the old versions or the
new rows with the new ones: an answer made from old rows can never be found under new
versions, whatever the clocks of the machines say and whichever worker or machine
asks. A change that commits while an answer is being made leaves that answer under
versions that are already old (it may show the change early, never late).

A version is one row, moved on with `UPDATE ... SET n = n + 1` (as an upsert): the row
is locked until the change commits, so two changes never lose an increment. Rows are
never deleted; a missing row reads as 0.

The rule that keeps this free of deadlocks: row locks before version locks. A change
writes (and so locks) its own rows first and moves versions on last, just before it
commits, never before a row it is about to write or delete: a change that bumped first
and then waited for a row held by another change that bumps the same version would
deadlock with it (PostgreSQL ends one with an error). The receivers that bump on
`post_save` keep to it when the save is the change's last write; a service does not
bump on its own what a save's receiver already bumps.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from laurels.core.models import Version

# What a version names; a version's name is "<kind>:<owner>".
ISSUER_AWARDS = "issuer-awards"  # an issuer's award list (by issuer id)
AWARDS_TO = "awards-to"  # the awards made to an email address (by address)
BACKPACK = "backpack"  # a user's verified addresses and imported badges (by user id)
CATALOG = "catalog"  # names and texts of badge classes and issuers that lists show (one)
ISSUER_DOCUMENTS = "issuer-documents"  # what every hosted document of an issuer shows
ASSERTION_DOCUMENT = "assertion"  # one award's hosted document (by award id)
BADGE_CLASS_DOCUMENT = "badge-class"  # one badge class's hosted document (by id)

BUMP_CHUNK = 1000


def version_name(kind: str, owner: object = "") -> str:
    return f"{kind}:{owner}"


def versions_bump(names: Iterable[str]) -> None:
    """Move each named version on by one, in the caller's transaction.

    Call it inside the transaction of the change (or after the change, never before):
    then no reader can see the new version next to the old rows. Names are sorted, so
    two transactions bumping the same versions lock them in the same order.
    """
    ordered = sorted(set(names))
    table = connection.ops.quote_name(Version._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), BUMP_CHUNK):
            chunk = ordered[start : start + BUMP_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} (name, n) VALUES {', '.join(['(%s, 1)'] * len(chunk))} "  # noqa: S608 (our SQL; names are parameters)
                f"ON CONFLICT (name) DO UPDATE SET n = {table}.n + 1",
                chunk,
            )


def version_sql(kind: str, owner_sql: str) -> str:
    """An SQL expression for the version of `kind` owned by `owner_sql` (an SQL
    expression of the enclosing query), 0 before its first change: one index lookup."""
    table = connection.ops.quote_name(Version._meta.db_table)
    return (
        f"COALESCE((SELECT v.n FROM {table} v "  # noqa: S608 (our SQL)
        f"WHERE v.name = '{kind}:' || CAST({owner_sql} AS TEXT)), 0)"
    )


def version_join(kind: str, owner_sql: str, alias: str = "v") -> str:
    """`JOIN` the versions of `kind` owned by `owner_sql`, as `alias` (rows that never
    moved are left out: they count as 0)."""
    table = connection.ops.quote_name(Version._meta.db_table)
    return f"JOIN {table} {alias} ON {alias}.name = '{kind}:' || CAST({owner_sql} AS TEXT)"
