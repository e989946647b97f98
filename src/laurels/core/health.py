"""What `/healthz` checks: that the database answers and takes writes, and that the data
directory has room.

A database can answer reads long after its disk filled up or went read-only, so a
`SELECT 1` alone kept a load balancer sending requests to a server that failed every
write. Writing is checked for real, but at most once every
`LAURELS_HEALTH_WRITE_CHECK_SECONDS` per process and with a short wait for the lock, so
that frequent health checks cost nothing and never wait behind a long write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from laurels.core.models import HealthProbe

logger = logging.getLogger(__name__)

OK, FAILING, UNKNOWN = "ok", "failing", "unknown"
# Milliseconds the write check waits for SQLite's write lock before calling it busy.
WRITE_CHECK_LOCK_WAIT_MS = 1000


@dataclass
class _WriteCheck:
    """The last write check of this process: its outcome and when it ran (monotonic)."""

    outcome: str = UNKNOWN
    ran_at: float | None = None


_last_write_check = _WriteCheck()
_write_check_lock = threading.Lock()


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database is unreachable")
        return False
    return True


def _probe_write() -> str:
    """Rewrite the one health row; OK, FAILING, or the previous outcome when another
    writer held the lock (a long batch is busy, not broken)."""
    sqlite = connection.vendor == "sqlite"
    try:
        if sqlite:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {WRITE_CHECK_LOCK_WAIT_MS}")
        HealthProbe.objects.bulk_create(
            [HealthProbe(pk=1, checked_at=timezone.now())],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["checked_at"],
        )
    except DatabaseError as error:
        if _waited_for_lock(error):
            return _last_write_check.outcome
        logger.error("Health check: the database takes no writes: %s", error)
        return FAILING
    finally:
        if sqlite:
            _restore_busy_timeout()
    return OK


def _waited_for_lock(error: DatabaseError) -> bool:
    """SQLite's SQLITE_BUSY or SQLITE_LOCKED: another writer held the lock too long."""
    code = getattr(error.__cause__, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _restore_busy_timeout() -> None:
    timeout_ms = int(settings.DATABASES["default"]["OPTIONS"].get("timeout", 5) * 1000)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
    except DatabaseError:
        connection.close()  # a connection in doubt is not handed to the next request


def database_takes_writes() -> str:
    """OK or FAILING from a real write, run at most once per interval per process; the
    last outcome in between, and while another thread's check is running."""
    interval = settings.LAURELS_HEALTH_WRITE_CHECK_SECONDS
    ran_at = _last_write_check.ran_at
    if ran_at is not None and time.monotonic() - ran_at < interval:
        return _last_write_check.outcome
    if not _write_check_lock.acquire(blocking=False):
        return _last_write_check.outcome
    try:
        _last_write_check.outcome = _probe_write()
        _last_write_check.ran_at = time.monotonic()
        return _last_write_check.outcome
    finally:
        _write_check_lock.release()


def disk_free_mb(path: os.PathLike | str) -> int:
    usage = os.statvfs(path)
    return usage.f_bavail * usage.f_frsize // (1024 * 1024)


def disk_state() -> str:
    """'ok', 'low' (under LAURELS_HEALTH_MIN_FREE_MB free) or 'read-only', for the data
    directory, where the SQLite database and every stored file live."""
    home = settings.LAURELS_HOME
    if os.statvfs(home).f_flag & os.ST_RDONLY:
        return "read-only"
    free_mb = disk_free_mb(home)
    if free_mb < settings.LAURELS_HEALTH_MIN_FREE_MB:
        logger.warning("Health check: %s MB free in %s", free_mb, home)
        return "low"
    return OK


def health_report() -> dict:
    """{"status": "ok"|"unavailable", "database", "database_writes", "disk", "failing"}:
    "failing" names each check that failed (empty when all is well)."""
    database = OK if database_answers() else "unreachable"
    writes = database_takes_writes() if database == OK else UNKNOWN
    disk = disk_state()
    failing = [
        name
        for name, state in (("database", database), ("database_writes", writes), ("disk", disk))
        if state not in (OK, UNKNOWN)
    ]
    return {
        "status": "unavailable" if failing else OK,
        "database": database,
        "database_writes": writes,
        "disk": disk,
        "failing": failing,
    }
