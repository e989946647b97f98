"""Signing keys, signed assertions, baked images and the cache of public documents."""

from __future__ import annotations

import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import RSAKey

from laurels.core import secrets
from laurels.issuing.models import Assertion, Issuer
from laurels.openbadges import baking
from laurels.openbadges.documents import assertion_document, public_url
from laurels.openbadges.models import IssuerKey

SHARED_CACHE_SECONDS = 24 * 3600


def public_cache_seconds() -> int:
    """How long a public document stays cached.

    Changes clear the cache when they commit, but only in the cache the changing process
    sees. A shared cache (Redis) is cleared for everyone, so documents may stay a day. The
    default local-memory cache is one per worker process: there a revocation made through
    one worker must not stay invisible in another, so entries live only a few seconds.
    """
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return SHARED_CACHE_SECONDS
    return settings.LAURELS_PUBLIC_CACHE_LOCAL_SECONDS


# --- signing keys ----------------------------------------------------------------------------


def active_signing_key(issuer: Issuer) -> IssuerKey | None:
    return IssuerKey.objects.filter(issuer=issuer, retired_at__isnull=True).order_by("-id").first()


def newest_signing_key(issuer: Issuer) -> IssuerKey | None:
    """The key the issuer profile lists: the active one, or after signing was disabled the
    last one used, so that what it signed still verifies (a profile lists one key only)."""
    return IssuerKey.objects.filter(issuer=issuer).order_by("-id").first()


def _new_key(issuer: Issuer) -> IssuerKey:
    """A new RSA key pair; the private half is encrypted before it reaches the database."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return IssuerKey.objects.create(
        issuer=issuer,
        private_key_encrypted=secrets.encrypt(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
        ),
        public_key_pem=private.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode(),
    )


@transaction.atomic
def issuer_signing_enable(*, issuer: Issuer) -> IssuerKey:
    """Sign this issuer's assertions from now on (a key is made if it has none)."""
    key = active_signing_key(issuer) or _new_key(issuer)
    public_documents_forget(issuer=issuer)
    return key


@transaction.atomic
def issuer_signing_rotate(*, issuer: Issuer) -> IssuerKey:
    """A new key signs from now on; the old one stays published as retired."""
    _retire_active_keys(issuer)
    key = _new_key(issuer)
    public_documents_forget(issuer=issuer)
    return key


@transaction.atomic
def issuer_signing_disable(*, issuer: Issuer) -> None:
    """Back to hosted verification; the keys stay published for what they signed."""
    _retire_active_keys(issuer)
    public_documents_forget(issuer=issuer)


def _retire_active_keys(issuer: Issuer) -> None:
    IssuerKey.objects.filter(issuer=issuer, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )


def signing_keys_reencrypt() -> int:
    """Encrypt every issuer's private key anew with the newest of LAURELS_ENCRYPTION_KEYS,
    so that the older ones can be removed; how many keys were re-encrypted.

    All or none: a key that no configured key decrypts raises SecretUnreadable before
    anything is written. The old tokens are overwritten, not left in SQLite's free space,
    since an old key being retired may be one that leaked.
    """
    with transaction.atomic():
        secrets.overwrite_deleted_content(connection)
        stored = list(IssuerKey.objects.values_list("pk", "private_key_encrypted"))
        renewed = [(pk, secrets.reencrypt(token)) for pk, token in stored]
        for pk, token in renewed:
            IssuerKey.objects.filter(pk=pk).update(private_key_encrypted=token)
    return len(renewed)


def signed_assertion(assertion: Assertion, key: IssuerKey) -> str:
    """The assertion as an RS256 JWS (compact), signed with the issuer's key."""
    payload = json.dumps(assertion_document(assertion, signing_key=key), separators=(",", ":"))
    private = RSAKey.import_key(secrets.decrypt(key.private_key_encrypted))
    return jws.serialize_compact({"alg": "RS256"}, payload, private, algorithms=["RS256"])


# --- baked images ----------------------------------------------------------------------------


def baked_image(assertion: Assertion) -> tuple[bytes, str]:
    """The badge image with this assertion baked in: the hosted URL, or the JWS when the
    issuer signs. Baked once per content and kept in storage; the file name carries a
    digest of what was baked, so a change of image or signature bakes anew."""
    badge_image = assertion.badge_class.image
    extension = badge_image.name.rsplit(".", 1)[-1].lower()
    key = active_signing_key(assertion.issuer)
    content = (
        signed_assertion(assertion, key) if key else public_url("assertions", assertion.entity_id)
    )
    digest = hashlib.sha256(f"{badge_image.name}\0{content}".encode()).hexdigest()[:16]
    name = f"baked/{assertion.entity_id}-{digest}.{extension}"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as stored:
            kept = stored.read()
        if kept:
            return kept, extension
        # An empty file left by a failed write before writes were atomic: bake it again.
        default_storage.delete(name)
    with badge_image.open("rb") as source:
        image = source.read()
    if extension == "png":
        baked = baking.bake_png(image, content)
    else:
        hosted_json = None if key else json.dumps(assertion_document(assertion))
        baked = baking.bake_svg(image, content, hosted_json)
    default_storage.save(name, ContentFile(baked))
    return baked, extension


# --- the cache of public JSON ------------------------------------------------------------------


GENERATION_KEY = "ob:generation"


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def public_cache_key(kind: str, entity_id: str) -> str:
    """Keys carry a generation, so an issuer-wide change (details, signing) drops every
    cached document in one step instead of one delete per award."""
    return f"ob:{_generation()}:{kind}:{entity_id}"


def public_documents_forget(
    *, issuer: Issuer | None = None, badge_class=None, assertion: Assertion | None = None
) -> None:
    """Drop cached public documents once the change commits (award, revoke, edit)."""

    def forget() -> None:
        if issuer is not None:
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:
                cache.set(GENERATION_KEY, 2, timeout=None)
            return
        keys = []
        if badge_class is not None:
            keys.append(public_cache_key("badges", badge_class.entity_id))
        if assertion is not None:
            keys.append(public_cache_key("assertions", assertion.entity_id))
            keys.append(public_cache_key("revocations", assertion.issuer.entity_id))
        cache.delete_many(keys)

    transaction.on_commit(forget)
