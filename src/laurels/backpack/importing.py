"""Importing a badge from another Open Badges issuer: verify it, then keep it.

Everything a badge brings is untrusted: its documents come from whoever hosts them. So:

- Every check that fails raises ImportRefused (a 400) naming the check or the field;
  nothing is stored unless all pass, and no remote value is echoed longer than 200
  characters.
- All fetching and verifying happens first, with no database transaction open; only then
  is the badge written, in one short transaction. All the fetches of one import share
  one deadline (`LAURELS_FETCH_DEADLINE`): slow hosts hold a worker thread for at most
  that long, and never hold the database.
- Every document is parsed with bounds (size, nesting) and every field read is checked
  for its type. Every URL in the assertion, its badge class and its issuer must be an
  http or https URL of at most 1000 characters (an image may also be a PNG or SVG data
  URI); a badge with any other value is refused, naming the field, so nothing stored or
  shown can be a `javascript:` link. Evidence is kept as its known properties only.
  Dates must carry a time zone and lie between 1900 and 9998 once in UTC.
- The issuer is bound to where the badge came from, as Open Badges 2.0 verification
  asks. The badge class and the issuer profile are always fetched from their own `id`
  (an embedded copy is not trusted), and a fetched document must carry the `id` it was
  fetched from. Hosted: the assertion's URL must be on the issuer's origin, or allowed
  by the issuer profile's `verification` (`allowedOrigins`, `startsWith`). Signed: the
  key (`verification.creator`) must be listed in the issuer profile's `publicKey`, and
  the key's `owner` must be the issuer.

Every request goes through `laurels.core.fetch` (public addresses only, capped, with a
deadline).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
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
from laurels.backpack.selectors import local_awards, verified_emails
from laurels.core.errors import DomainError
from laurels.core.fetch import FetchRefused, fetch, one_deadline
from laurels.core.images import CheckedImage, image_from_data_uri, image_from_upload
from laurels.core.untrusted import clipped, split_http_url
from laurels.core.versions import BACKPACK, version_name, versions_bump
from laurels.issuing.models import Assertion
from laurels.jobs.services import job_enqueue
from laurels.openbadges import baking

JSON_TYPES = ("application/json", "application/ld+json")
IMAGE_TYPES = ("image/png", "image/svg+xml")
JSON_ACCEPT = "application/ld+json, application/json"
# The longest URL kept from a badge (the backpack's assertion id column holds 1000).
MAX_KEPT_URL_LENGTH = 1000
# Open Badges documents are a few levels deep; anything far deeper is hostile.
MAX_DEPTH = 32
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # leaves a year for date arithmetic
# Properties whose values are URLs (or objects with an `id` URL), wherever they appear.
URL_PROPERTIES = frozenset(
    {
        "id",
        "url",
        "image",
        "badge",
        "issuer",
        "criteria",
        "evidence",
        "creator",
        "owner",
        "publicKey",
        "revocationList",
        "targetUrl",
        "endorsement",
        "related",
        "sameAs",
    }
)
DATA_IMAGE_PREFIXES = ("data:image/png", "data:image/svg+xml")
# Text shown to people (by the API and share pages): it must be text if present.
TEXT_PROPERTIES = {
    "assertion": ("narrative", "revocationReason"),
    "badge class": ("name", "description"),
    "issuer": ("name", "description", "email"),
}
EVIDENCE_PROPERTIES = ("id", "name", "description", "narrative", "genre", "audience")


class ImportRefused(DomainError):
    status = 400


class BadgeRevoked(ImportRefused):
    """The issuer has revoked the badge."""


class BadgeGone(ImportRefused):
    """The badge's assertion, or a document it needs, no longer exists."""


class SignatureInvalid(ImportRefused):
    """A signed badge's signature does not verify with the key it names."""


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


@dataclass(frozen=True)
class SigningKey:
    """The key a signed badge names, as its document at `url` describes it."""

    url: str
    owner: object


# --- reading untrusted values ------------------------------------------------------------------


def _url(value: object, field: str) -> str:
    """`value` if it is an http or https URL fit to keep and show; else ImportRefused
    naming `field`."""
    try:
        split_http_url(value, max_length=MAX_KEPT_URL_LENGTH)
    except ValueError as error:
        raise ImportRefused(
            f"The {field} must be an http or https URL of at most {MAX_KEPT_URL_LENGTH} "
            f"characters, and {clipped(value, 80)!r} is not: {error}."
        ) from None
    return value


def _object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise ImportRefused(f"The {field} is not a JSON object.")
    return value


def _text(document: dict, name: str, field: str, *, required: bool = False) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ImportRefused(f"The {field}'s {name} is {'missing or ' if required else ''}not text.")
    return value


def _strings(value: object, field: str) -> list[str]:
    """A property that is one string or a list of them (JSON-LD allows both)."""
    items = [] if value is None else value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise ImportRefused(f"The {field} is not text or a list of text.")
    return items


def _reference(value: object, field: str) -> str:
    """The URL of a linked document: the property is its URL or an object with an `id`."""
    return _url(value.get("id") if isinstance(value, dict) else value, field)


def _too_deep(document: object) -> bool:
    """Whether objects and lists nest more than MAX_DEPTH levels (walked without recursion)."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, depth + 1) for child in value)
    return False


def _document(data: bytes | str, what: str) -> dict:
    """A JSON object parsed from untrusted bytes, within the size and nesting bounds."""
    cap = settings.LAURELS_FETCH_MAX_BYTES
    if len(data) > cap:
        raise ImportRefused(f"The {what} is larger than {cap} bytes.")
    try:
        document = json.loads(data)
        too_deep = _too_deep(document)
    except RecursionError:  # the parser's own limit, far beyond ours
        too_deep = True
    except ValueError:
        raise ImportRefused(f"The {what} is not valid JSON.") from None
    if too_deep:
        raise ImportRefused(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
    if not isinstance(document, dict):
        raise ImportRefused(f"The {what} is not a JSON-LD object.")
    return document


def _has_type(document: dict, wanted: str) -> bool:
    kinds = document.get("type")
    return wanted in (kinds if isinstance(kinds, list) else [kinds])


def _moment(value: object, field: str) -> datetime:
    """A date and time from a badge, with its time zone (a naive one could be any of
    26 hours), in UTC and between 1900 and 9998 so that later arithmetic cannot overflow."""
    try:
        short = isinstance(value, str) and len(value) <= 64
        moment = parse_datetime(value.strip()) if short else None
    except ValueError:  # well formed but impossible, such as 30 February
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ImportRefused(f"The assertion's {field} is not a date and time with a time zone.")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # its offset pushes it past year 1 or 9999
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ImportRefused(f"The assertion's {field} is not between the years 1900 and 9998.")
    return moment


# --- fetching documents ------------------------------------------------------------------------


def _same_url(one: object, other: str) -> bool:
    return isinstance(one, str) and one.rstrip("/") == other.rstrip("/")


def _revoked(reason: object, where: str = "") -> BadgeRevoked:
    shown = clipped(reason) if isinstance(reason, str) and reason.strip() else "no reason given"
    return BadgeRevoked(f"The issuer has revoked this badge ({where}{shown}).")


def _revocation_reason(content: bytes) -> object:
    """The reason a revoked assertion's 410 answer gives, if it gives one."""
    try:
        return _document(content, "revoked assertion").get("revocationReason")
    except ImportRefused:
        return None


def _json_document(url: str, what: str, *, gone_is_revoked: bool = False) -> tuple[dict, str]:
    """The document at `url`, and the URL its redirects ended at. A 410 for an assertion
    is its revocation (its body may give the reason)."""
    try:
        fetched = fetch(url, accept=JSON_ACCEPT, content_types=JSON_TYPES)
    except FetchRefused as error:
        raise ImportRefused(f"The {what} could not be fetched: {error.message}") from None
    if fetched.status == 410 and gone_is_revoked:
        raise _revoked(_revocation_reason(fetched.content))
    if fetched.status in (404, 410):
        raise BadgeGone(f"The {what} at {clipped(url)} no longer exists ({fetched.status}).")
    if fetched.status != 200:
        raise ImportRefused(f"The {what} at {clipped(url)} answered {fetched.status}.")
    return _document(fetched.content, f"{what} at {clipped(url)}"), fetched.url


def _served_as(document_id: object, requested: str, final_url: str) -> bool:
    """Whether a document fetched from `requested`, whose redirects ended at `final_url`,
    may call itself `document_id`: the URL it was served from, or the URL asked for when
    the redirects stayed on its origin. A redirect to another origin never lends that
    document the first origin's name (an open redirect on a real issuer's site would
    otherwise let any host pass its documents off as the issuer's)."""
    if _same_url(document_id, final_url):
        return True
    return _same_url(document_id, requested) and _origin(requested) == _origin(final_url)


def _linked_document(url: str, what: str) -> dict:
    """The document at `url`, which must say it is the document served there: a host
    cannot pass its document off as another's."""
    document, final_url = _json_document(url, what)
    if not _served_as(document.get("id"), url, final_url):
        raise ImportRefused(f"The {what} at {clipped(url)} does not have that URL as its id.")
    return document


# --- the two kinds of verification --------------------------------------------------------------


def _check_assertion_shape(assertion: dict) -> None:
    if not _has_type(assertion, "Assertion"):
        raise ImportRefused("The document is not an Open Badges Assertion.")
    if assertion.get("revoked") is True:
        raise _revoked(assertion.get("revocationReason"))
    if assertion.get("revoked") not in (None, False):
        raise ImportRefused("The assertion's revoked is not true or false.")


def _verification(assertion: dict, kinds: tuple[str, ...], default: dict | None) -> dict:
    verification = assertion.get("verification")
    verification = _object(
        default if verification is None else verification, "assertion's verification"
    )
    if verification.get("type") not in kinds:
        raise ImportRefused(f"The assertion does not use {kinds[0]} verification.")
    return verification


def _hosted(url: str) -> dict:
    assertion, final_url = _json_document(url, "assertion", gone_is_revoked=True)
    _check_assertion_shape(assertion)
    if not _served_as(assertion.get("id"), url, final_url):
        raise ImportRefused("The assertion's id is not the URL it is hosted at.")
    _verification(assertion, ("HostedBadge", "hosted"), {"type": "HostedBadge"})
    return assertion


def _unverified_claims(token: str) -> dict:
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (IndexError, ValueError, binascii.Error):
        raise ImportRefused("The signed badge is not a valid JWS.") from None
    return _document(decoded, "signed badge's payload")


def _signed(token: str) -> tuple[dict, SigningKey]:
    """The assertion in `token` once its signature verifies with the key it names."""
    cap = settings.LAURELS_FETCH_MAX_BYTES
    if len(token) > cap:
        raise ImportRefused(f"The signed badge is larger than {cap} bytes.")
    claimed = _unverified_claims(token)
    verification = _verification(claimed, ("SignedBadge", "signed"), None)
    creator = _url(verification.get("creator"), "signed badge's verification.creator")
    key_document = _linked_document(creator, "signing key")
    pem = key_document.get("publicKeyPem")
    try:
        key = RSAKey.import_key(pem if isinstance(pem, str) else "")
        verified = jws.deserialize_compact(token, key, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError, RecursionError):
        raise SignatureInvalid(
            "The badge's signature does not verify with the key it names."
        ) from None
    assertion = _document(verified.payload, "signed badge's payload")
    _check_assertion_shape(assertion)
    return assertion, SigningKey(url=creator, owner=key_document.get("owner"))


# --- binding the issuer -----------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname or "", port


def _check_hosted_issuer(assertion_id: str, issuer: dict) -> None:
    """Open Badges 2.0 hosted verification: the assertion is hosted where its issuer
    says its assertions are (by default, on the origin of the issuer's own id)."""
    policy = issuer.get("verification")
    policy = {} if policy is None else _object(policy, "issuer's verification policy")
    prefixes = _strings(policy.get("startsWith"), "issuer's verification.startsWith")
    if prefixes and not any(assertion_id.startswith(prefix) for prefix in prefixes):
        raise ImportRefused(
            "The assertion is not at a URL its issuer allows (verification.startsWith)."
        )
    origins = _strings(policy.get("allowedOrigins"), "issuer's verification.allowedOrigins")
    if origins:
        parts = urlsplit(assertion_id)
        allowed = {origin.lower() for origin in origins}
        if not {parts.hostname, parts.netloc.lower()} & allowed:
            raise ImportRefused(
                "The assertion is not hosted where its issuer allows (verification.allowedOrigins)."
            )
    elif _origin(assertion_id) != _origin(issuer["id"]):
        raise ImportRefused(
            "The assertion is not hosted on its issuer's origin: a badge can only be "
            "imported from where its issuer publishes its badges."
        )


def _key_ids(value: object) -> list[object]:
    """The ids of an issuer's `publicKey`: one or a list, each a URL or a key object."""
    items = value if isinstance(value, list) else [value]
    return [item.get("id") if isinstance(item, dict) else item for item in items]


def _check_signed_issuer(assertion: dict, key: SigningKey, issuer: dict) -> None:
    """Open Badges 2.0 signed verification: the key is the issuer's, by both accounts,
    and the assertion is not in the issuer's revocation list."""
    if not _same_url(key.owner, issuer["id"]):
        raise ImportRefused("The signing key does not belong to the badge's issuer (owner).")
    if not any(_same_url(listed, key.url) for listed in _key_ids(issuer.get("publicKey"))):
        raise ImportRefused(
            "The badge's issuer does not list the key it was signed with (publicKey)."
        )
    if issuer.get("revocationList") is None:
        return
    revocations = _linked_document(
        _url(issuer["revocationList"], "issuer's revocationList"), "revocation list"
    )
    entries = revocations.get("revokedAssertions", [])
    if not isinstance(entries, list):
        raise ImportRefused("The issuer's revocation list is not a list.")
    for entry in entries:
        revoked_id = entry.get("id") if isinstance(entry, dict) else entry
        if _same_url(revoked_id, assertion["id"]):
            reason = entry.get("revocationReason") if isinstance(entry, dict) else None
            raise _revoked(reason, where="in its revocation list: ")


# --- what is kept ----------------------------------------------------------------------------


def _check_urls(value: object, field: str, name: str = "") -> None:
    """Every URL-valued property anywhere in a document must be an http(s) URL (an image
    may be a PNG or SVG data URI), whatever the nesting. An empty one counts as absent."""
    if isinstance(value, dict):
        for key, child in value.items():
            shown = clipped(key, 40)
            _check_urls(child, f"{field}.{shown}" if name else f"{field}'s {shown}", key)
    elif isinstance(value, list):
        for child in value:
            _check_urls(child, field, name)
    elif isinstance(value, str) and name in URL_PROPERTIES:
        if value and not (name == "image" and value.startswith(DATA_IMAGE_PREFIXES)):
            _url(value, field)
    elif name in URL_PROPERTIES and value is not None:
        raise ImportRefused(f"The {field} is not a URL.")


def _checked_document(document: dict, what: str) -> dict:
    for name in TEXT_PROPERTIES[what]:
        _text(document, name, what, required=name == "name")
    _check_urls(document, what)
    return document


def _evidence(value: object) -> list[dict]:
    """Evidence as a list of objects with their known text properties only (they are
    passed on to displayer apps as they are)."""
    items = [] if value is None else value if isinstance(value, list) else [value]
    kept = []
    for item in items:
        if isinstance(item, str):
            kept.append({"id": item})
        elif isinstance(item, dict):
            kept.append({k: item[k] for k in EVIDENCE_PROPERTIES if isinstance(item.get(k), str)})
        else:
            raise ImportRefused("The assertion's evidence is not a URL or an object.")
    return kept


def _check_recipient(assertion: dict, user: User) -> str:
    recipient = _object(assertion.get("recipient"), "assertion's recipient")
    identity, salt = recipient.get("identity"), recipient.get("salt") or ""
    hashed = recipient.get("hashed", False)
    if not isinstance(identity, str) or not identity:
        raise ImportRefused("The assertion's recipient has no identity.")
    if recipient.get("type", "email") != "email":
        raise ImportRefused("Only badges awarded to an email address can be imported so far.")
    if not isinstance(salt, str) or not isinstance(hashed, bool):
        raise ImportRefused("The assertion's recipient salt or hashed is of the wrong type.")
    algorithm, _, digest = identity.partition("$")
    for address in verified_emails(user):
        if hashed:
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
    issued_on = _moment(assertion.get("issuedOn"), "issuedOn")
    expires = None
    if assertion.get("expires") is not None:
        expires = _moment(assertion["expires"], "expires")
        if expires <= timezone.now():
            raise ImportRefused(f"The badge expired on {expires:%Y-%m-%d}.")
    return issued_on, expires


def verify_badge(*, user: User, url: str = "", token: str = "") -> Verified:
    """Fetch and check a hosted (URL) or signed (JWS) badge for `user`. Makes no write:
    it may wait on remote hosts for up to their fetch deadlines."""
    if token:
        assertion, key = _signed(token)
    else:
        assertion, key = _hosted(_url(url, "assertion URL")), None
    assertion_id = _url(assertion.get("id"), "assertion's id")
    badge_class = _linked_document(
        _reference(assertion.get("badge"), "assertion's badge"), "badge class"
    )
    if not _has_type(badge_class, "BadgeClass"):
        raise ImportRefused("The assertion's badge is not an Open Badges BadgeClass.")
    issuer = _linked_document(
        _reference(badge_class.get("issuer"), "badge class's issuer"), "issuer"
    )
    if not (_has_type(issuer, "Issuer") or _has_type(issuer, "Profile")):
        raise ImportRefused("The badge's issuer is not an Open Badges Profile.")
    if key is None:
        _check_hosted_issuer(assertion_id, issuer)
    else:
        _check_signed_issuer(assertion, key, issuer)
    issued_on, expires = _check_dates(assertion)
    identity = _check_recipient(assertion, user)
    assertion = _checked_document(assertion, "assertion")
    assertion["evidence"] = _evidence(assertion.get("evidence"))
    return Verified(
        source_id=assertion_id,
        assertion=assertion,
        badge_class=_checked_document(badge_class, "badge class"),
        issuer=_checked_document(issuer, "issuer"),
        signed_jws=token,
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
    try:
        fetched = fetch(_url(url, "badge class's image"), content_types=IMAGE_TYPES)
    except FetchRefused as error:
        raise ImportRefused(f"The badge image could not be fetched: {error.message}") from None
    if fetched.status != 200:
        raise ImportRefused(f"The badge image answered {fetched.status}.")
    return _checked_image(fetched.content)


def _checked_image(data: bytes) -> CheckedImage:
    try:
        return image_from_upload(data, strict=True)
    except ValidationError as error:
        raise ImportRefused(f"The badge image was refused: {' '.join(error.messages)}") from None


# --- entry points ----------------------------------------------------------------------------


def _looks_like_jws(value: str) -> bool:
    parts = value.strip().split(".")
    return len(parts) == 3 and all(parts) and " " not in value and not value.startswith("http")


def _source(
    url: str, assertion: str | dict | None, baked_image: bytes | None
) -> tuple[str, str, CheckedImage | None]:
    """(assertion URL, JWS, baked image) from what the user gave."""
    if baked_image is not None:
        image = _checked_image(baked_image)
        try:
            carried = baking.unbake(image.content).strip()
        except baking.NotBakeable as error:
            raise ImportRefused(clipped(error)) from None
        if _looks_like_jws(carried):
            return "", carried, image
        return _url(carried, "assertion URL the image carries"), "", image
    if isinstance(assertion, str) and _looks_like_jws(assertion):
        return "", assertion.strip(), None
    if assertion is not None:
        document = assertion if isinstance(assertion, dict) else _document(assertion, "assertion")
        return _url(document.get("id"), "assertion JSON's id"), "", None
    return _url(url, "assertion URL"), "", None


LOCAL_ASSERTION_PATH = "/public/assertions/"


def local_award(user: User, url: str) -> Assertion | None:
    """The award made on this server that `url` names (under LAURELS_BASE_URL or the
    award's own `hosted_origin`), or None when the URL is not one of this server's.
    Such a badge is already in its earner's backpack: it is never fetched from ourselves
    (which a server on a loopback address would refuse as private, and a one-worker
    server could not answer while busy asking) nor kept a second time as an import.
    An award of this server to someone else is refused as any other's would be."""
    parts = urlsplit(url.strip())
    entity_id = parts.path.removeprefix(LOCAL_ASSERTION_PATH).rstrip("/")
    if not parts.path.startswith(LOCAL_ASSERTION_PATH) or not entity_id or "/" in entity_id:
        return None
    award = Assertion.objects.filter(entity_id=entity_id).only("entity_id", "hosted_origin").first()
    here = _origin(url)
    ours = {_origin(settings.LAURELS_BASE_URL)}
    if award is not None and award.hosted_origin:
        ours.add(_origin(award.hosted_origin))
    if here not in ours:
        return None
    mine = local_awards(user=user, include_revoked=True, include_rejected=True, whole=True).filter(
        entity_id=entity_id
    )
    found = mine.first()
    if found is None:
        raise ImportRefused(
            "This server made no such award to any of your verified email addresses."
        )
    if found.revoked:
        raise _revoked(found.revocation_reason)
    return found


@dataclass(frozen=True)
class Preview:
    """What an import would keep, found without keeping anything: the source it stands
    for (the assertion URL or JWS, which a save verifies again), and either this
    server's own award, or the verified badge and the earlier import of it if any."""

    url: str
    token: str
    local: Assertion | None = None
    verified: Verified | None = None
    existing: ImportedBadge | None = None


def badge_preview(
    *,
    user: User,
    url: str = "",
    assertion: str | dict | None = None,
    baked_image: bytes | None = None,
) -> Preview:
    """Every check `badge_import` makes, and no write (the web page's first step)."""
    url, token, _ = _source(url, assertion, baked_image)
    if url and (award := local_award(user, url)) is not None:
        return Preview(url=url, token=token, local=award)
    with one_deadline():
        verified = verify_badge(user=user, url=url, token=token)
    existing = ImportedBadge.objects.filter(user=user, source_id=verified.source_id).first()
    return Preview(url=url, token=token, verified=verified, existing=existing)


def badge_import(
    *,
    user: User,
    url: str = "",
    assertion: str | dict | None = None,
    baked_image: bytes | None = None,
) -> tuple[ImportedBadge | Assertion, bool]:
    """Import by exactly one of: assertion URL, assertion JSON or JWS, baked image.
    Answers the badge and whether it is new (a second import returns the first; an
    award made on this server is answered as itself, `local_award`).

    Deliberately not atomic as a whole: verifying waits on remote hosts, and no
    transaction may be open meanwhile (on SQLite it would be the write lock)."""
    url, token, image = _source(url, assertion, baked_image)
    if url and (award := local_award(user, url)) is not None:
        return award, False
    with one_deadline():
        verified = verify_badge(user=user, url=url, token=token)
        existing = ImportedBadge.objects.filter(user=user, source_id=verified.source_id).first()
        if existing is not None:
            return existing, False
        image = image or _badge_image(verified.badge_class)
    return _kept(user, verified, image)


def _kept(user: User, verified: Verified, image: CheckedImage) -> tuple[ImportedBadge, bool]:
    """The one write of an import, in a short transaction of its own."""
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
        badge.image.delete(save=False)
        return ImportedBadge.objects.get(user=user, source_id=verified.source_id), False
    return badge, True


class Recheck(enum.Enum):
    """What checking an imported badge again found: each failure by its type, never by
    the words of its message."""

    VERIFIED = "verified"
    REVOKED = "revoked"
    GONE = "gone"
    SIGNATURE_INVALID = "signature invalid"
    UNCHECKED = "unchecked"  # a host down or a document changed: not proof of anything


# The state each finding leaves a badge in; UNCHECKED leaves it as it was.
RECHECK_STATUS = {
    Recheck.VERIFIED: ImportedBadge.Status.VERIFIED,
    Recheck.REVOKED: ImportedBadge.Status.REVOKED,
    Recheck.GONE: ImportedBadge.Status.GONE,
    Recheck.SIGNATURE_INVALID: ImportedBadge.Status.SIGNATURE_INVALID,
}


def _recheck(badge: ImportedBadge) -> Recheck:
    """Verify the badge again as an import would, with no transaction open."""
    try:
        with one_deadline():
            verify_badge(
                user=badge.user,
                url="" if badge.signed_jws else badge.source_id,
                token=badge.signed_jws,
            )
    except BadgeRevoked:
        return Recheck.REVOKED
    except BadgeGone:
        return Recheck.GONE
    except SignatureInvalid:
        return Recheck.SIGNATURE_INVALID
    except ImportRefused:
        return Recheck.UNCHECKED
    return Recheck.VERIFIED


def badge_reverify(*, badge: ImportedBadge) -> Recheck:
    """Check an imported badge again and mark it with what was found (an unchecked
    badge keeps its state, and the time it was last verified)."""
    found = _recheck(badge)
    if found is Recheck.UNCHECKED:
        return found
    badge.status = RECHECK_STATUS[found]
    badge.verified_at = timezone.now()
    with transaction.atomic():
        # An update, not a save: the earner may have removed the badge while its issuer
        # was being asked, and then there is nothing left to mark.
        ImportedBadge.objects.filter(pk=badge.pk).update(
            status=badge.status, verified_at=badge.verified_at, updated_at=badge.verified_at
        )
        versions_bump([version_name(BACKPACK, badge.user_id)])  # an update sends no signal
    return found


REVERIFY_CHUNK = 100


def imported_badges_reverify(
    ids: list[int] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> Counter[Recheck]:
    """Check the imported badges `ids` (all of them when None) again: the daily job's
    tasks and `laurels backpack reverify`; how many were found each way.
    `progress(done, total)` is told after each badge.

    Read a chunk of ids at a time, not through one open cursor: on SQLite a read held
    across a sweep's many fetches would keep the write-ahead log from being checkpointed."""
    ids = ids if ids is not None else _imported_badge_ids()
    found: Counter[Recheck] = Counter()
    done = 0
    for start in range(0, len(ids), REVERIFY_CHUNK):
        chunk = ImportedBadge.objects.select_related("user").filter(
            pk__in=ids[start : start + REVERIFY_CHUNK]
        )
        for badge in chunk.order_by("id"):
            found[badge_reverify(badge=badge)] += 1
            done += 1
            if progress is not None:
                progress(done, len(ids))
    return found


def imported_badges_reverify_queue() -> int:
    """The daily sweep, queued as tasks of REVERIFY_CHUNK badges each: the runner sends
    waiting mail (a password reset, say) between tasks instead of after a sweep that
    fetches from every issuer's host. How many tasks were queued."""
    ids = _imported_badge_ids()
    with transaction.atomic():
        for start in range(0, len(ids), REVERIFY_CHUNK):
            job_enqueue("backpack.reverify", ids=ids[start : start + REVERIFY_CHUNK])
    return -(-len(ids) // REVERIFY_CHUNK)


def _imported_badge_ids() -> list[int]:
    return list(ImportedBadge.objects.order_by("id").values_list("id", flat=True))
