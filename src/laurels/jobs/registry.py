"""The tasks and periodic jobs the domain apps register, by name.

The jobs app sits below every domain app and imports none of them: an app registers
its work here from its `AppConfig.ready()`, and the runner (or, later, any other
backend) finds it by name. Queued work names its task, so a row written by one release
can be run by the next as long as the name stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """Work queued with `laurels.jobs.services.job_enqueue`, called with the keyword
    arguments given there (JSON values). It may run more than once (at least once): a
    runner that dies mid-task, or a task that outlives `timeout_seconds`, leaves it to
    run again, so a task must be safe to repeat. `gave_up`, when given, is called with
    the same arguments once the last attempt has failed, so that work left half done
    can say so (a batch whose page would otherwise wait for it forever)."""

    name: str
    run: Callable[..., object]
    timeout_seconds: int = 15 * 60
    max_attempts: int = 8
    gave_up: Callable[..., object] | None = None


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    run: Callable[[], object]


TASKS: dict[str, Task] = {}
JOBS: list[PeriodicJob] = []


def task(name: str, run: Callable[..., object], **options) -> Task:
    """Register `run` as the task `name` (again: the newest registration wins)."""
    TASKS[name] = Task(name, run, **options)
    return TASKS[name]


def periodic(name: str, every_seconds: int, run: Callable[[], object]) -> PeriodicJob:
    """Register `run` to run every `every_seconds`, by one runner at a time."""
    job = PeriodicJob(name, every_seconds, run)
    JOBS[:] = [other for other in JOBS if other.name != name] + [job]
    return job
