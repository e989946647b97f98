"""Public identifiers for entities.

Database primary keys stay internal; every object shown outside has an `entityId`: 16
random bytes in URL-safe base64, which is always 22 characters and cannot be guessed or
enumerated.
"""

import secrets

from django.db import models

ENTITY_ID_LENGTH = 22


def new_entity_id() -> str:
    return secrets.token_urlsafe(16)


def entity_id_field() -> models.CharField:
    """The `entity_id` column every public object has: unique, set once, never edited."""
    return models.CharField(
        max_length=ENTITY_ID_LENGTH, unique=True, default=new_entity_id, editable=False
    )
