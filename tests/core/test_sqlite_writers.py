"""The SQLite backend queues write transactions on a lock file
(`laurels.core.sqlite_backend`): taken as a transaction begins, released however it
ends, so a writer never waits on SQLite's sleeping busy handler behind another."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import OperationalError, connection

from laurels.core.sqlite_backend.base import DatabaseWrapper

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="SQLite only: PostgreSQL queues writers itself"
    ),
    pytest.mark.django_db,  # lets these tests open connections of their own
]


@pytest.fixture
def database(tmp_path):
    settings = {**connection.settings_dict, "NAME": str(tmp_path / "db.sqlite3")}
    made = []

    def open_one(*, closed_by_caller: bool = False) -> DatabaseWrapper:
        wrapper = DatabaseWrapper(settings)
        wrapper.ensure_connection()
        if not closed_by_caller:  # a thread's own connection is closed in that thread
            made.append(wrapper)
        return wrapper

    yield open_one
    for wrapper in made:
        wrapper.close()


def lock_is_free(path: str) -> bool:
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return True
    finally:
        os.close(descriptor)


@pytest.mark.parametrize("ending", ["commit", "rollback", "close"])
def test_a_transaction_holds_the_lock_until_it_ends(database, ending):
    writer = database()
    path = writer._writers_lock_path()
    writer._start_transaction_under_autocommit()
    writer.cursor().execute("CREATE TABLE t (n INTEGER)")
    assert not lock_is_free(path)
    getattr(writer, ending)()
    assert lock_is_free(path)


def test_writers_in_threads_queue_and_none_is_refused(database):
    setup = database()
    setup.cursor().execute("CREATE TABLE t (n INTEGER)")
    errors, writers = [], 8

    def write(number: int) -> None:
        wrapper = database(closed_by_caller=True)
        try:
            for _ in range(25):
                wrapper._start_transaction_under_autocommit()
                wrapper.cursor().execute("INSERT INTO t VALUES (%s)", [number])
                wrapper.commit()
        except Exception as error:
            errors.append(error)
        finally:
            wrapper.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert setup.cursor().execute("SELECT COUNT(*) FROM t").fetchone() == (writers * 25,)


def test_an_in_memory_database_takes_no_lock():
    assert (
        DatabaseWrapper({**connection.settings_dict, "NAME": ":memory:"})._writers_lock_path()
        is None
    )


def test_a_writer_waits_no_longer_than_the_timeout(tmp_path):
    """As SQLite's own busy timeout: a stuck transaction does not stall the others for
    ever, they fail with "database is locked"."""
    settings = {**connection.settings_dict, "NAME": str(tmp_path / "db.sqlite3")}
    settings["OPTIONS"] = {**settings.get("OPTIONS", {}), "timeout": 1}
    stuck, waiting = DatabaseWrapper(settings), DatabaseWrapper(settings)
    try:
        stuck.ensure_connection()
        waiting.ensure_connection()
        stuck._start_transaction_under_autocommit()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            waiting._start_transaction_under_autocommit()
        assert 1 <= time.monotonic() - started < 3
        assert not waiting._writers_locked
        stuck.rollback()
        # The abandoned wait got the lock as it was released, and let it go at once.
        deadline = time.monotonic() + 2
        while not lock_is_free(stuck._writers_lock_path()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock_is_free(stuck._writers_lock_path())
        waiting._start_transaction_under_autocommit()
        waiting.rollback()
    finally:
        stuck.close()
        waiting.close()
