"""Importing a badge from another Open Badges issuer: verify it, then keep it.

Every check that fails raises ImportRefused naming the check; nothing is stored unless
all pass. Every request goes through `laurels.core.fetch` (no private addresses, capped).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from laurels.accounts.models import User
from laurels.backpack.models import ImportedBadge
from laurels.backpack.selectors import verified_emails
from laurels.core.errors import DomainError
from laurels.core.fetch import FetchRefused, fetch
from laurels.issuing.images import CheckedImage, image_from_data_uri, image_from_upload
from laurels.openbadges import baking

JSON_TYPES = ("application/json", "application/ld+json")
IMAGE_TYPES = ("image/png", "image/svg+xml")
JSON_ACCEPT = "application/ld+json, application/json"


class ImportRefused(DomainError):
    status = 400


@dataclass
class Verified:
    """A badge that passed every check, ready to keep."""

    source_id: str
    assertion: dict
    badge_class: dict
    issuer: dict
    signed_jws: str
    recipient_identity: str
    issued_on: datetime
    expires: datetime | None


# --- fetching documents ----------------------------------------------------------------------


def _json_document(url: str, what: str) -> tuple[int, dict]:
    try:
        fetched = fetch(url, accept=JSON_ACCEPT, content_types=JSON_TYPES)
    except FetchRefused as error:
        raise ImportRefused(f"The {what} could not be fetched: {error.message}") from None
    if fetched.status == 404:
        raise ImportRefused(f"The {what} at {url} no longer exists (404).")
    try:
        document = json.loads(fetched.content)
    except ValueError:
        raise ImportRefused(f"The {what} at {url} is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ImportRefused(f"The {what} at {url} is not a JSON-LD object.")
    if fetched.status not in (200, 410):
        raise ImportRefused(f"The {what} at {url} answered {fetched.status}.")
    return fetched.status, document


def _linked(value, what: str) -> dict:
    """A property that is either the linked document's URL or the document itself."""
    if isinstance(value, dict):
        if "id" in value and set(value) <= {"id", "type"}:
            return _json_document(value["id"], what)[1]
        return value
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        status, document = _json_document(value, what)
        if status != 200:
            raise ImportRefused(f"The {what} at {value} is gone.")
        return document
    raise ImportRefused(f"The assertion names no {what}.")


def _has_type(document: dict, wanted: str) -> bool:
    kinds = document.get("type")
    return wanted in (kinds if isinstance(kinds, list) else [kinds])


# --- checks ----------------------------------------------------------------------------------


def _check_recipient(assertion: dict, user: User) -> str:
    recipient = assertion.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("identity"):
        raise ImportRefused("The assertion has no recipient.")
    if recipient.get("type", "email") != "email":
        raise ImportRefused("Only badges awarded to an email address can be imported so far.")
    identity = str(recipient["identity"])
    salt = str(recipient.get("salt") or "")
    hashed = recipient.get("hashed")
    for address in verified_emails(user):
        if hashed:
            algorithm, _, digest = identity.partition("$")
            if algorithm.lower() == "sha256" and (
                hashlib.sha256((address + salt).encode()).hexdigest() == digest.lower()
            ):
                return address
        elif identity.strip().lower() == address:
            return address
    raise ImportRefused(
        "The badge was awarded to someone else: its recipient matches none of your verified "
        "email addresses."
    )


def _check_dates(assertion: dict) -> tuple[datetime, datetime | None]:
    issued_on = parse_datetime(str(assertion.get("issuedOn", "")))
    if issued_on is None:
        raise ImportRefused("The assertion has no valid issuedOn date.")
    expires = parse_datetime(str(assertion["expires"])) if assertion.get("expires") else None
    if expires is not None and expires <= timezone.now():
        raise ImportRefused(f"The badge expired on {expires:%Y-%m-%d}.")
    return issued_on, expires


def _check_assertion_shape(assertion: dict) -> None:
    if not _has_type(assertion, "Assertion"):
        raise ImportRefused("The document is not an Open Badges Assertion.")
    if assertion.get("revoked"):
        reason = assertion.get("revocationReason") or "no reason given"
        raise ImportRefused(f"The issuer has revoked this badge ({reason}).")


def _hosted(url: str) -> tuple[dict, str]:
    status, assertion = _json_document(url, "assertion")
    if status == 410 or assertion.get("revoked"):
        reason = assertion.get("revocationReason") or "no reason given"
        raise ImportRefused(f"The issuer has revoked this badge ({reason}).")
    _check_assertion_shape(assertion)
    if str(assertion.get("id", "")).rstrip("/") != url.rstrip("/"):
        raise ImportRefused("The assertion's id is not the URL it is hosted at.")
    verification = assertion.get("verification") or {"type": "HostedBadge"}
    if verification.get("type") not in ("HostedBadge", "hosted"):
        raise ImportRefused("The hosted assertion does not use hosted verification.")
    return assertion, ""


def _unverified_payload(token: str) -> dict:
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise ImportRefused("The signed badge is not a valid JWS.") from None


def _signed(token: str) -> tuple[dict, str]:
    claimed = _unverified_payload(token)
    creator = (claimed.get("verification") or {}).get("creator")
    if not creator:
        raise ImportRefused("The signed badge does not name its key (verification.creator).")
    _, key_document = _json_document(creator, "signing key")
    try:
        key = RSAKey.import_key(str(key_document.get("publicKeyPem", "")))
        verified = jws.deserialize_compact(token, key, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        raise ImportRefused(
            "The badge's signature does not verify with its issuer's key."
        ) from None
    assertion = json.loads(verified.payload)
    _check_assertion_shape(assertion)
    assertion["_key_owner"] = key_document.get("owner")
    return assertion, token


def _check_signed_issuer(assertion: dict, issuer: dict) -> None:
    owner = assertion.pop("_key_owner", None)
    if owner != issuer.get("id"):
        raise ImportRefused("The signing key does not belong to the badge's issuer.")
    revocation_list = issuer.get("revocationList")
    if revocation_list:
        _, revocations = _json_document(revocation_list, "revocation list")
        revoked = {
            (item.get("id") if isinstance(item, dict) else item)
            for item in revocations.get("revokedAssertions", [])
        }
        if assertion.get("id") in revoked:
            raise ImportRefused("The issuer has revoked this badge (in its revocation list).")


def verify_badge(*, user: User, url: str = "", token: str = "") -> Verified:
    """Fetch and check a hosted (URL) or signed (JWS) badge for `user`."""
    assertion, signed_jws = _signed(token) if token else _hosted(url)
    badge_class = _linked(assertion.get("badge"), "badge class")
    if not _has_type(badge_class, "BadgeClass"):
        raise ImportRefused("The assertion's badge is not an Open Badges BadgeClass.")
    issuer = _linked(badge_class.get("issuer"), "issuer")
    if not (_has_type(issuer, "Issuer") or _has_type(issuer, "Profile")):
        raise ImportRefused("The badge's issuer is not an Open Badges Profile.")
    if signed_jws:
        _check_signed_issuer(assertion, issuer)
    issued_on, expires = _check_dates(assertion)
    identity = _check_recipient(assertion, user)
    return Verified(
        source_id=str(assertion.get("id") or hashlib.sha256(token.encode()).hexdigest()),
        assertion=assertion,
        badge_class=badge_class,
        issuer=issuer,
        signed_jws=signed_jws,
        recipient_identity=identity,
        issued_on=issued_on,
        expires=expires,
    )


# --- the image -------------------------------------------------------------------------------


def _badge_image(badge_class: dict) -> CheckedImage:
    image = badge_class.get("image")
    url = image.get("id") if isinstance(image, dict) else image
    if isinstance(url, str) and url.startswith("data:"):
        try:
            return image_from_data_uri(url, strict=True)
        except ValidationError as error:
            raise ImportRefused(
                f"The badge image was refused: {' '.join(error.messages)}"
            ) from None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ImportRefused("The badge class has no image.")
    try:
        fetched = fetch(url, content_types=IMAGE_TYPES)
    except FetchRefused as error:
        raise ImportRefused(f"The badge image could not be fetched: {error.message}") from None
    if fetched.status != 200:
        raise ImportRefused(f"The badge image answered {fetched.status}.")
    return _checked(fetched.content)


def _checked(data: bytes) -> CheckedImage:
    try:
        return image_from_upload(data, strict=True)
    except ValidationError as error:
        raise ImportRefused(f"The badge image was refused: {' '.join(error.messages)}") from None


# --- entry points ----------------------------------------------------------------------------


def _looks_like_jws(value: str) -> bool:
    parts = value.strip().split(".")
    return len(parts) == 3 and all(parts) and " " not in value and not value.startswith("http")


@transaction.atomic
def badge_import(
    *,
    user: User,
    url: str = "",
    assertion: str | dict | None = None,
    baked_image: bytes | None = None,
) -> tuple[ImportedBadge, bool]:
    """Import by exactly one of: assertion URL, assertion JSON or JWS, baked image.
    Answers the badge and whether it is new (a second import returns the first)."""
    image = None
    if baked_image is not None:
        image = _checked(baked_image)
        try:
            carried = baking.unbake(image.content)
        except baking.NotBakeable as error:
            raise ImportRefused(str(error)) from None
        url, token = ("", carried) if _looks_like_jws(carried) else (carried, "")
    elif assertion is not None:
        if isinstance(assertion, str) and _looks_like_jws(assertion):
            token = assertion.strip()
        else:
            document = assertion if isinstance(assertion, dict) else _parse_json(assertion)
            url, token = str(document.get("id") or ""), ""
            if not url.startswith(("http://", "https://")):
                raise ImportRefused("The assertion JSON has no id URL to verify it at.")
    else:
        token = ""
    verified = verify_badge(user=user, url=url, token=token)
    existing = ImportedBadge.objects.filter(user=user, source_id=verified.source_id).first()
    if existing is not None:
        return existing, False
    image = image or _badge_image(verified.badge_class)
    badge = ImportedBadge(
        user=user,
        source_id=verified.source_id,
        assertion=verified.assertion,
        badge_class=verified.badge_class,
        issuer=verified.issuer,
        signed_jws=verified.signed_jws,
        recipient_identity=verified.recipient_identity,
        issued_on=verified.issued_on,
        expires=verified.expires,
        verified_at=timezone.now(),
    )
    badge.image.save(f"{badge.entity_id}.{image.extension}", ContentFile(image.content), save=False)
    try:
        with transaction.atomic():
            badge.save()
    except IntegrityError:  # the same badge imported concurrently
        return ImportedBadge.objects.get(user=user, source_id=verified.source_id), False
    return badge, True


def _parse_json(text: str) -> dict:
    try:
        document = json.loads(text)
    except ValueError:
        raise ImportRefused("The assertion is neither JSON nor a JWS.") from None
    if not isinstance(document, dict):
        raise ImportRefused("The assertion JSON is not an object.")
    return document


def badge_reverify(*, badge: ImportedBadge) -> ImportedBadge:
    """Check an imported badge again; mark it revoked or gone when it is."""
    try:
        verify_badge(
            user=badge.user, url="" if badge.signed_jws else badge.source_id, token=badge.signed_jws
        )
    except ImportRefused as error:
        badge.status = (
            ImportedBadge.Status.REVOKED
            if "revoked" in error.message
            else ImportedBadge.Status.GONE
            if "no longer exists" in error.message
            else badge.status
        )
    else:
        badge.status = ImportedBadge.Status.VERIFIED
    badge.verified_at = timezone.now()
    badge.save(update_fields=["status", "verified_at", "updated_at"])
    return badge
