"""Delivery keeps to what the runner holds and tells passing trouble from refusal for
good: a lapsed claim stops the run, and a refused sender fails no mail for good."""

from datetime import timedelta

import pytest
from django.utils import timezone

from laurels.jobs import services
from laurels.jobs.mail import mail_send
from laurels.jobs.models import OutboxMail
from laurels.jobs.runner import drain
from tests.jobs.test_queue import _smtp
from tests.smtpd import smtp_server

pytestmark = pytest.mark.django_db


def _queue(count: int) -> None:
    for n in range(count):
        mail_send(f"r{n}@example.org", "accounts/email/account_exists", {})


def test_a_refused_sender_fails_no_mail_for_good(settings):
    """A 530 to MAIL FROM (the server wants authentication: our configuration, not the
    mail) ends the run and gives every mail back, to be sent once it is fixed."""
    _queue(3)
    with smtp_server(refuse_senders=1) as (port, received):
        _smtp(settings, port)
        assert drain("runner-a")["mails"] == 0
        mails = list(OutboxMail.objects.all())
        assert [mail.failed_at for mail in mails] == [None] * 3
        assert {mail.claimed_by for mail in mails} == {""}
        assert "530" in mails[0].last_error
        OutboxMail.objects.update(send_after=timezone.now())  # the back-off has passed
        assert drain("runner-a")["mails"] == 3
        assert received.distinct() == 3
    assert not OutboxMail.objects.exists()


def test_a_runner_whose_claim_lapsed_stops_sending(settings):
    """A mail server slower than the lease: after the first mail the claim on the rest
    has lapsed (another runner may have them), so the run stops instead of sending them."""
    _queue(3)
    settings.LAURELS_JOBS_LEASE_SECONDS = 2
    with smtp_server(seconds_per_message=2.5) as (port, received):
        _smtp(settings, port)
        assert drain("runner-a")["mails"] == 1
        assert received.count() == 1
    assert OutboxMail.objects.count() == 2


def test_only_the_runner_holding_a_mail_marks_it_sent_or_failed():
    _queue(2)
    first, second = services.outbox_claim("runner-a", 10)
    # runner-a's lease lapses and runner-b claims the mails.
    OutboxMail.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert len(services.outbox_claim("runner-b", 10)) == 2
    assert services.outbox_renew("runner-a", [first, second]) is False
    services.outbox_sent(first, "runner-a")
    services.outbox_failed([second], "550 no", runner="runner-a", permanent=True)
    assert OutboxMail.objects.filter(claimed_by="runner-b", failed_at__isnull=True).count() == 2
    assert services.outbox_renew("runner-b", [first, second]) is True
