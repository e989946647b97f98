"""Reading a Badgr server's data: its PostgreSQL or MySQL database, or a dumpdata file.

Every reader yields the same rows for a table: dicts of column name to value, in primary
key order, foreign keys as `<field>_id` (as in the database). Values keep the type the
source gives (a datetime from a database, an ISO string from dumpdata; 0/1 from MySQL for
a boolean): `laurels.badgr.services` reads them all alike. A table the source does not
have yields nothing (`has_table` tells which), so a Badgr without, say, extensions still
imports.

Readers stream from the database (server-side cursors), so that a table of millions of
awards is never held in memory; the import writes in chunks, each its own transaction,
never one open while the source is read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

# The tables the import reads, as Badgr's last release names them (tests/badgr/badgr_schema.sql).
TABLES = (
    "users",
    "account_emailaddress",
    "issuer_issuer",
    "issuer_issuerstaff",
    "issuer_issuerextension",
    "issuer_badgeclass",
    "issuer_badgeclasstag",
    "issuer_badgeclassalignment",
    "issuer_badgeclassextension",
    "issuer_badgeinstance",
    "issuer_badgeinstanceevidence",
    "issuer_badgeinstanceextension",
    "backpack_backpackcollection",
    "backpack_backpackcollectionbadgeinstance",
    "oauth2_provider_application",
    "mainsite_applicationinfo",
)
STREAM_ROWS = 1000


class SourceError(Exception):
    """The source cannot be read at all (unreachable, not a Badgr database, bad file)."""


class BadgrSource(Protocol):
    def has_table(self, table: str) -> bool: ...

    def rows(self, table: str) -> Iterator[dict]: ...

    def close(self) -> None: ...


class PostgresSource:
    """A Badgr PostgreSQL database, read-only, by URL (postgres://user:pw@host:port/db)."""

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self._connection = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as error:
            raise SourceError(f"Cannot connect to the Badgr database: {error}") from None
        self._connection.read_only = True
        self._tables = self._table_names()

    def _table_names(self) -> set[str]:
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
            return {name for (name,) in cursor.fetchall()}

    def has_table(self, table: str) -> bool:
        return table in self._tables

    def rows(self, table: str) -> Iterator[dict]:
        from psycopg import sql
        from psycopg.rows import dict_row

        if not self.has_table(table):
            return
        import psycopg

        query = sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))
        try:
            with self._connection.cursor(name=f"laurels_{table}", row_factory=dict_row) as cursor:
                cursor.itersize = STREAM_ROWS
                cursor.execute(query)
                yield from cursor
            self._connection.commit()  # ends the read-only snapshot the named cursor needed
        except psycopg.Error as error:
            raise SourceError(f"Reading {table} from the Badgr database failed: {error}") from None

    def close(self) -> None:
        self._connection.close()


def _mysql_module():
    """PyMySQL, imported when a MySQL database is read: an optional extra."""
    try:
        import pymysql
    except ImportError:
        raise SourceError(
            "Reading a MySQL database needs PyMySQL: pip install 'laurels[badgr-mysql]'."
        ) from None
    return pymysql


class MySQLSource:
    """A Badgr MySQL (or MariaDB) database by URL (mysql://user:pw@host:port/db), through
    PyMySQL, the optional extra `badgr-mysql`."""

    def __init__(self, url: str) -> None:
        pymysql = _mysql_module()
        parts = urlsplit(url)
        try:
            self._connection = pymysql.connect(
                host=parts.hostname or "localhost",
                port=parts.port or 3306,
                user=unquote(parts.username or "root"),
                password=unquote(parts.password or ""),
                database=parts.path.lstrip("/"),
                charset="utf8mb4",
                connect_timeout=10,
            )
        except pymysql.Error as error:
            raise SourceError(f"Cannot connect to the Badgr database: {error}") from None
        self._pymysql = pymysql
        self._tables = self._table_names()

    def _table_names(self) -> set[str]:
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
            return {name for (name,) in cursor.fetchall()}

    def has_table(self, table: str) -> bool:
        return table in self._tables

    def rows(self, table: str) -> Iterator[dict]:
        if not self.has_table(table):
            return
        cursor = self._connection.cursor(self._pymysql.cursors.SSDictCursor)
        try:
            # The name is one of TABLES, never the user's.
            cursor.execute(f"SELECT * FROM `{table}` ORDER BY id")  # noqa: S608
            yield from cursor
        except self._pymysql.Error as error:
            raise SourceError(f"Reading {table} from the Badgr database failed: {error}") from None
        finally:
            cursor.close()

    def close(self) -> None:
        self._connection.close()


# dumpdata names models, not tables: each model Badgr's import needs, and its table.
DUMPDATA_MODELS = {
    "badgeuser.badgeuser": "users",
    "account.emailaddress": "account_emailaddress",
    "badgeuser.cachedemailaddress": "account_emailaddress",
    "issuer.issuer": "issuer_issuer",
    "issuer.issuerstaff": "issuer_issuerstaff",
    "issuer.issuerextension": "issuer_issuerextension",
    "issuer.badgeclass": "issuer_badgeclass",
    "issuer.badgeclasstag": "issuer_badgeclasstag",
    "issuer.badgeclassalignment": "issuer_badgeclassalignment",
    "issuer.badgeclassextension": "issuer_badgeclassextension",
    "issuer.badgeinstance": "issuer_badgeinstance",
    "issuer.badgeinstanceevidence": "issuer_badgeinstanceevidence",
    "issuer.badgeinstanceextension": "issuer_badgeinstanceextension",
    "backpack.backpackcollection": "backpack_backpackcollection",
    "backpack.backpackcollectionbadgeinstance": "backpack_backpackcollectionbadgeinstance",
    "oauth2_provider.application": "oauth2_provider_application",
    "mainsite.applicationinfo": "mainsite_applicationinfo",
}
# The foreign keys among those models' fields: dumpdata names them without `_id`.
DUMPDATA_FOREIGN_KEYS = frozenset(
    {
        "user",
        "issuer",
        "badgeclass",
        "badgeinstance",
        "collection",
        "badgeuser",
        "application",
        "created_by",
        "updated_by",
        "badgrapp",
    }
)


class DumpdataSource:
    """A `manage.py dumpdata` JSON export of a Badgr server (all apps, or at least those
    of DUMPDATA_MODELS). Held in memory, as `json.load` reads it whole."""

    def __init__(self, path: str | Path) -> None:
        try:
            with open(path, encoding="utf-8") as file:
                objects = json.load(file)
        except (OSError, ValueError) as error:
            raise SourceError(f"Cannot read the dumpdata file {path}: {error}") from None
        if not isinstance(objects, list):
            raise SourceError(f"{path} is not a dumpdata export (a JSON list of objects).")
        self._tables: dict[str, list[dict]] = defaultdict(list)
        for entry in filter(lambda entry: isinstance(entry, dict), objects):
            table = DUMPDATA_MODELS.get(str(entry.get("model", "")).lower())
            if table is not None and isinstance(entry.get("fields"), dict):
                self._tables[table].append(_dumpdata_row(entry))
        for rows in self._tables.values():
            rows.sort(key=lambda row: (str(type(row["id"])), row["id"]))

    def has_table(self, table: str) -> bool:
        return table in self._tables

    def rows(self, table: str) -> Iterator[dict]:
        yield from self._tables.get(table, [])

    def close(self) -> None:
        self._tables.clear()


def _dumpdata_row(entry: dict) -> dict:
    """A dumpdata object as the table's row: `id`, and foreign keys as `<field>_id`. A
    foreign key given as a natural key (a list) names nothing here: None."""
    row = {"id": entry.get("pk")}
    for name, value in entry["fields"].items():
        if name in DUMPDATA_FOREIGN_KEYS:
            row[f"{name}_id"] = None if isinstance(value, list) else value
        elif not isinstance(value, list):  # a many-to-many list: its own table has it
            row[name] = value
    return row


def open_source(*, database_url: str | None = None, dumpdata: str | None = None) -> BadgrSource:
    """The reader for a database URL (postgres:// or postgresql://, mysql://) or a file."""
    if dumpdata:
        return DumpdataSource(dumpdata)
    scheme = urlsplit(database_url or "").scheme.split("+")[0]
    if scheme in ("postgres", "postgresql"):
        return PostgresSource(database_url)
    if scheme in ("mysql", "mariadb"):
        return MySQLSource(database_url)
    raise SourceError(
        f"Unsupported database URL {database_url!r}: use postgres://... or mysql://..."
    )
