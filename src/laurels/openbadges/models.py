"""Signing keys of issuers that sign their assertions (OB 2.0 SignedBadge)."""

from __future__ import annotations

from django.db import models

from laurels.core.ids import entity_id_field


class IssuerKey(models.Model):
    """An RSA key pair. The active key (not retired) signs; retired keys stay published
    so that assertions signed with them still verify."""

    entity_id = entity_id_field()
    issuer = models.ForeignKey(
        "issuing.Issuer", on_delete=models.CASCADE, related_name="signing_keys"
    )
    private_key_pem = models.TextField()
    public_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["issuer", "retired_at"])]

    def __str__(self) -> str:
        return f"key {self.entity_id} of {self.issuer_id}"
