"""Side effects leave the request: award e-mails are outbox rows written in the awards'
own transaction, and the jobs runner delivers them after the commit, at least once, to
a real SMTP server, also when it is killed mid-delivery and started again."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import mail
from django.db import transaction

from laurels.issuing.models import Assertion
from laurels.issuing.services import AwardInput, Recipient, assertions_award
from laurels.jobs.models import OutboxMail
from laurels.jobs.runner import drain
from tests.factories import BadgeClassFactory, IssuerFactory, UserFactory
from tests.servers import (
    LAURELS,
    RunningServer,
    api_client_for,
    issuer_with_badge,
    laurels_server,
    server_env,
)
from tests.smtpd import Received, smtp_server

BATCH = 10_000


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def outbox_ids(home: Path) -> set[str]:
    """The Message-IDs waiting in a server's outbox (read beside it, as another process)."""
    with sqlite3.connect(home / "laurels.sqlite3") as db:
        return {row[0] for row in db.execute("SELECT message_id FROM jobs_outboxmail")}


def start_runner(server: RunningServer, mail_env: dict[str, str]) -> subprocess.Popen:
    """A `laurels jobs loop` on the server's data, as `laurels serve` would start."""
    env = server_env(server.home, LAURELS_BASE_URL=server.base_url, **mail_env)
    log = (server.home.parent / "runner.log").open("a")
    return subprocess.Popen([str(LAURELS), "jobs", "loop"], env=env, stdout=log, stderr=log)


def awards(prefix: str, count: int) -> list[dict]:
    return [{"recipient": {"identity": f"{prefix}{n}@example.org"}} for n in range(count)]


# --- in the awards' transaction -------------------------------------------------------------


@pytest.mark.django_db
def test_award_mails_are_written_in_the_awards_transaction_and_roll_back_with_it():
    badge_class = BadgeClassFactory()
    batch = [AwardInput(recipient=Recipient(identity=f"r{n}@example.org")) for n in range(3)]
    with pytest.raises(RuntimeError), transaction.atomic():
        assertions_award(badge_class=badge_class, awards=batch, actor=None, notify=True)
        # Written now, inside the transaction (not by an on-commit hook, which a process
        # that dies between commit and hook would lose).
        assert OutboxMail.objects.count() == 3
        raise RuntimeError("the request fails after awarding")
    assert not Assertion.objects.exists()
    assert not OutboxMail.objects.exists()

    assertions_award(badge_class=badge_class, awards=batch, actor=None, notify=True)
    mails = OutboxMail.objects.order_by("to")
    assert [mail.to for mail in mails] == [f"r{n}@example.org" for n in range(3)]
    assert len({mail.message_id for mail in mails}) == 3
    assert all(badge_class.name in mail.subject for mail in mails)


@pytest.mark.django_db
def test_every_mail_laurels_sends_waits_in_the_outbox_for_the_runner(client):
    """Sign-up, password reset, password changed, staff invitation, award: each one an
    outbox row with its own Message-ID, and nothing sent until the runner runs."""
    from laurels.accounts import services as accounts
    from laurels.issuing import services as issuing

    owner = UserFactory(email="owner@example.org")
    accounts.user_signup(email="new@example.org", password="a sturdy passphrase")
    client.post("/accounts/password/reset/", {"email": "owner@example.org"})
    accounts.password_set(user=owner, password="another sturdy passphrase")
    issuer = IssuerFactory(owner=owner)
    issuing.staff_invite(issuer=issuer, email="staff@example.org", role="staff", actor=owner)
    badge_class = BadgeClassFactory(issuer=issuer)
    award = AwardInput(recipient=Recipient(identity="earner@example.org"))
    assertions_award(badge_class=badge_class, awards=[award], actor=owner, notify=True)

    assert mail.outbox == []
    assert OutboxMail.objects.count() == 5
    written = set(OutboxMail.objects.values_list("message_id", flat=True))
    assert drain()["mails"] == 5
    sent = {message.extra_headers["Message-ID"] for message in mail.outbox}
    assert sent == written
    assert sorted(message.to[0] for message in mail.outbox) == [
        "earner@example.org",
        "new@example.org",
        "owner@example.org",
        "owner@example.org",
        "staff@example.org",
    ]


# --- a 10,000-award batch, delivered by the runner -----------------------------------------


def _deliver_everything(server: RunningServer, mail_env: dict, received: Received) -> None:
    """Start the runner, kill it mid-delivery, start it again: every mail arrives."""
    expected = outbox_ids(server.home)
    assert len(expected) == BATCH
    runner = start_runner(server, mail_env)
    try:
        wait_for(lambda: received.count() >= BATCH // 3, 60, "the first third of the mails")
    finally:
        runner.kill()  # mid-delivery: no chance to mark what it sent
        runner.wait()
    assert received.distinct() < BATCH
    runner = start_runner(server, mail_env)
    try:
        wait_for(lambda: not outbox_ids(server.home), 60, "the outbox to empty")
    finally:
        runner.terminate()
        runner.wait()
    with received.lock:
        delivered = set(received.message_ids)
    assert len(delivered) == BATCH
    assert delivered == expected  # each with the Message-ID made when it was written
    print(f"\nmails received {received.count()}, distinct {len(delivered)}, ", end="")
    print(f"delivered again after the kill {received.count() - len(delivered)}")


@pytest.mark.server
def test_a_10000_award_batch_with_notify_leaves_mail_to_the_runner(tmp_path):
    with smtp_server() as (port, received):
        mail_env = {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "LAURELS_JOBS_LEASE_SECONDS": "3",
        }
        home = tmp_path / "var"
        with laurels_server(home, LAURELS_JOBS_IN_PROCESS="false", **mail_env) as server:
            api = api_client_for(server, "owner@example.org")
            api.timeout = 300
            _, badge = issuer_with_badge(api, "Mail Academy")
            path = f"/v2/badgeclasses/{badge['entityId']}/issue"

            started = time.perf_counter()
            quiet = api.post(path, json={"assertions": awards("quiet", BATCH)})
            without_notify = time.perf_counter() - started
            assert quiet.status_code == 201, quiet.text[:300]
            assert not outbox_ids(server.home)

            opened, started = time.time(), time.perf_counter()
            loud = api.post(path, json={"assertions": awards("told", BATCH), "notify": True})
            with_notify, answered = time.perf_counter() - started, time.time()
            assert loud.status_code == 201, loud.text[:300]
            print(f"\n10,000 awards: {without_notify:.2f} s without notify, ", end="")
            print(f"{with_notify:.2f} s with notify")
            # No mail server was called while the request ran (nor since: no runner yet),
            # and every mail is a row in the outbox, committed with the awards.
            assert [t for t in received.connections if opened <= t <= answered] == []
            assert received.connections == []

            _deliver_everything(server, mail_env, received)
            # One connection per delivery run, not one per mail.
            assert len(received.connections) <= 4


@pytest.mark.server
def test_the_runner_is_woken_when_mail_is_queued(tmp_path):
    """Queued work starts at once: the runner polls only every 60 s here."""
    with smtp_server() as (port, received):
        mail_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
        home = tmp_path / "var"
        with laurels_server(home, LAURELS_JOBS_IN_PROCESS="false", **mail_env) as server:
            api = api_client_for(server, "owner@example.org")
            _, badge = issuer_with_badge(api, "Quick Academy")
            runner = start_runner(server, {**mail_env, "LAURELS_JOBS_POLL_SECONDS": "60"})
            try:
                wait_for((server.home / "jobs-wake-port").exists, 30, "the runner to listen")
                time.sleep(2)  # its first pass is over: it waits for a wake-up or 60 s
                started = time.monotonic()
                told = api.post(
                    f"/v2/badgeclasses/{badge['entityId']}/assertions",
                    json={"recipient": {"identity": "quick@example.org"}, "notify": True},
                )
                assert told.status_code == 201, told.text[:300]
                wait_for(lambda: received.count() == 1, 10, "the award mail")
                print(f"\nmail delivered {time.monotonic() - started:.2f} s after the award")
            finally:
                runner.terminate()
                runner.wait()
