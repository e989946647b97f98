import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections

from laurels.jobs import services
from laurels.jobs.models import PeriodicRun
from laurels.jobs.periodic import JOBS, PeriodicJob, run_due_jobs

pytestmark = pytest.mark.django_db


def test_a_job_runs_when_due_and_not_before():
    runs = []
    job = PeriodicJob("test-job", 3600, lambda: runs.append(1))
    assert run_due_jobs(now=1000.0, jobs=[job]) == ["test-job"]
    assert run_due_jobs(now=2000.0, jobs=[job]) == []
    assert run_due_jobs(now=4700.0, jobs=[job]) == ["test-job"]
    assert len(runs) == 2


def test_when_a_job_last_started_is_kept_in_the_database(django_assert_num_queries):
    """Not in the cache: a restart (or another machine) does not run it again early."""
    from django.core.cache import cache

    job = PeriodicJob("daily", 24 * 3600, lambda: None)
    assert run_due_jobs(now=1000.0, jobs=[job]) == ["daily"]
    cache.clear()  # a restart without Redis
    assert run_due_jobs(now=2000.0, jobs=[job]) == []
    run = PeriodicRun.objects.get(name="daily")
    assert run.started_at == datetime.fromtimestamp(1000.0, UTC)
    assert run.finished_at is not None and run.last_error == ""
    with django_assert_num_queries(1):  # nothing due: one read, no write
        assert run_due_jobs(now=3000.0, jobs=[job]) == []


def test_a_due_job_is_claimed_once():
    moment = datetime.fromtimestamp(5000.0, UTC)
    assert services.periodic_claim("once", 60, moment)
    assert not services.periodic_claim("once", 60, moment)  # the other runner


def test_a_failing_job_does_not_stop_the_others(caplog):
    def broken():
        raise RuntimeError("boom")

    runs = []
    jobs = [PeriodicJob("broken", 60, broken), PeriodicJob("fine", 60, lambda: runs.append(1))]
    assert run_due_jobs(now=0.0, jobs=jobs) == ["broken", "fine"]
    assert runs == [1]
    assert "Periodic job broken failed" in caplog.text
    assert "boom" in PeriodicRun.objects.get(name="broken").last_error


def test_the_apps_register_their_jobs():
    names = {job.name for job in JOBS}
    expected = {"backpack-reverify", "idempotency-prune", "accounts-claims-expire", "oauth-prune"}
    assert names >= expected
    # No imports and no stored answers: nothing to check or prune.
    assert run_due_jobs(now=0.0) == [job.name for job in JOBS]  # every job, the first time


def test_jobs_run_from_the_cli(capsys):
    from laurels import cli

    assert cli.main(["jobs", "run"]) == 0
    assert "backpack-reverify" in capsys.readouterr().out
    assert cli.main(["jobs", "run"]) == 0  # not due again within a day
    assert "nothing was due" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_concurrent_runners_take_a_due_job_once():
    """Runners on several machines share one PostgreSQL database: one wins each turn."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has one writer at a time")
    moment = datetime.fromtimestamp(9000.0, UTC)
    services.periodic_claim("shared", 3600, datetime.fromtimestamp(0.0, UTC))
    start, wins = threading.Barrier(8), []

    def runner() -> None:
        try:
            start.wait()
            wins.append(services.periodic_claim("shared", 3600, moment))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
