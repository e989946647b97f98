"""Queued tasks and the e-mail outbox: written in the caller's transaction, run by the
runner after the commit, retried when they fail, claimed by one runner at a time."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from laurels.jobs import registry, services
from laurels.jobs.mail import mail_send
from laurels.jobs.models import Job, OutboxMail
from laurels.jobs.runner import drain
from tests.smtpd import smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls():
    """A task `test-record` that records its arguments, and fails when asked to."""
    made = []

    def record(*, value, fail=False):
        if fail:
            raise RuntimeError(f"failed on {value}")
        made.append(value)

    registry.task("test-record", record, max_attempts=2)
    yield made
    registry.TASKS.pop("test-record")


def test_a_job_exists_exactly_when_the_change_that_queued_it_commits(calls):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.job_enqueue("test-record", value="undone")
        raise RuntimeError("the change fails")
    with transaction.atomic():
        services.job_enqueue("test-record", value="kept")
    assert drain("runner-a")["tasks"] == 1
    assert calls == ["kept"]
    assert not Job.objects.exists()


def test_only_registered_tasks_can_be_queued():
    with pytest.raises(ValueError, match="No task"):
        services.job_enqueue("no-such-task")


def test_a_failing_task_is_tried_again_later_then_kept_as_failed(calls):
    job = services.job_enqueue("test-record", value="x", fail=True)
    assert drain("runner-a")["tasks"] == 1
    job.refresh_from_db()
    assert job.attempts == 1 and job.failed_at is None and "failed on x" in job.last_error
    assert job.run_after > timezone.now()  # not again at once
    assert drain("runner-a")["tasks"] == 0
    Job.objects.update(run_after=timezone.now())
    assert drain("runner-a")["tasks"] == 1
    job.refresh_from_db()
    assert job.attempts == 2 and job.failed_at is not None  # its last attempt
    Job.objects.update(run_after=timezone.now())
    assert drain("runner-a")["tasks"] == 0


def test_a_claimed_job_waits_for_its_lease_to_lapse(calls):
    services.job_enqueue("test-record", value="once")
    claimed = services.job_claim("runner-a")
    assert claimed is not None
    assert services.job_claim("runner-b") is None  # runner a is on it
    # Runner a died: once its lease lapses, another runner takes the job.
    Job.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert drain("runner-b")["tasks"] == 1
    assert calls == ["once"]


def _smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def test_the_outbox_goes_out_over_one_connection_and_keeps_what_was_refused(settings):
    for to in ["one@example.org", "refused@example.org", "later@example.org", "two@example.org"]:
        mail_send(to, "accounts/email/account_exists", {})
    written = dict(OutboxMail.objects.values_list("to", "message_id"))
    with smtp_server() as (port, received):
        _smtp(settings, port)
        assert drain("runner-a") == {"tasks": 0, "mails": 2}
        assert len(received.connections) == 1
        assert received.message_ids == [written["one@example.org"], written["two@example.org"]]
        # Refused for good: kept as failed. Refused for now: tried again later.
        refused = OutboxMail.objects.get(to="refused@example.org")
        assert refused.failed_at is not None and "550" in refused.last_error
        later = OutboxMail.objects.get(to="later@example.org")
        assert later.failed_at is None and later.send_after > timezone.now()
        assert drain("runner-a")["mails"] == 0
        assert len(received.connections) == 1  # nothing due: no connection at all


def test_mail_goes_out_between_tasks_not_after_the_whole_queue(settings):
    """A long queue (the daily re-verification, in chunks) does not hold back a
    password-reset mail that came due while it ran."""
    seen_by_second_task = []
    with smtp_server() as (port, received):
        _smtp(settings, port)
        registry.task(
            "test-mail",
            lambda: mail_send("reset@example.org", "accounts/email/account_exists", {}),
        )
        registry.task("test-look", lambda: seen_by_second_task.append(len(received.message_ids)))
        try:
            services.job_enqueue("test-mail")
            services.job_enqueue("test-look")
            assert drain("runner-a") == {"tasks": 2, "mails": 1}
        finally:
            registry.TASKS.pop("test-mail")
            registry.TASKS.pop("test-look")
    assert seen_by_second_task == [1]


def test_a_server_that_hangs_up_is_called_again_at_once(settings):
    for n in range(5):
        mail_send(f"r{n}@example.org", "accounts/email/account_exists", {})
    with smtp_server(messages_per_connection=2) as (port, received):
        _smtp(settings, port)
        assert drain("runner-a")["mails"] == 5
        assert received.distinct() == 5 and len(received.connections) == 3
    assert not OutboxMail.objects.exists()


def test_a_mail_server_that_is_down_leaves_the_outbox_for_later(settings):
    mail_send("one@example.org", "accounts/email/account_exists", {})
    with smtp_server() as (port, _):
        pass  # closed again: nothing listens on the port
    _smtp(settings, port)
    assert drain("runner-a")["mails"] == 0
    mail = OutboxMail.objects.get()
    assert mail.failed_at is None and mail.claimed_until is None  # the next pass tries


def test_a_claimed_mail_is_not_sent_by_another_runner():
    mail_send("one@example.org", "accounts/email/account_exists", {})
    assert len(services.outbox_claim("runner-a", 10)) == 1
    assert services.outbox_claim("runner-b", 10) == []
