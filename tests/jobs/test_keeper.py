"""`laurels serve` keeps its jobs runner alive: a runner killed is started again (the
restart logged), mail queued after the kill is still delivered to a real SMTP server, and
the runner is stopped with the server."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from laurels.jobs.keeper import RunnerKeeper
from tests.correctness.test_outbox import wait_for
from tests.servers import api_client_for, issuer_with_badge, laurels_server
from tests.smtpd import smtp_server


def runner_pids(server_pid: int) -> list[int]:
    """The `laurels jobs loop` children of the server process, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == server_pid and b"jobs\0loop" in command:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.server
def test_a_killed_jobs_runner_is_started_again_and_mail_still_goes_out(tmp_path):
    with smtp_server() as (port, received):
        mail_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
        with laurels_server(tmp_path / "var", **mail_env) as server:
            api = api_client_for(server, "owner@example.org")
            _, badge = issuer_with_badge(api, "Kept Academy")
            wait_for(lambda: runner_pids(server.process.pid), 30, "the jobs runner")
            [first] = runner_pids(server.process.pid)

            killed = time.monotonic()
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: not alive(first), 10, "the runner to die")
            told = api.post(
                f"/v2/badgeclasses/{badge['entityId']}/assertions",
                json={"recipient": {"identity": "still-told@example.org"}, "notify": True},
            )
            assert told.status_code == 201, told.text[:300]

            wait_for(lambda: received.count() == 1, 30, "the award mail")
            print(f"\nmail delivered {time.monotonic() - killed:.2f} s after the kill")
            [second] = runner_pids(server.process.pid)
            assert second != first
            assert "starting it again" in server.log()
        # Stopped with the server, and reaped.
        wait_for(lambda: not alive(second), 10, "the runner to stop with the server")


def test_a_runner_that_keeps_dying_is_started_again_ever_more_slowly(caplog):
    """A runner that cannot start (its database away, say) must not spin: the pause
    before each restart doubles, and stopping does not wait for the pause to end."""
    caplog.set_level(logging.WARNING, logger="laurels.jobs.keeper")
    keeper = RunnerKeeper([sys.executable, "-c", "raise SystemExit(3)"])

    def pauses() -> list[str]:
        return [r.getMessage() for r in caplog.records if "starting it again" in r.getMessage()]

    keeper.start()
    try:
        wait_for(lambda: len(pauses()) == 3, 20, "a third exit")
    finally:
        stopping = time.monotonic()
        keeper.stop()
    assert time.monotonic() - stopping < 2  # in the middle of a 4 s pause
    assert pauses() == [
        f"The jobs runner exited (code 3); starting it again in {pause} s" for pause in (1, 2, 4)
    ]
    restarted = [r.created for r in caplog.records if "is started again" in r.getMessage()]
    assert len(restarted) == keeper.restarts == 2
    assert restarted[1] - restarted[0] >= 2
