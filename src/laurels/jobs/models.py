"""What the jobs runner works from, all in the database so that it survives restarts and
is shared by every machine: queued calls of tasks, the e-mail outbox, and when each
periodic job last started.

Queued rows are written in the transaction of the change that asks for them: they exist
exactly when the change does. A runner claims a row by writing its own token and a lease
end into it with one conditional UPDATE; a runner that dies leaves its claim to expire,
and the row is taken again (so work runs at least once, rarely twice).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One queued call of a registered task (`laurels.jobs.registry.task`)."""

    task = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict)
    run_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set once the task has failed every attempt: kept for an operator, never run again.
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["failed_at", "run_after", "id"])]

    def __str__(self) -> str:
        return f"{self.task} (attempt {self.attempts})"


class OutboxMail(models.Model):
    """One e-mail to send, rendered when the change that sends it was made. Its
    Message-ID is made then too, so every delivery attempt carries the same one and a
    duplicate (at least once: a runner killed after sending, before marking) can be
    recognised. The row is deleted once the mail server has taken the message."""

    message_id = models.CharField(max_length=255, unique=True)
    to = models.CharField(max_length=254)
    subject = models.TextField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set when the mail server refused it for good or every attempt failed.
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["failed_at", "send_after", "id"])]

    def __str__(self) -> str:
        return f"{self.message_id} to {self.to}"


class PeriodicRun(models.Model):
    """When a periodic job last started, one row per job: a runner takes a due job by
    moving `started_at` forward with one conditional UPDATE, so two machines never both
    run it, and a restart does not run it again before it is due."""

    name = models.CharField(max_length=100, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} last started {self.started_at}"
