"""Waking the embedded runner the moment work is queued.

The runner listens on a UDP socket on loopback and writes its port to a file in
LAURELS_HOME; whoever commits queued work (a server worker, a CLI command) sends it one
datagram. A wake-up carries nothing and may be lost (no runner yet, another machine):
the rows are the work, and the runner also looks for them every
`LAURELS_JOBS_POLL_SECONDS`. Sending never blocks and never fails the caller.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from django.conf import settings


def port_file() -> Path:
    return Path(settings.LAURELS_HOME) / "jobs-wake-port"


def wake() -> None:
    """Nudge the runner on this machine, if there is one."""
    with contextlib.suppress(OSError, ValueError):
        port = int(port_file().read_text())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            sender.sendto(b"!", ("127.0.0.1", port))


def listen() -> socket.socket:
    """A socket the runner waits on, its port published for `wake` (written whole)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    path = port_file()
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    temporary.write_text(str(listener.getsockname()[1]))
    temporary.replace(path)
    return listener


def drain(listener: socket.socket) -> None:
    """Read every wake-up waiting: one look at the queue serves them all."""
    with contextlib.suppress(BlockingIOError):
        while True:
            listener.recv(64)
