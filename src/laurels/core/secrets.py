"""Secrets the database keeps, encrypted with the keys of `LAURELS_ENCRYPTION_KEYS`.

A database dump, a backup, a replica or a stolen disk must not hand over what lets its
holder act as Laurels: issuers' signing keys are stored only as Fernet tokens (AES-128-CBC
with an HMAC-SHA256 over it, from the `cryptography` package: authenticated, so a token
that was changed does not decrypt at all). The keys that encrypt them live outside the
database, in the environment or in `LAURELS_HOME/encryption_keys`.

`MultiFernet` makes rotation possible without a flag day: it encrypts with the first key
and decrypts with any of them. Put a new key first, run `laurels keys reencrypt` (which
re-encrypts every stored secret with it), then remove the old key.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(ImproperlyConfigured):
    """None of the configured keys decrypts a stored secret: the key it was encrypted with
    was removed or lost (or the data was changed). A configuration fault, not a request's."""

    def __init__(self) -> None:
        super().__init__(
            "A secret stored in the database cannot be decrypted with any key of "
            "LAURELS_ENCRYPTION_KEYS (or LAURELS_HOME/encryption_keys): the key it was "
            "encrypted with is missing. Put that key back in the list."
        )


@functools.cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _fernet() -> MultiFernet:
    """Built from the settings on each call (cached per list of keys), so that a changed
    setting, as in tests, takes effect at once."""
    return _fernet_for(tuple(settings.LAURELS_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """`plaintext` as a Fernet token (ASCII) made with the newest key."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext of a token made by `encrypt` with any configured key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise SecretUnreadable() from None


def reencrypt(token: str) -> str:
    """The same plaintext, encrypted anew with the newest key (for rotation)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise SecretUnreadable() from None


def new_encryption_key() -> str:
    """A fresh key for `LAURELS_ENCRYPTION_KEYS` (printed by `laurels keys generate`)."""
    return Fernet.generate_key().decode("ascii")


def overwrite_deleted_content(connection) -> None:
    """Have this database connection overwrite what it deletes or replaces.

    SQLite leaves a replaced row's old bytes in the file's free space, where a copy of
    the file would still show them: a key in clear after the upgrade that encrypts it, or
    one encrypted with a key being retired. `secure_delete` zeroes them instead. PostgreSQL
    keeps old row versions until VACUUM FULL rewrites the table (docs/deployment.md).
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
