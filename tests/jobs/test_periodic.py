import pytest

from laurels.jobs.periodic import JOBS, PeriodicJob, run_due_jobs

pytestmark = pytest.mark.django_db


def test_a_job_runs_when_due_and_not_before():
    runs = []
    job = PeriodicJob("test-job", 3600, lambda: runs.append(1))
    assert run_due_jobs(now=1000.0, jobs=[job]) == ["test-job"]
    assert run_due_jobs(now=2000.0, jobs=[job]) == []
    assert run_due_jobs(now=4700.0, jobs=[job]) == ["test-job"]
    assert len(runs) == 2


def test_a_failing_job_does_not_stop_the_others(caplog):
    def broken():
        raise RuntimeError("boom")

    runs = []
    jobs = [PeriodicJob("broken", 60, broken), PeriodicJob("fine", 60, lambda: runs.append(1))]
    assert run_due_jobs(now=0.0, jobs=jobs) == ["broken", "fine"]
    assert runs == [1]
    assert "Periodic job broken failed" in caplog.text


def test_the_backpack_reverify_job_is_registered():
    assert "backpack-reverify" in [job.name for job in JOBS]
    # No imports and no stored answers: nothing to check or prune.
    assert run_due_jobs(now=0.0) == [job.name for job in JOBS]  # every job, the first time


def test_jobs_run_from_the_cli(capsys):
    from laurels import cli

    assert cli.main(["jobs", "run"]) == 0
    assert "backpack-reverify" in capsys.readouterr().out
    assert cli.main(["jobs", "run"]) == 0  # not due again within a day
    assert "nothing was due" in capsys.readouterr().out
