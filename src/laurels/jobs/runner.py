"""The embedded jobs backend: one runner process beside `laurels serve` (the `laurels
jobs loop` child it starts), or `laurels jobs loop`/`laurels jobs run` started by hand.

The runner works from the database only (`laurels.jobs.models`): due periodic jobs,
queued tasks, then the e-mail outbox. It waits on a loopback socket that queueing
processes nudge after their commit (`laurels.jobs.wake`), so queued work starts at once,
and looks anyway every `LAURELS_JOBS_POLL_SECONDS` (work queued on another machine, a
lost wake-up, a retry that came due). Several runners may run against one database:
every row is claimed before it is worked on.

It is a process, not a thread in the server: the server forks its workers, and a thread
holding a lock at fork time would hang them.
"""

from __future__ import annotations

import logging
import os
import select
import uuid

from django.conf import settings
from django.db import close_old_connections

from laurels.jobs import services, wake
from laurels.jobs.mail import outbox_deliver
from laurels.jobs.periodic import run_due_jobs
from laurels.jobs.registry import JOBS, TASKS

logger = logging.getLogger(__name__)


def runner_token() -> str:
    """What a runner writes into the rows it claims: unique to one runner's life."""
    return uuid.uuid4().hex


def run_task(runner: str, job) -> None:
    """Run one claimed task and record how it went."""
    task = TASKS.get(job.task)
    if task is None:
        services.job_failed(job, f"No task is registered as {job.task!r}.", max_attempts=0)
        return
    try:
        task.run(**job.arguments)
    except Exception as failure:
        logger.exception("Task %s (job %s) failed", job.task, job.pk)
        final = services.job_failed(job, repr(failure), max_attempts=task.max_attempts)
        if final and task.gave_up is not None:
            _give_up(task, job)
    else:
        services.job_done(job)


def _give_up(task, job) -> None:
    """Tell a task that failed its last attempt; a failure here is logged, not raised
    (the runner goes on with the rest of the queue)."""
    try:
        task.gave_up(**job.arguments)
    except Exception:
        logger.exception("Task %s (job %s): giving up failed too", job.task, job.pk)


def deliver_mail(runner: str) -> int:
    """Send the due mail; a failure of the mail server is logged, not raised."""
    try:
        return outbox_deliver(runner)
    except Exception:
        logger.exception("Mail delivery stopped; it is tried again later")
        return 0


def drain(runner: str | None = None) -> dict[str, int]:
    """Send the due mail, then run queued tasks until none is due, sending the mail that
    came due after each (a long task, such as a chunk of re-verification, does not hold
    back a password-reset mail for the whole queue); the counts."""
    runner = runner or runner_token()
    done = {"tasks": 0, "mails": deliver_mail(runner)}
    while (job := services.job_claim(runner)) is not None:
        run_task(runner, job)
        done["tasks"] += 1
        done["mails"] += deliver_mail(runner)
    return done


def run_once() -> tuple[list[str], dict[str, int]]:
    """One pass (`laurels jobs run`, for cron): due periodic jobs, then the queues."""
    return run_due_jobs(), drain()


def run_forever(parent_pid: int | None = None) -> None:
    """Work whenever woken or every poll interval; stop when the parent is gone."""
    listener = wake.listen()
    runner = runner_token()
    logger.info("Jobs runner: periodic %s; tasks %s", [j.name for j in JOBS], sorted(TASKS))
    while parent_pid is None or os.getppid() == parent_pid:
        try:
            run_due_jobs()
            drain(runner)
        except Exception:  # the database away for a moment: try again at the next turn
            logger.exception("Jobs runner pass failed")
        finally:
            close_old_connections()
        select.select([listener], [], [], settings.LAURELS_JOBS_POLL_SECONDS)
        wake.drain(listener)
