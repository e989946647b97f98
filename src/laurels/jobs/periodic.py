"""Periodic jobs, run beside `laurels serve` in the embedded setup: re-verifying imported
badges, pruning stored answers to idempotent requests once past their window, and
deleting sign-ups nobody proved once their verification link has expired.

Each job is a plain function. `laurels serve` starts one `laurels jobs loop` child process
(a process, not a thread: the server forks its workers, and a thread holding a lock at
fork time would hang them), which runs the jobs that are due one after another and
records when each last ran. With several machines, run them from one place instead
(`LAURELS_JOBS_IN_PROCESS=false` and `laurels jobs run` from cron).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import close_old_connections

logger = logging.getLogger(__name__)
TICK_SECONDS = 60


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    run: Callable[[], object]


def _reverify_imported_badges() -> int:
    from laurels.backpack.importing import badge_reverify
    from laurels.backpack.models import ImportedBadge

    count = 0
    for badge in ImportedBadge.objects.select_related("user").iterator():
        badge_reverify(badge=badge)
        count += 1
    return count


def _prune_idempotency_records() -> int:
    from laurels.api.idempotency import idempotency_records_prune

    return idempotency_records_prune()


def _expire_unverified_claims() -> int:
    from laurels.accounts.services import unverified_claims_expire

    return unverified_claims_expire()


JOBS = [
    PeriodicJob("backpack-reverify", 24 * 3600, _reverify_imported_badges),
    # Hourly: stored answers (recipients' addresses in them) outlive their window by at
    # most an hour, and are never replayed past it (laurels.api.idempotency checks).
    PeriodicJob("idempotency-prune", 3600, _prune_idempotency_records),
    # Hourly: a claim nobody proved outlives its last verification link by at most an hour.
    PeriodicJob("accounts-claims-expire", 3600, _expire_unverified_claims),
]


def _prune_oauth_records() -> dict[str, int]:
    from laurels.connect.services import oauth_records_prune

    return oauth_records_prune()


# Daily: expired and revoked OAuth tokens, refresh-token families and spent codes that
# nothing can use any more (what each keeps, and why: connect.services).
JOBS.append(PeriodicJob("oauth-prune", 24 * 3600, _prune_oauth_records))


def run_due_jobs(now: float | None = None, jobs: list[PeriodicJob] | None = None) -> list[str]:
    """Run every job whose interval has passed since it last ran; the names run."""
    now = time.time() if now is None else now
    ran = []
    for job in jobs or JOBS:
        key = f"jobs:last-run:{job.name}"
        last = cache.get(key)
        if last is not None and now - last < job.every_seconds:
            continue
        cache.set(key, now, timeout=None)
        try:
            job.run()
        except Exception:
            logger.exception("Periodic job %s failed", job.name)
        finally:
            close_old_connections()
        ran.append(job.name)
    return ran


def run_forever(parent_pid: int | None = None) -> None:
    """Wake every minute and run what is due; stop when the parent process is gone."""
    logger.info("Periodic jobs: %s", ", ".join(job.name for job in JOBS))
    while parent_pid is None or os.getppid() == parent_pid:
        run_due_jobs()
        time.sleep(TICK_SECONDS)
