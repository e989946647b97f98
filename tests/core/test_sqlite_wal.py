"""The write-ahead log of the embedded database is checkpointed by a thread, not by the
commits of requests (laurels.core.sqlite_wal)."""

import sqlite3
import time

import pytest
from django.db import connection

from laurels.core.sqlite_wal import (
    AUTOCHECKPOINT_BACKSTOP_PAGES,
    AUTOCHECKPOINT_DEFAULT_PAGES,
    WalCheckpointer,
    autocheckpoint_pages,
    wal_checkpointer_start,
)

SQLITE = "laurels.core.sqlite_backend"


def test_connections_checkpoint_only_past_the_backstop_when_a_thread_does_it():
    assert autocheckpoint_pages(1) == AUTOCHECKPOINT_BACKSTOP_PAGES
    assert autocheckpoint_pages(0) == AUTOCHECKPOINT_DEFAULT_PAGES == 1000


@pytest.mark.django_db
def test_django_connections_to_sqlite_use_the_backstop():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no write-ahead log of this kind")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == AUTOCHECKPOINT_BACKSTOP_PAGES


def _database_with_an_unchecked_log(path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the thread checkpoints
    writer.execute("CREATE TABLE award (id INTEGER PRIMARY KEY, body TEXT)")
    writer.executemany("INSERT INTO award (body) VALUES (?)", [("x" * 500,)] * 2000)
    return writer


def test_the_thread_copies_the_log_back_into_the_database_file(tmp_path):
    path = tmp_path / "laurels.sqlite3"
    writer = _database_with_an_unchecked_log(path)
    before = path.stat().st_size
    checkpointer = WalCheckpointer(path, interval=0.02)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        checkpointer.stop()
    assert checkpointer.checkpoints >= 2
    assert not checkpointer.is_alive()
    # The rows now live in the database file itself, not only in the log.
    assert path.stat().st_size > before + 500 * 2000
    busy, log_pages, checkpointed = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, checkpointed) == (0, log_pages)
    assert writer.execute("SELECT COUNT(*) FROM award").fetchone()[0] == 2000
    writer.close()


@pytest.mark.parametrize(
    ("database", "interval"),
    [
        ({"ENGINE": SQLITE, "NAME": "var/laurels.sqlite3"}, 0),
        ({"ENGINE": SQLITE, "NAME": ":memory:"}, 1),
        ({"ENGINE": SQLITE, "NAME": "file:memorydb_default?mode=memory&cache=shared"}, 1),
        ({"ENGINE": "django.db.backends.postgresql", "NAME": "laurels"}, 1),
    ],
)
def test_no_thread_for_other_databases_or_when_switched_off(database, interval):
    assert wal_checkpointer_start(database, interval) is None


def test_a_thread_is_started_for_an_sqlite_file(tmp_path):
    path = tmp_path / "laurels.sqlite3"
    _database_with_an_unchecked_log(path).close()
    checkpointer = wal_checkpointer_start({"ENGINE": SQLITE, "NAME": str(path)}, 1)
    assert checkpointer is not None and checkpointer.is_alive() and checkpointer.daemon
    checkpointer.stop()
