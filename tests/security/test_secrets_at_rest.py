"""Secrets at rest: what a copy of the database gives away.

A database dump, a backup or a stolen disk image must not hand over an issuer's signing
key: the keys are stored encrypted with LAURELS_ENCRYPTION_KEYS (Fernet), which can be
rotated. Idempotency records keep whole answers, recipients' addresses included: they
are forgotten after LAURELS_IDEMPOTENCY_RETENTION_SECONDS, never replayed past it, and
pruned by a periodic job. The live tests read the server's own SQLite file.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from joserfc import jws
from joserfc.jwk import RSAKey

from laurels.openbadges.baking import unbake
from tests.servers import (
    LAURELS,
    RunningServer,
    api_client_for,
    issuer_with_badge,
    laurels_server,
    server_env,
)

PRIVATE_KEY_MARK = b"PRIVATE KEY"
TIMEOUT = 30
JSON_LD = {"Accept": "application/ld+json"}


# --- helpers ----------------------------------------------------------------------------------


def run_laurels(server: RunningServer, *args: str, **env: str) -> subprocess.CompletedProcess:
    """A `laurels` command on the server's data dir with `env` added (laurels_cli drops
    every LAURELS_ variable of the test process)."""
    return subprocess.run(
        [str(LAURELS), *args],
        env=server_env(server.home, LAURELS_BASE_URL=server.base_url, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def database_dump(home: Path) -> bytes:
    """Everything a copy of the embedded database holds: the file and its write-ahead log
    byte for byte (free pages and all), and its SQL dump."""
    path = home / "laurels.sqlite3"
    raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sql = "\n".join(connection.iterdump()).encode()
    finally:
        connection.close()
    return raw + b"\n" + sql


def award(api: httpx.Client, badge: dict, identity: str, **headers: str) -> httpx.Response:
    return api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": identity}},
        headers=headers,
    )


def signing_key_of(server: RunningServer, assertion: dict) -> str:
    """The path of the key that signed the JWS baked into the award's image, once its
    signature is verified with that key as the server publishes it. Signing happens as
    the image is served, so this needs the private key to be usable."""
    path = f"/public/assertions/{assertion['entityId']}/image"
    token = unbake(httpx.get(server.base_url + path, timeout=TIMEOUT).content)
    assert token.count(".") == 2, f"not a JWS: {token[:100]!r}"
    part = token.split(".")[1]
    claimed = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    key_path = urlsplit(claimed["verification"]["creator"]).path
    key_document = httpx.get(server.base_url + key_path, headers=JSON_LD).json()
    public = RSAKey.import_key(key_document["publicKeyPem"])
    jws.deserialize_compact(token, public, algorithms=["RS256"])  # raises if it does not verify
    return key_path


def signing_issuer(server: RunningServer, api: httpx.Client, name: str, **env: str):
    """An issuer that signs (enabled through the CLI, as its operator would) and its badge."""
    issuer, badge = issuer_with_badge(api, name)
    enabled = run_laurels(server, "signing", "enable", issuer["entityId"], **env)
    assert enabled.returncode == 0, enabled.stderr
    return issuer, badge


# --- issuer signing keys ----------------------------------------------------------------------


def test_a_copy_of_the_database_holds_no_private_key(live, account):
    api = account("sealed@example.org")
    _, badge = signing_issuer(live, api, "Sealed Academy")
    made = award(api, badge, "learner@example.org")
    assert made.status_code == 201, made.text
    assert signing_key_of(live, made.json()["result"][0]).startswith("/public/keys/")

    dump = database_dump(live.home)
    assert b"BEGIN PUBLIC KEY" in dump  # the keys table is in what we read
    assert PRIVATE_KEY_MARK not in dump
    key_file = live.home / "encryption_keys"
    assert key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.server
def test_the_upgrade_encrypts_keys_stored_in_clear(tmp_path):
    """A database from before encryption (the migration undone) is encrypted by the next
    start, and every key still signs as before."""
    home = tmp_path / "var"
    with laurels_server(home) as server:
        api = api_client_for(server, "upgrade@example.org")
        _, badge = signing_issuer(server, api, "Upgrade Academy")
        made = award(api, badge, "learner@example.org").json()["result"][0]
        before = signing_key_of(server, made)
    undone = run_laurels(server, "manage", "migrate", "openbadges", "0001")
    assert undone.returncode == 0, undone.stderr
    assert PRIVATE_KEY_MARK in database_dump(home)  # as an older Laurels stored them

    with laurels_server(home) as server:
        assert PRIVATE_KEY_MARK not in database_dump(home)
        assert signing_key_of(server, made) == before  # the same key signs


@pytest.mark.server
def test_encryption_keys_rotate_without_losing_a_signing_key(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with laurels_server(tmp_path / "var", LAURELS_ENCRYPTION_KEYS=old) as server:
        api = api_client_for(server, "rotate@example.org")
        _, badge = signing_issuer(server, api, "Rotating Academy", LAURELS_ENCRYPTION_KEYS=old)
        made = award(api, badge, "learner@example.org").json()["result"][0]
        before = signing_key_of(server, made)

        # The new key first: everything is re-encrypted with it...
        rotated = run_laurels(server, "keys", "reencrypt", LAURELS_ENCRYPTION_KEYS=f"{new},{old}")
        assert rotated.returncode == 0, rotated.stderr
        assert "Re-encrypted 1 " in rotated.stdout
        # ...so the old key alone reads nothing any more, and says so rather than crash.
        stale = run_laurels(server, "keys", "reencrypt", LAURELS_ENCRYPTION_KEYS=old)
        assert stale.returncode == 2
        assert "LAURELS_ENCRYPTION_KEYS" in stale.stderr
        assert "Traceback" not in stale.stderr
    assert PRIVATE_KEY_MARK not in database_dump(server.home)

    with laurels_server(server.home, LAURELS_ENCRYPTION_KEYS=new) as server:
        assert signing_key_of(server, made) == before


def test_encryption_keys_are_made_once_and_checked(tmp_path, monkeypatch):
    from laurels.config import encryption_keys_from_env_or_file

    monkeypatch.delenv("LAURELS_ENCRYPTION_KEYS", raising=False)
    made = encryption_keys_from_env_or_file(tmp_path)
    assert len(made) == 1 and Fernet(made[0])
    assert encryption_keys_from_env_or_file(tmp_path) == made
    assert (tmp_path / "encryption_keys").stat().st_mode & 0o777 == 0o600

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("LAURELS_ENCRYPTION_KEYS", f" {new} , {made[0]} ")
    assert encryption_keys_from_env_or_file(tmp_path) == [new, made[0]]
    monkeypatch.setenv("LAURELS_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="LAURELS_ENCRYPTION_KEYS"):
        encryption_keys_from_env_or_file(tmp_path)


# --- idempotency records ----------------------------------------------------------------------

RETENTION = 3
# The server's workers copy SQLite's write-ahead log into the file every second.
CHECKPOINT_WAIT = 2.5


def idempotency_keys(home: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{home / 'laurels.sqlite3'}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT key FROM issuing_idempotencyrecord")]
    finally:
        connection.close()


@pytest.mark.server
def test_idempotency_records_expire_and_are_pruned(tmp_path):
    window = {"LAURELS_IDEMPOTENCY_RETENTION_SECONDS": str(RETENTION)}
    # Jobs run from cron here (`laurels jobs run`): a runner beside the server would have
    # run the prune at start-up, and the periodic state in the database is shared.
    with laurels_server(tmp_path / "var", LAURELS_JOBS_IN_PROCESS="false", **window) as server:
        api = api_client_for(server, "retries@example.org")
        _, badge = issuer_with_badge(api, "Retry Academy")
        first = award(api, badge, "kept@example.org", **{"Idempotency-Key": "retry-1"})
        replayed = award(api, badge, "kept@example.org", **{"Idempotency-Key": "retry-1"})
        assert first.status_code == replayed.status_code == 201
        assert replayed.json() == first.json()
        left = award(api, badge, "forgotten@example.org", **{"Idempotency-Key": "left-alone"})
        assert left.status_code == 201
        time.sleep(RETENTION + 1)

        # Past the window the key is forgotten, even before any job ran: a new award.
        later = award(api, badge, "kept@example.org", **{"Idempotency-Key": "retry-1"})
        assert later.status_code == 201, later.text
        assert later.json()["result"][0]["entityId"] != first.json()["result"][0]["entityId"]

        # The periodic job drops what is past the window, with the addresses it holds.
        assert sorted(idempotency_keys(server.home)) == ["left-alone", "retry-1"]
        ran = run_laurels(server, "jobs", "run", **window)
        assert ran.returncode == 0, ran.stderr
        assert "idempotency-prune" in ran.stdout
        assert idempotency_keys(server.home) == ["retry-1"]
        # Nor does the database file keep the pruned answer's bytes in its free space.
        time.sleep(CHECKPOINT_WAIT)
        assert b"left-alone" not in (server.home / "laurels.sqlite3").read_bytes()


@pytest.mark.django_db(transaction=True)  # the jobs runner closes connections after a job
def test_the_prune_job_keeps_records_inside_the_window(settings):
    from django.utils import timezone

    from laurels.issuing.models import IdempotencyRecord
    from laurels.jobs.periodic import run_due_jobs
    from tests.factories import UserFactory

    settings.LAURELS_IDEMPOTENCY_RETENTION_SECONDS = 3600
    user = UserFactory()
    for key, age in [("old", 3601), ("young", 3500)]:
        record = IdempotencyRecord.objects.create(
            user=user, key=key, method="POST", path="/v2/x", request_digest="0" * 64,
            status=201, body={"result": [{"recipient": {"identity": "who@example.org"}}]},
        )  # fmt: skip
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - timedelta(seconds=age)
        )
    assert "idempotency-prune" in run_due_jobs(now=0.0)
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]
