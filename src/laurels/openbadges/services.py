"""Signing keys, signed assertions, baked images and the cache of public documents."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import RSAKey

from laurels.core import secrets
from laurels.core.public import url_of
from laurels.core.sql import fetch_one_row
from laurels.core.versions import (
    ASSERTION_DOCUMENT,
    BADGE_CLASS_DOCUMENT,
    ISSUER_AWARDS,
    ISSUER_DOCUMENTS,
    version_sql,
)
from laurels.issuing import signals
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.openbadges import baking
from laurels.openbadges.documents import assertion_document
from laurels.openbadges.models import IssuerKey, KeptDocument

if TYPE_CHECKING:
    from laurels.accounts.models import User

# A cached document is found only under the versions it was made at, so it may stay as
# long as memory allows: a change makes it unreachable at once, everywhere.
PUBLIC_CACHE_SECONDS = 24 * 3600
# Moved on whenever `documents` writes hosted documents differently: documents kept
# (`laurels.openbadges.kept`, the cache) under the old format are then never served.
DOCUMENT_FORMAT = 1


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
def issuer_signing_enable(*, issuer: Issuer, actor: User | None = None) -> IssuerKey:
    """Sign this issuer's assertions from now on (a key is made if it has none)."""
    key = active_signing_key(issuer) or _new_key(issuer)
    _signing_key_changed(issuer, "enabled", key, actor)
    return key


@transaction.atomic
def issuer_signing_rotate(*, issuer: Issuer, actor: User | None = None) -> IssuerKey:
    """A new key signs from now on; the old one stays published as retired."""
    _retire_active_keys(issuer)
    key = _new_key(issuer)
    _signing_key_changed(issuer, "rotated", key, actor)
    return key


@transaction.atomic
def issuer_signing_disable(*, issuer: Issuer, actor: User | None = None) -> None:
    """Back to hosted verification; the keys stay published for what they signed."""
    _retire_active_keys(issuer)
    _signing_key_changed(issuer, "disabled", None, actor)


def _signing_key_changed(
    issuer: Issuer, change: str, key: IssuerKey | None, actor: User | None
) -> None:
    """Tell the audit trail, and move the issuer's `updated_at` and hosted documents on,
    inside the change's transaction. A key change alters the issuer profile's publicKey
    and every award's verification, yet writes no issuer or award row: without this a
    verifier asking If-Modified-Since would be told 304. Saving the issuer lets its
    receiver move the versions on, last (`laurels.core.versions`: row locks first)."""
    signals.signing_key_changed.send(
        sender=IssuerKey,
        actor=actor,
        detail={
            "issuer": issuer.entity_id,
            "change": change,
            "key": key.entity_id if key is not None else None,
        },
    )
    issuer.save(update_fields=["updated_at"])


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
    content = signed_assertion(assertion, key) if key else url_of("assertions", assertion)
    # A hosted SVG carries the assertion's JSON too, whose links follow other rows.
    hosted_json = None if key or extension == "png" else json.dumps(assertion_document(assertion))
    baked = f"{badge_image.name}\0{content}" + (f"\0{hosted_json}" if hosted_json else "")
    digest = hashlib.sha256(baked.encode()).hexdigest()
    name = f"baked/{assertion.entity_id}-{digest[:16]}.{extension}"
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
        baked = baking.bake_svg(image, content, hosted_json)
    default_storage.save(name, ContentFile(baked))
    return baked, extension


# --- the cache of public JSON ------------------------------------------------------------------


# The origins a hosted document's ids are made of (`laurels.core.public.url_of`), by kind:
# its own row's and those of the rows it links to. They are read with the versions and
# kept answers are keyed by them, so a document kept for one origin is never served
# for another, even when an origin changes without a save (a bulk update moves no
# version): the origin is part of the document, so it is part of its key.
_ISSUER_ORIGIN = "(SELECT i.hosted_origin FROM {issuers} i WHERE i.id = d.issuer_id)"
_BADGE_CLASS_ORIGIN = (
    "(SELECT b.hosted_origin FROM {badge_classes} b WHERE b.id = d.badge_class_id)"
)
DOCUMENT_ORIGINS = {
    "assertions": ["d.hosted_origin", _BADGE_CLASS_ORIGIN, _ISSUER_ORIGIN],
    "badges": ["d.hosted_origin", _ISSUER_ORIGIN],
    "issuers": ["d.hosted_origin"],
    "revocations": ["d.hosted_origin"],
    "keys": [_ISSUER_ORIGIN],
}


@functools.cache
def _document_versions_sql(kind: str, kept: str = "") -> str:
    """One indexed query for the row's id and the versions a hosted document of `kind` is
    made from (`laurels.core.versions`), then the origins of its ids
    (`DOCUMENT_ORIGINS`); no row when there is no such document."""
    issuers, awards = Issuer._meta.db_table, Assertion._meta.db_table
    rows = {
        "assertions": (
            awards,
            [(ASSERTION_DOCUMENT, "d.id"), (ISSUER_DOCUMENTS, "d.issuer_id")],
        ),
        "assertions+badge": (
            awards,
            [
                (ASSERTION_DOCUMENT, "d.id"),
                (ISSUER_DOCUMENTS, "d.issuer_id"),
                (BADGE_CLASS_DOCUMENT, "d.badge_class_id"),
            ],
        ),
        "badges": (BadgeClass._meta.db_table, [(BADGE_CLASS_DOCUMENT, "d.id")]),
        "badges+issuer": (
            BadgeClass._meta.db_table,
            [(BADGE_CLASS_DOCUMENT, "d.id"), (ISSUER_DOCUMENTS, "d.issuer_id")],
        ),
        "issuers": (issuers, [(ISSUER_DOCUMENTS, "d.id")]),
        "revocations": (issuers, [(ISSUER_DOCUMENTS, "d.id"), (ISSUER_AWARDS, "d.id")]),
        "keys": (IssuerKey._meta.db_table, [(ISSUER_DOCUMENTS, "d.issuer_id")]),
    }
    table, read = rows[kind]
    origins = [
        origin.format(issuers=issuers, badge_classes=BadgeClass._meta.db_table)
        for origin in DOCUMENT_ORIGINS[kind.split("+")[0]]
    ]
    columns = ", ".join(["d.id", *(version_sql(name, owner) for name, owner in read), *origins])
    if not kept:
        return f"SELECT {columns} FROM {table} d WHERE d.entity_id = %(entity_id)s"  # noqa: S608
    # And the columns of what is kept for it of the `kept` kind (`laurels.openbadges.
    # kept`; NULLs when nothing is): still one indexed query.
    return (
        f"SELECT {columns}, k.key, k.status, k.body, k.modified, k.etag, k.fresh_until "  # noqa: S608
        f"FROM {table} d LEFT JOIN {KeptDocument._meta.db_table} k "
        f"ON k.kind = '{kept}' AND k.entity_id = d.entity_id WHERE d.entity_id = %(entity_id)s"
    )


def document_versions(kind: str, entity_id: str) -> tuple | None:
    """The versions of a hosted document, or None when there is no such row. Read before
    the document is made: an answer is never kept under versions newer than its rows."""
    return fetch_one_row(_document_versions_sql(kind), {"entity_id": entity_id})


def document_versions_kept(kind: str, entity_id: str, kept: str = "") -> tuple[tuple, tuple] | None:
    """`document_versions`, and the key, status, body, Last-Modified, ETag and freshness
    of what is kept for it of the `kept` kind (the document of `kind` by default; all
    None when nothing is), from one indexed query."""
    sql = _document_versions_sql(kind, kept=kept or kind)
    row = fetch_one_row(sql, {"entity_id": entity_id})
    return None if row is None else (row[:-6], row[-6:])


def public_cache_key(kind: str, entity_id: str, versions: tuple, variant: str = "") -> str:
    """Where a document is kept: by what it is, its row and the versions and origins it
    was made at (`document_versions`; the origins as a digest, which keeps the key short
    and free of the characters a cache refuses) and its variant (Open Badges version and
    what it embeds; "" for the plain 2.0 document). The row's own id is among the
    numbers: an entityId deleted and made again (a Badgr import keeps Badgr's) names
    another row, whose versions may read the same."""
    numbers = [str(value) for value in versions if not isinstance(value, str)]
    # What else the document is made of: the base URL its ids fall back to (an origin
    # left blank) and how documents are written (DOCUMENT_FORMAT).
    made_with = [
        *(value for value in versions if isinstance(value, str)),
        settings.LAURELS_BASE_URL,
    ]
    digest = hashlib.sha256("\0".join(made_with).encode()).hexdigest()[:16]
    return f"ob:{kind}:{entity_id}:{'.'.join(numbers)}:{digest}:{key_ending(variant)}"


def key_ending(variant: str = "") -> str:
    """How the key of every document of `variant` made by this code ends (its format
    and variant): one kept with another ending was made by other code."""
    return f"{DOCUMENT_FORMAT}:{variant}"
