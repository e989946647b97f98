"""What `laurels import-badgr` brought over: one row per object of the old server.

The import is run again after more awards were made on the old server, so it must know,
for every Badgr row, which object here it became and what the row looked like then: the
row's `fingerprint` tells an unchanged row (skipped) from a changed one (updated), and
`target_id` names the object without relying on ids that could be taken here meanwhile.
"""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    USER = "user", "user"
    ISSUER = "issuer", "issuer"
    BADGE_CLASS = "badgeclass", "badge class"
    AWARD = "award", "award"
    COLLECTION = "collection", "collection"
    APP = "app", "OAuth app"


class ImportedRecord(models.Model):
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The Badgr row's primary key, as text (a MySQL, PostgreSQL or dumpdata id alike).
    source_id = models.CharField(max_length=64)
    # The primary key of what it became here (a User, Issuer, BadgeClass, Assertion,
    # Collection or Application, after `kind`).
    target_id = models.BigIntegerField()
    fingerprint = models.CharField(max_length=64)
    # What the Badgr row said that may be changed here since (a user's addresses, names,
    # whether active): the next run applies only what changed on Badgr's side since then,
    # so that it never undoes a change made here (a deactivation, a removed address).
    source_state = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_id"], name="one_import_per_badgr_row")
        ]

    def __str__(self) -> str:
        return f"Badgr {self.kind} {self.source_id} → {self.target_id}"
