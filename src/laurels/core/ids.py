"""Public identifiers for entities.

Database primary keys stay internal; every object shown outside has an `entityId`: 16
random bytes in URL-safe base64, which is always 22 characters and cannot be guessed or
enumerated. An id never begins with `-` or `_`, so it can be typed as a command-line
argument without being mistaken for an option.
"""

import secrets

from django.db import models

ENTITY_ID_LENGTH = 22


def new_entity_id() -> str:
    """A fresh 22-character id whose first character is a letter or digit."""
    while True:
        entity_id = secrets.token_urlsafe(16)
        if entity_id[0].isalnum():
            return entity_id


def entity_id_field() -> models.CharField:
    """The `entity_id` column every public object has: unique, set once, never edited."""
    return models.CharField(
        max_length=ENTITY_ID_LENGTH, unique=True, default=new_entity_id, editable=False
    )
