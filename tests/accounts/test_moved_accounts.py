"""Accounts moved here from another server (`laurels import-badgr`): what of the old
server's password hash is kept, and what the log-in page tells about such accounts."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from laurels.accounts import services
from laurels.accounts.hashers import Argon2idPasswordHasher
from tests.factories import UserFactory
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db
PASSWORD = "the password chosen on the old server"


@pytest.fixture(autouse=True)
def _hashers(settings):
    """Laurels' own hashers (the test settings keep only MD5, for speed)."""
    settings.PASSWORD_HASHERS = [
        "laurels.accounts.hashers.Argon2idPasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def _pbkdf2(iterations: int) -> str:
    return PBKDF2PasswordHasher().encode(PASSWORD, "oldserversalt", iterations=iterations)


@pytest.mark.parametrize(
    "encoded",
    [
        "pbkdf2_sha256$x",  # named right, not a hash: every log-in would be an error
        "pbkdf2_sha256$abc$salt$hash",
        "pbkdf2_sha256$20000$$hash",
        "argon2$garbage",  # argon2's InvalidHashError at every log-in
        "argon2$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaA",  # 4 GiB per log-in
        _pbkdf2(1),  # too cheap to keep
        "pbkdf2_sha256$2000000000$salt$aGFzaA==",  # a worker's minutes per log-in
        "md5$salt$hash",  # a hasher not kept for old hashes
        "!unusable",
        "",
        None,
    ],
)
def test_an_old_hash_not_kept_makes_the_account_reset_its_password(encoded):
    assert services.imported_password_hash(encoded) == services.PASSWORD_RESET_ON_LOGIN


@pytest.mark.parametrize(
    "encoded",
    [_pbkdf2(10_000), _pbkdf2(150_000), Argon2idPasswordHasher().encode(PASSWORD, "saltsaltsalt")],
)
def test_a_sound_old_hash_is_kept_and_logs_in(encoded):
    assert services.imported_password_hash(encoded) == encoded
    services.user_import(addresses=["moved@example.org"], password_hash=encoded)
    response = Client().post(
        "/accounts/login/", {"username": "moved@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302


def test_a_malformed_old_hash_is_a_reset_not_an_error_at_log_in():
    services.user_import(addresses=["moved@example.org"], password_hash="pbkdf2_sha256$x")
    response = Client().post(
        "/accounts/login/", {"username": "moved@example.org", "password": "a guess"}
    )
    assert response.status_code == 400
    assert [m.to for m in delivered()] == [["moved@example.org"]]  # its reset link


def _login_errors(email: str, password: str) -> list[str]:
    response = Client().post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == 400
    return list(response.context["form"].non_field_errors())


def test_a_failed_log_in_says_the_same_for_moved_and_other_accounts(settings):
    """The page must not tell which addresses were moved here: a moved account waiting
    for its new password, an account of this server and an unknown address get the
    same answer, which says what a moved account's owner should look for."""
    settings.LAURELS_BADGR_ORIGIN = "https://badgr.example.org"
    services.user_import(addresses=["moved@example.org"], password_hash="bcrypt$whatever")
    UserFactory(email="here@example.org")

    moved = _login_errors("moved@example.org", "a guess")
    here = _login_errors("here@example.org", "a guess")
    unknown = _login_errors("nobody@example.org", "a guess")

    assert moved == here == unknown
    assert services.PASSWORD_RESET_SENT in moved
    assert [m.to for m in delivered()] == [["moved@example.org"]]  # only the moved one


def test_the_reset_mail_of_a_moved_account_stays_within_the_reset_limits(settings):
    settings.LAURELS_BADGR_ORIGIN = "https://badgr.example.org"
    settings.LAURELS_PASSWORD_RESET_RATE_PER_ACCOUNT = 2
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 100
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT = 100
    settings.LAURELS_LOGIN_RATE_PER_IP = 100
    services.user_import(addresses=["moved@example.org"], password_hash=None)
    for _ in range(4):
        _login_errors("moved@example.org", "a guess")
    assert len(delivered()) == 2
