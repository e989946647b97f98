"""A revocation shows on the very next request on every worker and every app server.

Real `laurels serve` processes: one server with two workers on its embedded database
(each worker has its own per-process cache), and two servers sharing a PostgreSQL
database, without and with a shared Redis cache. Every request opens a new connection,
so the workers take turns.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests.servers import (
    LAURELS,
    PASSWORD,
    RunningServer,
    issuer_with_badge,
    laurels_server,
    server_env,
)

pytestmark = pytest.mark.server

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own: flushed here
JSON_LD = {"Accept": "application/ld+json"}
ASKED = 12  # requests per server, each on a new connection


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for the servers; dropped afterwards."""
    try:
        admin = psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        pytest.skip(f"needs PostgreSQL at {POSTGRES} (trust authentication)")
    name = f"laurels_correctness_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        store.flushdb()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS_URL}")
    try:
        yield REDIS_URL
    finally:
        store.flushdb()


@pytest.fixture(
    scope="module",
    params=[
        "one server, two workers",
        "two servers on PostgreSQL",
        "two servers, PostgreSQL and Redis",
    ],
)
def servers(request, tmp_path_factory) -> Iterator[tuple[list[RunningServer], dict]]:
    """The servers and the environment the CLI needs to reach their data."""
    home: Path = tmp_path_factory.mktemp("correctness") / "var"
    with contextlib.ExitStack() as stack:
        if request.param == "one server, two workers":
            env: dict = {}
            started = [stack.enter_context(laurels_server(home, workers=2))]
        else:
            env = {"DATABASE_URL": stack.enter_context(postgres_database())}
            if "Redis" in request.param:
                env["REDIS_URL"] = stack.enter_context(redis_database())
            # One after the other: the first migrates the new database.
            started = [stack.enter_context(laurels_server(home, **env)) for _ in range(2)]
        yield started, env


def api_client(server: RunningServer, env: dict, email: str) -> httpx.Client:
    """A user made with `laurels createuser` where the servers keep their data, with a
    token from Badgr's password log-in."""
    subprocess.run(
        [str(LAURELS), "createuser", email, "--password", PASSWORD],
        env=server_env(server.home, LAURELS_BASE_URL=server.base_url, **env),
        capture_output=True,
        check=True,
        timeout=120,
    )
    token = httpx.post(
        f"{server.base_url}/o/token", data={"username": email, "password": PASSWORD}
    ).json()["access_token"]
    return httpx.Client(
        base_url=server.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )


def on_new_connections(server: RunningServer, path: str, headers: dict) -> list[httpx.Response]:
    return [httpx.get(server.base_url + path, headers=headers) for _ in range(ASKED)]


def test_a_revocation_shows_at_once_on_every_worker_and_server(servers):
    started, env = servers
    first = started[0]
    owner = api_client(first, env, "owner@example.org")
    earner = api_client(first, env, "earner@example.org")
    _, badge = issuer_with_badge(owner, "Correct Issuer")
    award = owner.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": "earner@example.org", "type": "email"}},
    ).json()["result"][0]
    document = f"/public/assertions/{award['entityId']}"
    backpack = "/v2/backpack/assertions"
    polling = dict(earner.headers)
    # Every worker and server keeps the list and caches the document (the document last:
    # a per-process cache once kept it 10 s, and the revocation must come within them).
    for server in started:
        listed = on_new_connections(server, backpack, polling)
        assert {len(r.json()["result"]) for r in listed} == {1}
    for server in started:
        assert {r.status_code for r in on_new_connections(server, document, JSON_LD)} == {200}

    revoked = owner.request(
        "DELETE", f"/v2/assertions/{award['entityId']}", json={"revocation_reason": "Fraud"}
    )
    assert revoked.status_code == 200, revoked.text

    for server in started:
        answers = on_new_connections(server, document, JSON_LD)
        assert [r.status_code for r in answers] == [410] * ASKED
        assert all(r.json()["revoked"] is True for r in answers)
    for server in started:
        listed = on_new_connections(server, backpack, polling)
        assert {len(r.json()["result"]) for r in listed} == {0}
