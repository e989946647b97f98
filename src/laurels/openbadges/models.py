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
