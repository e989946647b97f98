"""Periodic jobs: each registered by its app (`laurels.jobs.registry.periodic`) and run
by whichever runner claims it first once it is due.

When each job last started is kept in the database (`PeriodicRun`), one row per job, so
a restart does not run a daily job again, and two machines running the jobs do not both
run it: a runner takes a due job by moving its start forward with one conditional UPDATE.
A job that fails is logged and waits for its next turn. (The runner drops broken
database connections after each pass, `laurels.jobs.runner`.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.utils import timezone

from laurels.jobs import services
from laurels.jobs.registry import JOBS, PeriodicJob

__all__ = ["JOBS", "PeriodicJob", "run_due_jobs"]
logger = logging.getLogger(__name__)


def run_due_jobs(now: float | None = None, jobs: list[PeriodicJob] | None = None) -> list[str]:
    """Run every job that is due and that this runner claims; the names run. `now` is
    a Unix time (tests move it; the runner leaves it to the clock)."""
    moment = timezone.now() if now is None else datetime.fromtimestamp(now, UTC)
    ran = []
    for job in services.periodic_due(JOBS if jobs is None else jobs, moment):
        if not services.periodic_claim(job.name, job.every_seconds, moment):
            continue  # another runner took it
        error = ""
        try:
            job.run()
        except Exception as failure:
            logger.exception("Periodic job %s failed", job.name)
            error = repr(failure)
        services.periodic_finished(job.name, error)
        ran.append(job.name)
    return ran
