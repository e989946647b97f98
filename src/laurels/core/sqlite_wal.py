"""Checkpoints of the embedded SQLite database's write-ahead log, off the request path.

In WAL mode SQLite appends every commit to a log and copies the log back into the
database file (a *checkpoint*) during the commit that takes the log past
`wal_autocheckpoint` pages, 1,000 by default. So one write request in many pays for
everyone's writes: a 10,000-award batch dirties about 8,000 pages, and its commit spent
90-120 ms of a 650 ms answer checkpointing; smaller writes wait behind it for the lock.

Instead each server worker runs a thread that checkpoints every few seconds
(`LAURELS_SQLITE_CHECKPOINT_SECONDS`, 1 by default) in PASSIVE mode, which never waits
for or blocks readers and writers. Connections still checkpoint by themselves once the
log reaches `AUTOCHECKPOINT_BACKSTOP_PAGES`: a bound for processes without the thread
(the CLI, jobs, another WSGI server) and for a thread that cannot keep up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# About 80 MB of 4 KB pages.
AUTOCHECKPOINT_BACKSTOP_PAGES = 20_000
# Django's SQLite backend, and ours (writers queued: laurels.core.sqlite_backend).
SQLITE_ENGINES = ("laurels.core.sqlite_backend", "django.db.backends.sqlite3")
# SQLite's own default, for when no thread checkpoints.
AUTOCHECKPOINT_DEFAULT_PAGES = 1_000


def autocheckpoint_pages(checkpoint_seconds: int) -> int:
    """`wal_autocheckpoint` for the connections: the backstop when a thread checkpoints."""
    return AUTOCHECKPOINT_BACKSTOP_PAGES if checkpoint_seconds else AUTOCHECKPOINT_DEFAULT_PAGES


def wal_checkpoint(db: sqlite3.Connection) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (1 if it could not run at all, pages in the log, pages
    copied back into the database)."""
    busy, log_pages, checkpointed = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return busy, log_pages, checkpointed


class WalCheckpointer(threading.Thread):
    """A daemon thread checkpointing one SQLite database file every `interval` seconds."""

    def __init__(self, path: Path, interval: float) -> None:
        super().__init__(name="laurels-wal-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # how many ran, for tests and curious operators
        self._stopping = threading.Event()

    def run(self) -> None:
        db = sqlite3.connect(self.path, timeout=self.interval, isolation_level=None)
        try:
            while not self._stopping.wait(self.interval):
                try:
                    wal_checkpoint(db)
                    self.checkpoints += 1
                except sqlite3.Error as error:  # busy or locked: the next round tries again
                    logger.warning("WAL checkpoint of %s did not run: %s", self.path, error)
        finally:
            db.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def wal_checkpointer_start(database: dict, interval: int) -> WalCheckpointer | None:
    """Start checkpointing `database` (a DATABASES entry) if it is an SQLite file and
    `interval` is not 0; None otherwise."""
    name = str(database.get("NAME", ""))
    if (
        not interval
        or database.get("ENGINE") not in SQLITE_ENGINES
        or name.startswith("file:")
        or name in ("", ":memory:")
    ):
        return None
    checkpointer = WalCheckpointer(Path(name), interval)
    checkpointer.start()
    return checkpointer
