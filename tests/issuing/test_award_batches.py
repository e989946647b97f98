"""CSV files of awards (`issuing.award_files`) and award batches (`services.award_batch_*`):
every problem by line, nothing kept or awarded with a bad row, 10,000 rows, and a job
that run twice awards each row once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from laurels.core.errors import Conflict
from laurels.issuing import services
from laurels.issuing.award_files import UnreadableCsv, csv_checked, csv_rows
from laurels.issuing.models import Assertion, AwardBatch, AwardBatchStatus, IssuerStaff, Role
from laurels.jobs import registry
from laurels.jobs.models import Job, OutboxMail
from laurels.jobs.runner import drain
from tests.factories import AssertionFactory, BadgeClassFactory, UserFactory

pytestmark = pytest.mark.django_db


def csv_of(count: int, *, header: bool = True, start: int = 0) -> bytes:
    lines = ["identity,name,narrative,evidence URL"] if header else []
    lines += [
        f"learner{n}@example.org,Learner {n},Passed,https://e.example.org/{n}"
        for n in range(start, start + count)
    ]
    return ("\n".join(lines) + "\n").encode()


def batch_of(badge_class, data: bytes, **options) -> AwardBatch:
    """A checked batch started by a member of the badge class's issuer's staff."""
    checked = csv_checked(data, badge_class=badge_class, max_rows=services.MAX_BATCH, **options)
    assert not checked.problems, checked.problems
    member = UserFactory()
    IssuerStaff.objects.create(issuer=badge_class.issuer, user=member, role=Role.STAFF)
    return services.award_batch_create(
        badge_class=badge_class, rows=checked.rows, actor=member, **options
    )


# Reading and checking a file


def test_rows_keep_their_lines_and_columns_bom_and_header_too():
    data = (
        "\ufeffidentity,name\r\n a@example.org ,Ada\r\n\r\n"
        '"b@example.org","Multi\nline"\r\nc@example.org\r\n'
    )
    checked = csv_rows(data.encode())
    assert not checked.problems
    assert [(r["line"], r["identity"], r["name"]) for r in checked.rows] == [
        (2, "a@example.org", "Ada"),
        (4, "b@example.org", "Multi\nline"),
        (6, "c@example.org", ""),
    ]


def test_every_problem_is_named_by_its_line():
    badge_class = BadgeClassFactory()
    data = (
        b"a@example.org\n"
        b"not-an-address\n"
        b"b@example.org,,,ftp://nope\n"
        b"c@example.org,,,,extra\n"
        b"\n"
        b"d@example.org\n"
        b"nope-again\n"
        b"e@example.org," + b"n" * 256 + b"\n"
    )
    checked = csv_checked(data, badge_class=badge_class)
    assert [str(p) for p in checked.problems] == [
        "Line 2: not-an-address is not a valid email identity.",
        "Line 3: ftp://nope is not a valid URL.",
        "Line 4: Too many columns: identity, name, narrative, evidence URL.",
        "Line 7: nope-again is not a valid email identity.",
        "Line 8: The name is longer than 255 characters.",
    ]


def test_duplicates_in_the_file_and_of_live_awards_when_refused():
    badge_class = BadgeClassFactory()
    AssertionFactory(badge_class=badge_class, recipient_plaintext="held@example.org")
    AssertionFactory(
        badge_class=badge_class, recipient_plaintext="revoked@example.org", revoked_for=True
    )
    data = b"held@example.org\nnew@example.org\nNew@Example.org\nrevoked@example.org\n"
    refused = csv_checked(data, badge_class=badge_class, allow_duplicate_awards=False)
    assert [str(p) for p in refused.problems] == [
        "Line 1: held@example.org already holds this badge.",
        "Line 3: new@example.org appears more than once in the file.",
    ]
    assert not csv_checked(data, badge_class=badge_class).problems


def test_other_recipient_types():
    badge_class = BadgeClassFactory()
    ok = csv_checked(b"https://ada.example.org/\n", badge_class=badge_class, recipient_type="url")
    assert not ok.problems
    phones = csv_checked(
        b"+44 20 7946 0000\nnot a phone\n", badge_class=badge_class, recipient_type="telephone"
    )
    assert [p.line for p in phones.problems] == [2]


def test_unreadable_files():
    badge_class = BadgeClassFactory()
    with pytest.raises(UnreadableCsv, match="not UTF-8"):
        csv_rows(b"caf\xe9@example.org\n")
    with pytest.raises(UnreadableCsv, match="NUL"):
        csv_rows(b"a@example.org\x00\n")
    with pytest.raises(UnreadableCsv, match="more than 3 rows"):
        csv_rows(csv_of(4), max_rows=3)
    empty = csv_checked(b"identity\n\n", badge_class=badge_class)
    assert [str(p) for p in empty.problems] == ["Line 1: The file has no rows to award."]
    broken = csv_rows(b'a@example.org\n"b@example.org\n')
    assert broken.problems and broken.problems[0].line == 2
    long = csv_rows(b"a@example.org," + b"x" * 10_001 + b"\n")
    assert "longer than" in long.problems[0].message


def test_ten_thousand_rows_are_checked_in_a_few_queries():
    badge_class = BadgeClassFactory()
    data = csv_of(services.MAX_BATCH)
    with CaptureQueriesContext(connection) as queries:
        checked = csv_checked(
            data, badge_class=badge_class, allow_duplicate_awards=False, max_rows=services.MAX_BATCH
        )
    assert not checked.problems and len(checked.rows) == services.MAX_BATCH
    assert checked.rows[-1]["line"] == services.MAX_BATCH + 1
    assert len(queries) <= services.MAX_BATCH // 500 + 2  # lookups of live awards, by 500
    with pytest.raises(UnreadableCsv):
        csv_rows(csv_of(services.MAX_BATCH + 1), max_rows=services.MAX_BATCH)


# Batches and their job


def test_a_batch_waits_until_started_then_the_job_awards_every_row():
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(3))
    assert batch.status == AwardBatchStatus.READY and batch.total == 3
    drain("runner-a")
    assert not Assertion.objects.exists()  # not started: no job
    services.award_batch_start(batch=batch, notify=True)
    assert Job.objects.filter(task=services.AWARD_BATCH_TASK).count() == 1
    with pytest.raises(Conflict):
        services.award_batch_start(batch=batch)
    drain("runner-a")
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.DONE and batch.done == 3
    awards = {a.recipient_plaintext: a for a in Assertion.objects.filter(badge_class=badge_class)}
    assert [row[2] for row in batch.results] == [
        awards[f"learner{n}@example.org"].entity_id for n in range(3)
    ]
    assert [row[:2] for row in batch.results] == [
        [n + 2, f"learner{n}@example.org"] for n in range(3)
    ]
    one = awards["learner1@example.org"]
    assert one.recipient_name == "Learner 1" and one.narrative == "Passed"
    assert one.evidence == [{"url": "https://e.example.org/1"}]
    assert one.created_by == batch.created_by
    assert OutboxMail.objects.count() == 0  # drained: sent
    assert not Job.objects.exists()


def test_a_job_run_again_goes_on_and_never_awards_a_row_twice():
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(1200))
    services.award_batch_start(batch=batch)
    # A runner that died after its first chunk committed: the rest is still to do.
    services._award_batch_step(batch.pk)
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.RUNNING
    assert batch.done == services.AWARD_BATCH_CHUNK == len(batch.results)
    services.award_batch_run(batch=batch.pk)
    services.award_batch_run(batch=batch.pk)  # at least once: again, for nothing
    drain("runner-b")
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.DONE and batch.done == 1200
    assert len(batch.results) == 1200
    assert Assertion.objects.filter(badge_class=badge_class).count() == 1200
    assert len({row[2] for row in batch.results}) == 1200


def test_a_row_refused_when_awarded_says_why_and_the_others_are_made():
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(3, header=False), allow_duplicate_awards=False)
    # Awarded meanwhile, after the check: the chunk is tried row by row.
    AssertionFactory(badge_class=badge_class, recipient_plaintext="learner1@example.org")
    services.award_batch_start(batch=batch)
    drain("runner-a")
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.DONE
    assert [bool(row[2]) for row in batch.results] == [True, False, True]
    assert "already holds" in batch.results[1][3]
    assert Assertion.objects.filter(badge_class=badge_class).count() == 3


@pytest.mark.parametrize("leaves", ["removed from the staff", "account closed"])
def test_a_batch_whose_starter_left_awards_no_further_chunk(leaves):
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(services.AWARD_BATCH_CHUNK + 2))
    services.award_batch_start(batch=batch)
    services._award_batch_step(batch.pk)  # the first chunk, while they were on the staff
    if leaves == "removed from the staff":
        IssuerStaff.objects.filter(user=batch.created_by).delete()
    else:
        type(batch.created_by).objects.filter(pk=batch.created_by.pk).update(is_active=False)
    services.award_batch_run(batch=batch.pk)
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.FAILED and batch.done == batch.total
    assert Assertion.objects.filter(badge_class=badge_class).count() == services.AWARD_BATCH_CHUNK
    refused = batch.results[services.AWARD_BATCH_CHUNK :]
    assert len(refused) == 2 and all(not row[2] for row in refused)
    assert all(row[3] == services.BATCH_CREATOR_LEFT for row in refused)


def test_a_batch_whose_job_fails_every_attempt_ends_failed_not_running(monkeypatch, settings):
    """Its page polls until the batch ends: a job that gave up must end it too."""
    settings.LAURELS_KEEP_DOCUMENTS = False  # only the batch's own task is queued
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(services.AWARD_BATCH_CHUNK + 2))
    services.award_batch_start(batch=batch)
    services._award_batch_step(batch.pk)  # the first chunk is awarded

    def broken(**_):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "assertions_award", broken)
    monkeypatch.setattr(services, "assertion_award", broken)
    attempts = registry.TASKS[services.AWARD_BATCH_TASK].max_attempts
    for _ in range(attempts):
        Job.objects.update(run_after=timezone.now())
        batch.refresh_from_db()
        assert batch.status == AwardBatchStatus.RUNNING  # retried meanwhile
        assert drain("runner-a")["tasks"] == 1
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.FAILED and batch.done == batch.total
    refused = batch.results[services.AWARD_BATCH_CHUNK :]
    assert len(refused) == 2 and all(row[3] == services.BATCH_GAVE_UP for row in refused)
    assert all(row[2] for row in batch.results[: services.AWARD_BATCH_CHUNK])
    assert Job.objects.get().failed_at is not None


def test_ten_thousand_rows_in_a_job_with_queries_per_chunk_not_per_row():
    badge_class = BadgeClassFactory()
    batch = batch_of(badge_class, csv_of(services.MAX_BATCH))
    services.award_batch_start(batch=batch)
    with CaptureQueriesContext(connection) as queries:
        services.award_batch_run(batch=batch.pk)
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.DONE and batch.done == services.MAX_BATCH
    assert Assertion.objects.filter(badge_class=badge_class).count() == services.MAX_BATCH
    chunks = services.MAX_BATCH // services.AWARD_BATCH_CHUNK
    assert len(queries) <= 20 * (chunks + 1), len(queries)


def test_a_batch_needs_rows_and_at_most_the_limit():
    badge_class = BadgeClassFactory()
    with pytest.raises(ValidationError):
        services.award_batch_create(badge_class=badge_class, rows=[], actor=None)
    rows = [{"line": 1, "identity": "a@example.org"}] * (services.MAX_BATCH + 1)
    with pytest.raises(ValidationError):
        services.award_batch_create(badge_class=badge_class, rows=rows, actor=None)


def test_batches_never_started_or_long_finished_are_pruned_and_their_awards_stay():
    from datetime import timedelta

    from django.utils import timezone

    badge_class = BadgeClassFactory()
    unstarted, queued, finished = (batch_of(badge_class, csv_of(1)) for _ in range(3))
    services.award_batch_start(batch=queued)
    services.award_batch_start(batch=finished)
    services.award_batch_run(batch=finished.pk)
    later = timezone.now() + timedelta(hours=25)
    assert services.award_batches_prune(later) == 1
    assert not AwardBatch.objects.filter(pk=unstarted.pk).exists()
    assert set(AwardBatch.objects.values_list("pk", flat=True)) == {queued.pk, finished.pk}
    assert services.award_batches_prune(timezone.now() + timedelta(days=91)) == 1
    assert list(AwardBatch.objects.values_list("pk", flat=True)) == [queued.pk]
    assert Assertion.objects.filter(badge_class=badge_class).count() == 1


ADDRESSES = [
    "a@b.co",
    "x@[127.0.0.1]",
    '"quoted"@example.org',
    "a@localhost",
    "a@xn--e1afmkfd.xn--p1ai",
    "bad@",
    "@example.org",
    "a b@example.org",
    "ü@example.org",
    "a@-x.org",
    "a@x..org",
    "a@" + "x" * 64 + ".org",
    "",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_recipient_address_check_is_djangos(address):
    """`issuing.services.validate_email` compiles Django's patterns up front; it must
    accept and refuse exactly what Django's own `validate_email` does."""

    def accepted(check) -> bool:
        try:
            check(address)
        except ValidationError:
            return False
        return True

    assert accepted(services.validate_email) == accepted(validate_email)
