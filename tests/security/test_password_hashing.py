"""Passwords are stored with Argon2id, at least as strong as OWASP recommends, and the
PBKDF2 hashes made before are upgraded at their owner's next log-in.

The test settings hash with MD5 for speed, so these tests read the server's own settings
(`laurels.settings`) and log in on a live server, which uses them.
"""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest
from argon2 import Type
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils.module_loading import import_string

import laurels.settings as server_settings
from tests.factories import UserFactory
from tests.servers import PASSWORD, RunningServer, laurels_cli

# OWASP Password Storage Cheat Sheet: Argon2id, at least 19 MiB, 2 iterations, 1 lane.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_ITERATIONS = 2
ARGON2ID_HASH = re.compile(r"^argon2\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


def stored_hash(server: RunningServer, email: str) -> str:
    with sqlite3.connect(server.home / "laurels.sqlite3") as database:
        return database.execute(
            "SELECT password FROM accounts_user WHERE email = ?", (email,)
        ).fetchone()[0]


def store_pbkdf2_hash(server: RunningServer, email: str) -> None:
    """The hash as Laurels made it before Argon2id: PBKDF2-SHA256, 1,000,000 iterations."""
    encoded = PBKDF2PasswordHasher().encode(PASSWORD, "0123456789abcdefghijkl")
    with sqlite3.connect(server.home / "laurels.sqlite3") as database:
        database.execute("UPDATE accounts_user SET password = ? WHERE email = ?", (encoded, email))


def assert_owasp_argon2id(encoded: str) -> None:
    match = ARGON2ID_HASH.match(encoded)
    assert match, encoded[:40]
    memory, iterations, lanes = map(int, match.groups())
    assert memory >= OWASP_MEMORY_KIB and iterations >= OWASP_ITERATIONS and lanes >= 1


def test_the_first_hasher_is_argon2id_at_least_as_strong_as_owasp_asks():
    hashers = server_settings.PASSWORD_HASHERS
    first = import_string(hashers[0])()
    assert first.algorithm == "argon2"
    assert first.params().type == Type.ID
    assert_owasp_argon2id(first.encode(PASSWORD, first.salt()))
    # the hashes made before still verify, to be upgraded at the next log-in
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in hashers[1:]


def test_new_and_old_passwords_end_up_as_argon2id(live):
    laurels_cli(live, "createuser", "fresh@example.org", "--password", PASSWORD)
    assert_owasp_argon2id(stored_hash(live, "fresh@example.org"))

    laurels_cli(live, "createuser", "veteran@example.org", "--password", PASSWORD)
    store_pbkdf2_hash(live, "veteran@example.org")
    assert stored_hash(live, "veteran@example.org").startswith("pbkdf2_sha256$1000000$")
    for _ in range(2):  # upgraded at the first log-in; the new hash lets the next one in
        answer = httpx.post(
            f"{live.base_url}/o/token",
            data={"username": "veteran@example.org", "password": PASSWORD},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert_owasp_argon2id(stored_hash(live, "veteran@example.org"))


@pytest.mark.django_db
def test_a_wrong_password_does_not_upgrade_the_hash(settings):
    """Only a log-in that proves the password re-hashes it (Django's `check_password`)."""
    settings.PASSWORD_HASHERS = server_settings.PASSWORD_HASHERS
    user = UserFactory(email="kept@example.org")
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "0123456789abcdefghijkl")
    user.save(update_fields=["password"])
    before = user.password
    assert not user.check_password("not the password")
    user.refresh_from_db()
    assert user.password == before
    assert user.check_password(PASSWORD)
    user.refresh_from_db()
    assert_owasp_argon2id(user.password)
