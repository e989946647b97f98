"""Django's SQLite backend, with every write transaction queued on one lock file.

SQLite lets one writer in at a time. Django begins each transaction with `BEGIN
IMMEDIATE` (settings: `transaction_mode`), and a writer that finds the lock taken is
left to SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries:
a writer that just missed the lock can sleep through many others' turns, so under a
few concurrent writers p99 is many times p50 (a token refresh: 1.9 s against 53 ms).

Here a transaction first takes an exclusive `flock` on `<database>-writers.lock`, on a
descriptor of its own connection (so threads and processes queue alike), and holds it
until it commits or rolls back; SQLite's own lock is then free at once. A waiter sleeps
in the kernel and is woken as the lock is released, and gives up as SQLite would, with
"database is locked", after the connection's `timeout` (LAURELS_SQLITE_TIMEOUT): a
stuck transaction stalls the others no longer than it did before. Writes made
outside a transaction (autocommit statements) still meet SQLite's busy handler, and
in-memory databases (tests) take no lock.
"""

from __future__ import annotations

import fcntl
import os
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# sqlite3's own default, for a database configured without OPTIONS["timeout"].
DEFAULT_TIMEOUT = 5


class DatabaseWrapper(base.DatabaseWrapper):
    _writers_lock: int | None = None
    _writers_locked: bool = False

    def _writers_lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}-writers.lock"

    def _writers_lock_take(self) -> None:
        path = self._writers_lock_path()
        if path is None:
            return
        if self._writers_lock is None:
            self._writers_lock = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._writers_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._writers_lock_wait()
        self._writers_locked = True

    def _writers_lock_wait(self) -> None:
        """Wait for the lock in the kernel (woken as it is released), in a thread of its
        own so that this one can give up after the connection's timeout. Giving up
        closes this connection's descriptor: if the thread gets the lock after all, it
        goes as the thread's call returns (a lock belongs to the open file, which is
        closed then), and the next transaction opens the file again."""
        descriptor, granted = self._writers_lock, threading.Event()

        def wait() -> None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except OSError:
                return
            granted.set()

        threading.Thread(target=wait, name="laurels-sqlite-writers", daemon=True).start()
        seconds = self.settings_dict.get("OPTIONS", {}).get("timeout", DEFAULT_TIMEOUT)
        if not granted.wait(seconds):
            self._writers_lock = None
            os.close(descriptor)
            raise OperationalError(f"database is locked: other writers held it for {seconds} s")

    def _writers_lock_release(self) -> None:
        if self._writers_locked:
            self._writers_locked = False
            fcntl.flock(self._writers_lock, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self) -> None:
        self._writers_lock_take()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._writers_lock_release()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._writers_lock_release()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._writers_lock_release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._writers_lock_release()
            if self._writers_lock is not None:
                os.close(self._writers_lock)
                self._writers_lock = None
