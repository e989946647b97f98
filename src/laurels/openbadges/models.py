"""Signing keys of issuers that sign their assertions (OB 2.0 SignedBadge)."""

from __future__ import annotations

from django.db import models

from laurels.core.ids import entity_id_field


class IssuerKey(models.Model):
    """An RSA key pair. The active key (not retired) signs; retired keys stay published
    so that assertions signed with them still verify.

    The private key is kept only encrypted (`laurels.core.secrets`, with the keys of
    LAURELS_ENCRYPTION_KEYS), so that a copy of the database cannot sign as the issuer;
    `openbadges.services` encrypts it when the key is made and decrypts it to sign.
    """

    entity_id = entity_id_field()
    issuer = models.ForeignKey(
        "issuing.Issuer", on_delete=models.CASCADE, related_name="signing_keys"
    )
    private_key_encrypted = models.TextField(
        help_text="The PKCS#8 PEM private key as a Fernet token (laurels.core.secrets)."
    )
    public_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["issuer", "retired_at"])]

    def __str__(self) -> str:
        return f"key {self.entity_id} of {self.issuer_id}"


class KeptDocument(models.Model):
    """An award's hosted document (Open Badges 2.0 JSON-LD) or public page as it is
    served, rendered once and kept under the key of the versions it was made from
    (`services.public_cache_key`, the same key as the process cache's). The fast path
    reads it with the award's versions in one indexed query and serves it only while the
    key still matches: a change moves the versions on in its own transaction, so a kept
    document is current by construction (`laurels.openbadges.kept`)."""

    kind = models.CharField(max_length=16)
    entity_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    modified = models.BigIntegerField(help_text="Last-Modified, as a Unix time.")
    etag = models.CharField(max_length=40)
    fresh_until = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Served only before this Unix time (a kept page that says Valid until "
        "the award expires); empty: as long as the key matches.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "entity_id"], name="kept_document_unique")
        ]

    def __str__(self) -> str:
        return f"kept {self.kind} {self.entity_id}"
