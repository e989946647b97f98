"""Mails kept as failed hold what they said (reset and verification links among it): the
daily `outbox-prune` job deletes them once `LAURELS_OUTBOX_FAILED_KEEP_DAYS` have passed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from laurels.jobs.mail import message_id
from laurels.jobs.models import OutboxMail
from laurels.jobs.periodic import JOBS, run_due_jobs

pytestmark = pytest.mark.django_db


def kept(days_ago: float | None, sent_after_days_ago: float = 0) -> OutboxMail:
    now = timezone.now()
    return OutboxMail.objects.create(
        message_id=message_id(),
        to="someone@example.org",
        subject="Reset your password",
        body="https://badges.example.org/accounts/reset/...",
        failed_at=None if days_ago is None else now - timedelta(days=days_ago),
        send_after=now - timedelta(days=sent_after_days_ago),
        created_at=now - timedelta(days=30),
    )


def test_failed_mails_are_deleted_after_the_keeping_time(settings):
    settings.LAURELS_OUTBOX_FAILED_KEEP_DAYS = 7
    old, recent = kept(days_ago=8), kept(days_ago=6)
    waiting = kept(days_ago=None, sent_after_days_ago=20)  # not failed: still to be sent
    job = next((job for job in JOBS if job.name == "outbox-prune"), None)
    assert job is not None and job.every_seconds == 24 * 3600

    assert run_due_jobs(now=0.0, jobs=[job]) == ["outbox-prune"]

    assert set(OutboxMail.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not OutboxMail.objects.filter(pk=old.pk).exists()
    settings.LAURELS_OUTBOX_FAILED_KEEP_DAYS = 5
    assert run_due_jobs(now=24 * 3600.0, jobs=[job]) == ["outbox-prune"]
    assert list(OutboxMail.objects.values_list("pk", flat=True)) == [waiting.pk]
