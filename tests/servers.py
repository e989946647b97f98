"""Start a real `laurels serve` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

LAURELS = Path(sys.executable).with_name("laurels")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    base_url: str
    home: Path
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh server: nothing from the test settings leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LAURELS_"))}
    env.pop("DATABASE_URL", None)
    env.update({"LAURELS_HOME": str(home), **extra})
    return env


@contextlib.contextmanager
def laurels_server(
    home: Path, *, workers: int = 1, port: int | None = None, **extra_env: str
) -> Iterator[RunningServer]:
    """`laurels serve` on `port` (a free one unless given: a server whose address another
    party must know before it starts, such as an OAuth callback, is given its port)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(home, LAURELS_BASE_URL=base_url, PYTHONUNBUFFERED="1", **extra_env)
    log_path = home.parent / f"{home.name}-server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(LAURELS), "serve", "--port", str(port), "--workers", str(workers), "--access-log"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(base_url, home, log_path, process)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(server: RunningServer, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"laurels serve exited early:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"laurels serve did not become healthy:\n{server.log()}")


def mail_settled(server: RunningServer, timeout: float = 30) -> None:
    """Wait until the server's jobs runner has sent every mail queued so far (the
    outbox holds nothing but mails kept as failed)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db:
            left = db.execute(
                "SELECT count(*) FROM jobs_outboxmail WHERE failed_at IS NULL"
            ).fetchone()[0]
        if not left:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{left} mail(s) still in the outbox:\n{server.log()[-2000:]}")
        time.sleep(0.05)


PASSWORD = "a sturdy passphrase"


def laurels_cli(server: RunningServer, *args: str) -> str:
    """Run a `laurels` command against the server's data dir; its standard output."""
    result = subprocess.run(
        [str(LAURELS), *args],
        env=server_env(server.home, LAURELS_BASE_URL=server.base_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def api_client_for(server: RunningServer, email: str, password: str = PASSWORD) -> httpx.Client:
    """A user made with `laurels createuser` on `server`, logged in through Badgr's
    password grant: an httpx client that carries their token."""
    laurels_cli(server, "createuser", email, "--password", password)
    token = httpx.post(
        f"{server.base_url}/o/token", data={"username": email, "password": password}
    ).json()
    return httpx.Client(
        base_url=server.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )


def issuer_with_badge(
    api: httpx.Client,
    name: str,
    *,
    badge_name: str = "Badge",
    image: str | None = None,
    description: str = "Earned by doing the work.",
    criteria: str = "Do the work.",
) -> tuple[dict, dict]:
    """An issuer and one badge class made through the API of a live server."""
    from tests.factories import png_data_uri

    slug = name.lower().replace(" ", "-")
    issuer = api.post(
        "/v2/issuers",
        json={
            "name": name,
            "url": f"https://{slug}.example.org",
            "email": f"badges@{slug}.example.org",
        },
    ).json()["result"][0]
    badge = api.post(
        f"/v2/issuers/{issuer['entityId']}/badgeclasses",
        json={
            "name": badge_name,
            "description": description,
            "image": image or png_data_uri(),
            "criteriaNarrative": criteria,
        },
    ).json()["result"][0]
    return issuer, badge
