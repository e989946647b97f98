"""Every write to the jobs tables: queueing work inside the caller's transaction, and the
runner's claims on it.

Queueing writes a row and, once the caller's transaction commits, wakes the runner
(`laurels.jobs.wake`): the row is the work, the wake-up only saves the wait. A claim is
one conditional UPDATE that writes the runner's token and a lease end; PostgreSQL
re-checks its condition on a row another runner has just claimed, and SQLite runs one
writer at a time, so no row is claimed twice while its lease lasts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from laurels.jobs.models import Job, OutboxMail, PeriodicRun
from laurels.jobs.registry import TASKS
from laurels.jobs.wake import wake

if TYPE_CHECKING:
    from laurels.jobs.mail import Mail

OUTBOX_MAX_ATTEMPTS = 12
# The longest wait before a failed attempt is tried again.
MAX_BACKOFF = timedelta(hours=1)
PRUNE_BATCH = 1000


def _backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s... up to an hour: a mail server or host down for a while is
    not hammered, and is tried again soon after it is back."""
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _lease_end(now: datetime, seconds: int | None = None) -> datetime:
    return now + timedelta(seconds=seconds or settings.LAURELS_JOBS_LEASE_SECONDS)


def _claimable(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


# --- queueing (inside the caller's transaction) ---------------------------------------------


def job_enqueue(task: str, **arguments) -> Job:
    """Queue a call of the registered `task` with JSON `arguments`, in the caller's
    transaction: it exists, and will run, exactly when the caller's change commits."""
    if task not in TASKS:
        raise ValueError(f"No task is registered as {task!r}.")
    job = Job.objects.create(task=task, arguments=arguments)
    transaction.on_commit(wake)
    return job


def outbox_add(mails: Iterable[Mail]) -> int:
    """Write mails to the outbox in the caller's transaction; sent after it commits.

    One prepared INSERT for all of them (not `bulk_create`, which spends most of a
    10,000-mail batch making model instances): a batch award with `notify` stays close
    to one without."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [(m.message_id, m.to, m.subject, m.body, at, at, 0, "", "") for m in mails]
    if not rows:
        return 0
    names = ["message_id", "to", "subject", "body", "created_at", "send_after", "attempts"]
    names += ["claimed_by", "last_error"]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(OutboxMail._meta.get_field(name).column) for name in names)
    insert = (
        f"INSERT INTO {quote(OutboxMail._meta.db_table)} ({columns}) "  # noqa: S608 (names are ours)
        f"VALUES ({', '.join(['%s'] * len(names))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.executemany(insert, rows[start : start + 1000])
    transaction.on_commit(wake)
    return len(rows)


# --- queued jobs -----------------------------------------------------------------------------


def job_claim(runner: str) -> Job | None:
    """The oldest due job, claimed by `runner` for its task's timeout; None when none."""
    now = timezone.now()
    due = Q(failed_at__isnull=True, run_after__lte=now) & _claimable(now)
    for job in Job.objects.filter(due).order_by("id")[:10]:
        known = TASKS.get(job.task)
        lease = _lease_end(now, known.timeout_seconds if known else None)
        claimed = Job.objects.filter(due, pk=job.pk).update(
            claimed_by=runner, claimed_until=lease, attempts=F("attempts") + 1
        )
        if claimed:
            job.refresh_from_db()
            return job
    return None


def job_done(job: Job) -> None:
    Job.objects.filter(pk=job.pk).delete()


def job_failed(job: Job, error: str, *, max_attempts: int) -> bool:
    """Try again later, or keep it as failed once it has had every attempt; whether
    that was its last attempt."""
    now = timezone.now()
    final = job.attempts >= max_attempts
    Job.objects.filter(pk=job.pk).update(
        claimed_by="",
        claimed_until=None,
        last_error=error[:2000],
        failed_at=now if final else None,
        run_after=now + _backoff(job.attempts),
    )
    return final


# --- the e-mail outbox -----------------------------------------------------------------------


def _outbox_due(now: datetime) -> Q:
    return Q(failed_at__isnull=True, send_after__lte=now) & _claimable(now)


def outbox_claimable() -> bool:
    """Whether any mail is due (a read: no mail server is called for nothing)."""
    return OutboxMail.objects.filter(_outbox_due(timezone.now())).exists()


def outbox_claim(runner: str, limit: int) -> list[OutboxMail]:
    """Up to `limit` due mails, oldest first, claimed by `runner` for one lease."""
    now = timezone.now()
    due = _outbox_due(now)
    ids = list(OutboxMail.objects.filter(due).order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    OutboxMail.objects.filter(due, id__in=ids).update(
        claimed_by=runner, claimed_until=_lease_end(now), attempts=F("attempts") + 1
    )
    return list(OutboxMail.objects.filter(id__in=ids, claimed_by=runner).order_by("id"))


def outbox_renew(runner: str, mails: list[OutboxMail]) -> bool:
    """Extend `runner`'s lease on `mails` (it is still working on them); False when it
    no longer holds every one of them (a lease lapsed, and another runner may have
    claimed it): the runner must then stop sending them."""
    now = timezone.now()
    renewed = OutboxMail.objects.filter(
        id__in=[mail.pk for mail in mails], claimed_by=runner, claimed_until__gte=now
    ).update(claimed_until=_lease_end(now))
    return renewed == len(mails)


def outbox_sent(mail: OutboxMail, runner: str) -> None:
    """The mail server took it: the outbox keeps no copy of what was sent. Only while
    `runner` still holds it: a row another runner claimed since is that runner's."""
    OutboxMail.objects.filter(pk=mail.pk, claimed_by=runner).delete()


def outbox_failed(
    mails: list[OutboxMail], error: str, *, runner: str, permanent: bool = False
) -> None:
    """Give the mails `runner` still holds back to be tried again later, or keep them as
    failed when the mail server refused them for good or they have had every attempt."""
    now = timezone.now()
    for mail in mails:
        final = permanent or mail.attempts >= OUTBOX_MAX_ATTEMPTS
        OutboxMail.objects.filter(pk=mail.pk, claimed_by=runner).update(
            claimed_by="",
            claimed_until=None,
            last_error=error[:2000],
            failed_at=now if final else None,
            send_after=now + _backoff(mail.attempts),
        )


def outbox_failed_prune() -> int:
    """Delete the mails kept as failed for longer than `LAURELS_OUTBOX_FAILED_KEEP_DAYS`;
    how many. They were kept for an operator to see why they failed, but they hold what
    the mail said, verification and password-reset links included: that must not lie in
    the database for ever (a periodic job, registered in `JobsConfig.ready`). In batches,
    each its own short transaction."""
    cutoff = timezone.now() - timedelta(days=settings.LAURELS_OUTBOX_FAILED_KEEP_DAYS)
    expired = OutboxMail.objects.filter(failed_at__lt=cutoff)
    count = 0
    while batch := list(expired.values_list("pk", flat=True)[:PRUNE_BATCH]):
        count += OutboxMail.objects.filter(pk__in=batch, failed_at__lt=cutoff).delete()[0]
    return count


# --- periodic jobs ---------------------------------------------------------------------------


def periodic_claim(name: str, every_seconds: int, now: datetime) -> bool:
    """Whether this runner takes the periodic job `name`, due when it last started at
    least `every_seconds` before `now`. One runner wins: the start moves forward with
    one conditional UPDATE."""
    due = Q(started_at__isnull=True) | Q(started_at__lte=now - timedelta(seconds=every_seconds))
    try:
        with transaction.atomic():
            PeriodicRun.objects.get_or_create(name=name)
    except IntegrityError:  # made meanwhile by another runner
        pass
    return PeriodicRun.objects.filter(due, name=name).update(started_at=now) == 1


def periodic_due(jobs: Iterable, now: datetime) -> list:
    """The jobs that look due (one read); each must still be claimed."""
    started = dict(PeriodicRun.objects.values_list("name", "started_at"))
    return [
        job
        for job in jobs
        if started.get(job.name) is None
        or started[job.name] <= now - timedelta(seconds=job.every_seconds)
    ]


def periodic_finished(name: str, error: str = "") -> None:
    PeriodicRun.objects.filter(name=name).update(
        finished_at=timezone.now(), last_error=error[:2000]
    )
