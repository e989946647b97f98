"""Badges imported from other Open Badges issuers, and earners' collections.

Awards made on this server are not copied here: a user's backpack finds them by the
user's verified identities, so they appear as soon as an address is verified.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from laurels.core.ids import entity_id_field
from laurels.issuing.models import Acceptance


class ImportedBadge(models.Model):
    class Status(models.TextChoices):
        VERIFIED = "verified", "Verified"
        REVOKED = "revoked", "Revoked since import"
        GONE = "gone", "No longer found"
        SIGNATURE_INVALID = "invalid", "Signature no longer verifies"

    entity_id = entity_id_field()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imported_badges"
    )
    source_id = models.CharField("assertion id", max_length=1000)
    assertion = models.JSONField()
    badge_class = models.JSONField()
    issuer = models.JSONField()
    signed_jws = models.TextField(blank=True)
    image = models.FileField(upload_to="imported/")
    recipient_identity = models.CharField(max_length=500)
    issued_on = models.DateTimeField()
    expires = models.DateTimeField(null=True, blank=True)
    acceptance = models.CharField(
        max_length=16, choices=Acceptance.choices, default=Acceptance.ACCEPTED
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VERIFIED)
    verified_at = models.DateTimeField()
    imported_at = models.DateTimeField(auto_now_add=True)
    # Every change sets it: the backpack list's cache and change-aware clients rely on it.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "source_id"], name="import_once_per_user")
        ]
        indexes = [models.Index(fields=["user", "issued_on", "id"])]

    def __str__(self) -> str:
        return f"{self.badge_class.get('name', '?')} → {self.user}"


class Collection(models.Model):
    entity_id = entity_id_field()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    published = models.BooleanField(default=False)
    share_hash = models.CharField(max_length=32, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "id"])]

    def __str__(self) -> str:
        return self.name


class CollectionEntry(models.Model):
    """One badge in a collection: a local award or an imported badge."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="entries")
    assertion = models.ForeignKey(
        "issuing.Assertion", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    imported = models.ForeignKey(
        ImportedBadge, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assertion__isnull=False, imported__isnull=True)
                | Q(assertion__isnull=True, imported__isnull=False),
                name="entry_is_one_badge",
            ),
        ]

    def __str__(self) -> str:
        return f"entry {self.pk} of {self.collection_id}"
