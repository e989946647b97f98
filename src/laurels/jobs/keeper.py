"""Keeping the embedded jobs runner alive beside `laurels serve`.

The server starts its runner as a child process (`laurels jobs loop`, `laurels.cli`). If
that child died (a crash, the kernel's out-of-memory killer, an operator's `kill`) and
nobody noticed, mail would wait in the outbox and periodic jobs would stop until the
server restarted. So a thread of the server's main process waits on the child and starts
it again, each restart logged, after a pause that doubles while it keeps dying (a runner
that cannot start, say with its database away, must not spin), and that is short again
once a runner has lived a while. On shutdown the server stops the child and reaps it.

A thread is safe here although the server forks its workers: it only waits on the
child, sleeps and starts a process, and holds no lock a forked worker could need.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

logger = logging.getLogger(__name__)

# Seconds before the first restart, the longest pause, and how long a runner must have
# lived for the pause to start again from the first.
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
LIVED_LONG_ENOUGH = 60.0
# How long a runner asked to stop may take before it is killed.
STOP_GRACE = 10.0


class RunnerKeeper:
    """Runs `command` as a child process and starts it again whenever it exits, until
    `stop()`."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._child: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._watch, name="jobs-runner-keeper", daemon=True)

    def start(self) -> None:
        self._child = self._spawn()
        self._thread.start()

    def stop(self) -> None:
        """Stop the runner and wait for it (killed after `STOP_GRACE` seconds): what it
        was sending when stopped is sent again after its lease, with the same
        Message-ID (`laurels.jobs.mail`)."""
        with self._lock:
            self._stopping.set()
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._thread.join(timeout=STOP_GRACE)

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.command)  # noqa: S603 (our own command)

    def _watch(self) -> None:
        pause, child = FIRST_PAUSE, self._child
        while True:
            started = time.monotonic()
            code = child.wait() if child is not None else "none (it did not start)"
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= LIVED_LONG_ENOUGH:
                pause = FIRST_PAUSE
            logger.warning(
                "The jobs runner exited (code %s); starting it again in %.0f s", code, pause
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE)
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._child = child = self._spawn()
                except OSError:
                    logger.exception("The jobs runner could not be started")
                    child = None
                    continue
                self.restarts += 1
            logger.warning("The jobs runner is started again (pid %s)", child.pid)
