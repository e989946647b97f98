"""Moving a Badgr server's data here: `laurels import-badgr`.

Kinds are read in dependency order — users, issuers (with staff), badge classes, awards,
collections, OAuth apps — each in chunks: a chunk is read from the source first (and its
images fetched), then written in one transaction, one savepoint per row, so that a row
the import refuses (overlong text, a bad address, a date out of range, an entity id taken
here by another object) is reported with its reason and the rest goes on.

Badgr's entity ids stay the objects' entity ids here, and `hosted_origin` is the old
server's public origin, so the URLs Badgr printed and baked keep naming them.

Idempotent: `ImportedRecord` remembers each Badgr row and a fingerprint of it (with its
child rows: addresses, staff, tags, evidence...). A second run skips unchanged rows,
updates changed ones and adds new ones; a row brought over incomplete (INCOMPLETE) is
written again until it is whole. A run never undoes a revocation, and never names an
object deleted here since an earlier run (`_live_target`).

Child tables (addresses, staff, tags, alignments, extensions, evidence, collection
entries, app details) are read whole before their parents, keyed by parent: far smaller
than the award table, which is streamed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, models, transaction
from django.utils.dateparse import parse_datetime

from laurels.accounts import services as accounts
from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.backpack import selectors as backpack_selectors
from laurels.backpack.models import Collection
from laurels.backpack.services import collection_save
from laurels.badgr.models import ImportedRecord, Kind
from laurels.badgr.readers import BadgrSource
from laurels.connect.models import Application
from laurels.connect.services import application_create
from laurels.core.errors import DomainError, NotFound
from laurels.core.fetch import FetchRefused, fetch
from laurels.core.ids import ENTITY_ID_LENGTH
from laurels.core.images import CheckedImage, image_from_upload
from laurels.core.public import origin_problem
from laurels.issuing.models import (
    EXPIRY_LIMITS,
    Acceptance,
    Assertion,
    BadgeClass,
    ExpiryUnit,
    Issuer,
    IssuerStaff,
    RecipientType,
    Role,
    instant_in_range,
    validate_alignments,
)
from laurels.issuing.services import (
    Recipient,
    assertion_revoke,
    clean_evidence,
    recipient_identity_hash,
    recipient_normalized,
)

MODELS: dict[str, type[models.Model]] = {
    Kind.USER: User,
    Kind.ISSUER: Issuer,
    Kind.BADGE_CLASS: BadgeClass,
    Kind.AWARD: Assertion,
    Kind.COLLECTION: Collection,
    Kind.APP: Application,
}
# Badgr's recipient types (issuer.models.RECIPIENT_TYPE_*) and ours.
RECIPIENT_TYPES = {
    "email": RecipientType.EMAIL,
    "openBadgeId": RecipientType.ID,
    "id": RecipientType.ID,
    "telephone": RecipientType.TELEPHONE,
    "url": RecipientType.URL,
}
# django-oauth-toolkit's grant types, as Badgr stored them.
GRANT_TYPES = {
    "authorization-code": Application.GRANT_AUTHORIZATION_CODE,
    "client-credentials": Application.GRANT_CLIENT_CREDENTIALS,
    "password": Application.GRANT_PASSWORD,
}
ENTITY_ID_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")
# Badgr's public image paths, for --fetch-images.
IMAGE_PATHS = {Kind.ISSUER: "issuers", Kind.BADGE_CLASS: "badges"}
SHARE_HASH_MAX = 32
# The fingerprint of a row brought over with something missing that may come later (the
# image it names, a staff member or collection entry not imported yet, an address another
# account holds): never a row's own, so that the next run looks again.
INCOMPLETE = "incomplete"
# The reason an award revoked on Badgr without one is revoked with here (one is required).
REVOKED_ON_BADGR = "Revoked on Badgr"
IMAGE_FETCH_TYPES = ("image/png", "image/svg+xml")


class Refused(Exception):
    """A row the import will not bring over, with the reason people read."""


# Everything a bad row can raise while it is written: refused and reported, never a crash
# (ObjectDoesNotExist: something it names was deleted here while the run went on).
REFUSALS = (
    Refused,
    ValidationError,
    DomainError,
    DatabaseError,
    ObjectDoesNotExist,
    ValueError,
    TypeError,
)


@dataclass
class KindSummary:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    kinds: dict[str, KindSummary] = field(
        default_factory=lambda: {kind.label: KindSummary() for kind in Kind}
    )
    # (app name, client id, new client secret): shown once, never stored in clear.
    app_secrets: list[tuple[str, str, str]] = field(default_factory=list)
    # Brought over, but with something missing (an image, a staff member, an address).
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOptions:
    origin: str
    media_dir: Path | None = None
    fetch_images: bool = False
    dry_run: bool = False
    chunk_size: int = 200
    progress: Callable[[str], None] = field(default=lambda line: None)


# --- reading values as Badgr's databases and dumpdata give them ------------------------------


def _text(value) -> str:
    return "" if value is None else str(value)


def _flag(value) -> bool:
    """A boolean from PostgreSQL (bool), MySQL (0/1) or dumpdata (bool)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true")
    return bool(value)


def _instant(value, what: str) -> datetime | None:
    """A date from a database (datetime) or dumpdata (ISO text), in UTC and in range."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise Refused(f"{what} {value!r} is not a date")
    try:
        return instant_in_range(moment)
    except ValueError as error:
        raise Refused(f"{what} {value}: {error}") from None


def _fit(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise Refused(f"{what} is {len(value)} characters long; at most {limit} fit here")
    return value


def _json(value):
    if isinstance(value, dict | list):
        return value
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _fingerprint(*parts) -> str:
    encoded = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
            )
        return " ".join(error.messages)
    return str(error) or type(error).__name__


def _clean_alignment(alignment: dict) -> None:
    """Refused unless the alignment names its target and links it by a web URL (as Open
    Badges asks: `validate_alignments(complete=True)`): its `targetUrl` is a link on
    badge pages and in documents. The reasons are worded for the import's report."""
    try:
        validate_alignments([alignment], complete=True)
    except ValidationError as error:
        if error.code == "target_name":
            raise Refused("an alignment has no target name") from None
        raise Refused(
            f"alignment {alignment['targetName'][:100]}: target URL "
            f"{alignment.get('targetUrl', '')[:200]!r} is not a web address"
        ) from None


def _store_image(instance, image: CheckedImage) -> None:
    instance.image.save(
        f"{instance.entity_id}.{image.extension}", ContentFile(image.content), save=False
    )


# --- the import -------------------------------------------------------------------------------


# What is read, in dependency order: (kind, table, the method that writes one row, child
# tables read whole beforehand with the column naming their parent).
STEPS: tuple[tuple[Kind, str, str, tuple[tuple[str, str], ...]], ...] = (
    (Kind.USER, "users", "_user", (("account_emailaddress", "user_id"),)),
    (
        Kind.ISSUER,
        "issuer_issuer",
        "_issuer",
        (("issuer_issuerstaff", "issuer_id"), ("issuer_issuerextension", "issuer_id")),
    ),
    (
        Kind.BADGE_CLASS,
        "issuer_badgeclass",
        "_badge_class",
        (
            ("issuer_badgeclasstag", "badgeclass_id"),
            ("issuer_badgeclassalignment", "badgeclass_id"),
            ("issuer_badgeclassextension", "badgeclass_id"),
        ),
    ),
    (
        Kind.AWARD,
        "issuer_badgeinstance",
        "_award",
        (
            ("issuer_badgeinstanceevidence", "badgeinstance_id"),
            ("issuer_badgeinstanceextension", "badgeinstance_id"),
        ),
    ),
    (
        Kind.COLLECTION,
        "backpack_backpackcollection",
        "_collection",
        (("backpack_backpackcollectionbadgeinstance", "collection_id"),),
    ),
    (
        Kind.APP,
        "oauth2_provider_application",
        "_app",
        (("mainsite_applicationinfo", "application_id"),),
    ),
)


class _SourceRead:
    """Every table the import reads, read whole from `source` up front: the dry run
    works in one transaction, and no transaction is open across reading a database."""

    def __init__(self, source: BadgrSource) -> None:
        tables = [t for _, table, _, children in STEPS for t in (table, *(c for c, _ in children))]
        self._rows = {t: list(source.rows(t)) for t in tables if source.has_table(t)}

    def has_table(self, table: str) -> bool:
        return table in self._rows

    def rows(self, table: str) -> Iterator[dict]:
        return iter(self._rows.get(table, ()))  # none for a table missing, as the readers

    def close(self) -> None:
        self._rows.clear()


def badgr_import(source: BadgrSource, options: ImportOptions) -> ImportReport:
    """Bring over what `source` holds that is new or changed since the last run.

    With `dry_run`, the source is read whole first (images are taken from `media_dir`
    only, never fetched), then everything is done and counted in one transaction that is
    rolled back: nothing stays, no secret is shown. That transaction holds the database's
    write lock while it runs, so on SQLite a dry run pauses other writers: try it before
    the server goes live, or on a copy."""
    if problem := origin_problem(options.origin):
        raise ValueError(f"--origin: {problem}")
    if not options.dry_run:
        run = _Import(source, options)
        run.all()
        return run.report
    run = _Import(_SourceRead(source), replace(options, fetch_images=False))
    if options.fetch_images:
        run.report.warnings.append("Dry run: images are not fetched (--fetch-images ignored).")
    with transaction.atomic():
        run.all()
        transaction.set_rollback(True)
    run.report.app_secrets.clear()
    return run.report


class _Import:
    def __init__(self, source: BadgrSource, options: ImportOptions) -> None:
        self.source = source
        self.options = options
        self.report = ImportReport()
        self.children: dict[str, dict[str, list[dict]]] = {}
        self._targets: dict[str, dict[str, int]] = {}
        self._exists: dict[tuple[Kind, int], bool] = {}
        self._badge_class_issuers: dict[int, int] = {}
        # What the row being written left out that may come later (`_one`): its record
        # gets the INCOMPLETE fingerprint, and a user's state leaves those addresses out.
        self._incomplete = False
        self._withheld_addresses: set[str] = set()

    def all(self) -> None:
        for kind, table, write, children in STEPS:
            self._step(kind, table, getattr(self, write), *children)

    # --- the loop every kind shares ------------------------------------------------------

    def _step(self, kind: Kind, table: str, write: Callable, *children: tuple[str, str]) -> None:
        if not self.source.has_table(table):
            self.report.warnings.append(f"The source has no table {table}: no {kind.label} read.")
            return
        for child, parent_column in children:
            self._load_children(child, parent_column)
        child_tables = [child for child, _ in children]
        summary = self.report.kinds[kind.label]
        read = 0
        for chunk in _chunks(self.source.rows(table), self.options.chunk_size):
            changed = self._changed(kind, chunk, child_tables)
            # Images are read (or fetched) for what is written only, and before the
            # transaction: no transaction is ever open across network I/O.
            images = {id(row): self._image(kind, row) for row, _, _ in changed}
            with transaction.atomic():
                for row, record, fingerprint in changed:
                    self._one(kind, row, record, fingerprint, write, images[id(row)])
            read += len(chunk)
            self.options.progress(
                f"{kind.label}: {read} read — {summary.imported} imported, {summary.updated} "
                f"updated, {summary.unchanged} unchanged, {len(summary.refused)} refused"
            )

    def _load_children(self, table: str, parent_column: str) -> None:
        grouped: dict[str, list[dict]] = defaultdict(list)
        for row in self.source.rows(table):
            grouped[str(row.get(parent_column))].append(row)
        self.children[table] = grouped

    def _kids(self, table: str, row: dict) -> list[dict]:
        return self.children.get(table, {}).get(str(row["id"]), [])

    def _changed(self, kind: Kind, chunk: list[dict], child_tables: list[str]) -> list[tuple]:
        """The rows of `chunk` that are new or changed since the last run, each with its
        record (None when new) and its fingerprint; the others are counted unchanged."""
        records = {
            record.source_id: record
            for record in ImportedRecord.objects.filter(
                kind=kind, source_id__in=[str(row["id"]) for row in chunk]
            )
        }
        changed = []
        for row in chunk:
            record = records.get(str(row["id"]))
            fingerprint = _fingerprint(row, [self._kids(table, row) for table in child_tables])
            if record is not None and record.fingerprint == fingerprint:
                self.report.kinds[kind.label].unchanged += 1
                self._targets_of(kind)[record.source_id] = record.target_id
            else:
                changed.append((row, record, fingerprint))
        return changed

    def _one(self, kind, row, record, fingerprint, write, image) -> None:
        summary = self.report.kinds[kind.label]
        source_id = str(row["id"])
        try:
            with transaction.atomic():
                self._incomplete, self._withheld_addresses = False, set()
                existing = self._existing(kind, record)
                target = write(row, existing, image)
                if kind in IMAGE_PATHS and row.get("image") and not target.image:
                    self._incomplete = True
                if self._incomplete:
                    fingerprint = INCOMPLETE  # so that the next run looks again
                ImportedRecord.objects.update_or_create(
                    kind=kind,
                    source_id=source_id,
                    defaults={
                        "target_id": target.pk,
                        "fingerprint": fingerprint,
                        "source_state": self._source_state(kind, row),
                    },
                )
        except REFUSALS as error:
            summary.refused.append(f"{self._label(kind, row)}: {_reason(error)}")
            return
        self._targets_of(kind)[source_id] = target.pk
        self._exists[kind, target.pk] = True
        if record is None:
            summary.imported += 1
        else:
            summary.updated += 1

    def _existing(self, kind: Kind, record: ImportedRecord | None):
        if record is None:
            return None
        found = MODELS[kind]._default_manager.filter(pk=record.target_id).first()
        if found is None:
            raise Refused("imported earlier, then deleted here: not brought back")
        return found

    @staticmethod
    def _label(kind: Kind, row: dict) -> str:
        name = row.get("entity_id") or row.get("client_id") or row.get("username")
        return f"{kind.label} {row.get('id')}" + (f" ({name})" if name else "")

    def _targets_of(self, kind: Kind) -> dict[str, int]:
        if kind not in self._targets:
            self._targets[kind] = dict(
                ImportedRecord.objects.filter(kind=kind).values_list("source_id", "target_id")
            )
        return self._targets[kind]

    def _target(self, kind: Kind, source_id, what: str) -> int:
        target = self._live_target(kind, source_id)
        if target is None:
            how = "was deleted here" if self._deleted_here(kind, source_id) else "was not imported"
            raise Refused(f"its {what} ({kind.label} {source_id}) {how}")
        return target

    def _live_target(self, kind: Kind, source_id) -> int | None:
        """What the Badgr row `source_id` became here, if it still exists: an object
        imported by an earlier run may have been deleted here since (its record stays, so
        that it is not brought back), and nothing may name it any more."""
        target = self._targets_of(kind).get(str(source_id)) if source_id is not None else None
        if target is None:
            return None
        if (kind, target) not in self._exists:  # asked once a run
            found = MODELS[kind]._default_manager.filter(pk=target).exists()
            self._exists[kind, target] = found
        return target if self._exists[kind, target] else None

    def _deleted_here(self, kind: Kind, source_id) -> bool:
        """Imported earlier, then deleted here: it will not come back, so nothing that
        names it waits for it."""
        imported = source_id is not None and str(source_id) in self._targets_of(kind)
        return imported and self._live_target(kind, source_id) is None

    def _outside_source(self, row: dict) -> str | None:
        """The original's URL when `row` is Badgr's copy of an object hosted elsewhere:
        Badgr made one (issuer, badge class and award, `source_url` naming the original,
        `source` often still "local") when an earner added an outside badge to their
        backpack."""
        source_url = _text(row.get("source_url")).strip()
        origin = self.options.origin
        if source_url and source_url != origin and not source_url.startswith(origin + "/"):
            return source_url
        return None

    def _refuse_outside_copy(self, row: dict, hint: str = "") -> None:
        """Refused when `row` is Badgr's copy of an outside object (`_outside_source`):
        moved, an outside issuer would become one of this server's, its staff able to
        award in its name."""
        if source_url := self._outside_source(row):
            raise Refused(
                f"Badgr's copy of {source_url[:300]}, which is hosted elsewhere: not moved{hint}"
            )

    def _entity_id(self, row: dict, model: type[models.Model], existing) -> str:
        """Badgr's entity id, kept: its public URLs name it."""
        entity_id = _text(row.get("entity_id"))
        if not ENTITY_ID_CHARACTERS.fullmatch(entity_id):
            raise Refused(f"entity id {entity_id!r} is not an id Laurels can keep")
        _fit(entity_id, ENTITY_ID_LENGTH, "entity id")
        others = model._default_manager.filter(entity_id=entity_id)
        if existing is not None:
            others = others.exclude(pk=existing.pk)
        if others.exists():
            raise Refused(f"entity id {entity_id} is already used here by another object")
        return entity_id

    # --- images: from --media, else fetched with --fetch-images, outside any transaction ---

    def _image(self, kind: Kind, row: dict) -> CheckedImage | None:
        if kind not in IMAGE_PATHS:
            return None
        name = _text(row.get("image"))
        if not name or self._outside_source(row):  # Badgr had none, or it is refused
            return None
        data = self._media_image(name)
        fetched = data is None and self.options.fetch_images and bool(row.get("entity_id"))
        if fetched:
            data = self._fetched_image(kind, _text(row["entity_id"]))
        if data is None:
            return None
        try:
            # A fetched SVG that needs cleaning is refused, as for any image fetched from
            # elsewhere; the operator's copy of MEDIA_ROOT is cleaned like an upload.
            return image_from_upload(data, strict=fetched)
        except (ValidationError, DomainError) as error:
            self.report.warnings.append(
                f"{self._label(kind, row)}: image {name} refused: {_reason(error)}"
            )
            return None

    def _media_image(self, name: str) -> bytes | None:
        """The file `name` under --media; None when absent or outside it (`../`)."""
        if self.options.media_dir is None:
            return None
        root = self.options.media_dir.resolve()
        try:
            path = (root / name).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                return None
            return path.read_bytes()
        except (OSError, ValueError):  # unreadable, or a name no file system has
            return None

    def _fetched_image(self, kind: Kind, entity_id: str) -> bytes | None:
        url = f"{self.options.origin}/public/{IMAGE_PATHS[kind]}/{entity_id}/image"
        try:
            fetched = fetch(url, accept="image/png, image/svg+xml", content_types=IMAGE_FETCH_TYPES)
        except FetchRefused as error:
            self.report.warnings.append(f"{url}: {error}")
            return None
        return fetched.content if fetched.status == 200 else None

    # --- one row of each kind ------------------------------------------------------------

    def _user(self, row: dict, existing: User | None, image) -> User:
        names = {
            "first_name": _text(row.get("first_name")).strip(),
            "last_name": _text(row.get("last_name")).strip(),
        }
        if existing is not None:
            return self._user_update(row, existing, names)
        return accounts.user_import(
            addresses=self._verified_addresses(row),
            password_hash=row.get("password"),
            is_active=_flag(row.get("is_active", True)),
            date_joined=_instant(row.get("date_joined"), "date joined"),
            entity_id=_text(row.get("entity_id")) or None,
            **names,
        )

    def _user_update(self, row: dict, user: User, names: dict[str, str]) -> User:
        """Apply what changed on Badgr since the last run (`ImportedRecord.source_state`),
        nothing else: an account deactivated here, an address removed here, a name changed
        here stay as they are here."""
        before = (
            ImportedRecord.objects.filter(kind=Kind.USER, source_id=str(row["id"]))
            .values_list("source_state", flat=True)
            .first()
        ) or self._source_state(Kind.USER, row)  # recorded before states were kept
        now = self._source_state(Kind.USER, row)
        added = [a for a in now["addresses"] if a not in before.get("addresses", [])]
        movable = self._verified_addresses(row, user) if added else []  # reports those taken
        return accounts.user_import_update(
            user=user,
            new_addresses=[a for a in added if a in movable],
            password_hash=row.get("password"),
            deactivate=before.get("is_active", True) and not now["is_active"],
            **{name: value for name, value in names.items() if before.get(name) != value},
        )

    def _source_state(self, kind: Kind, row: dict) -> dict:
        """What of `row` the next run compares with (`_user_update`): for a user, its
        verified addresses, names and whether it is active on Badgr; nothing for the rest."""
        if kind != Kind.USER:
            return {}
        verified = [e for e in self._kids("account_emailaddress", row) if _flag(e.get("verified"))]
        addresses = {normalize_email_address(_text(e["email"])) for e in verified}
        return {
            # Without those another account held: not moved, so tried again next run.
            "addresses": sorted(addresses - self._withheld_addresses),
            "first_name": _text(row.get("first_name")).strip(),
            "last_name": _text(row.get("last_name")).strip(),
            "is_active": _flag(row.get("is_active", True)),
        }

    def _verified_addresses(self, row: dict, owner: User | None = None) -> list[str]:
        """The user's verified addresses, primary first, without those another account
        here holds (reported) than `owner` (the account it became, on a later run);
        Refused when none is left."""
        rows = sorted(
            (e for e in self._kids("account_emailaddress", row) if _flag(e.get("verified"))),
            key=lambda e: not _flag(e.get("primary")),
        )
        addresses = list(dict.fromkeys(normalize_email_address(_text(e["email"])) for e in rows))
        if not addresses:
            raise Refused("no verified email address")
        taken = set(
            EmailAddress.objects.filter(email__in=addresses, verified=True)
            .exclude(user__in=[owner.pk] if owner is not None else self._user_here(row))
            .values_list("email", flat=True)
        )
        for address in taken:
            self.report.warnings.append(
                f"user {row['id']}: {address} belongs to another account here; not moved"
            )
        if taken:  # it may be freed: the next run tries again (`_source_state`)
            self._incomplete = True
            self._withheld_addresses |= taken
        kept = [address for address in addresses if address not in taken]
        if not kept:
            raise Refused("every verified address belongs to another account here")
        return kept

    def _user_here(self, row: dict) -> list[int]:
        target = self._targets_of(Kind.USER).get(str(row["id"]))
        return [target] if target is not None else []

    def _issuer(self, row: dict, existing: Issuer | None, image) -> Issuer:
        self._refuse_outside_copy(row)
        issuer = existing or Issuer(entity_id=self._entity_id(row, Issuer, None))
        issuer.name = _fit(_text(row.get("name")).strip(), 255, "name")
        issuer.description = _text(row.get("description"))
        issuer.url = _text(row.get("url")).strip()
        issuer.email = normalize_email_address(_text(row.get("email")))
        issuer.extensions = self._extensions("issuer_issuerextension", row)
        issuer.hosted_origin = self.options.origin
        if existing is None:
            issuer.created_by_id = self._live_target(Kind.USER, row.get("created_by_id"))
        issuer.full_clean(exclude=["image", "created_by"], validate_unique=False)
        if image is not None:
            _store_image(issuer, image)
        elif row.get("image") and not issuer.image:
            self.report.warnings.append(f"issuer {issuer.entity_id}: image {row['image']} missing")
        issuer.save()
        self._staff(issuer, row)
        return issuer

    def _staff(self, issuer: Issuer, row: dict) -> None:
        """Badgr's staff, but those whose account is not here: one not imported yet
        leaves the issuer incomplete (added when their account comes over); one deleted
        here, or with a role unknown here, is left out."""
        for member in self._kids("issuer_issuerstaff", row):
            user_id = self._live_target(Kind.USER, member.get("user_id"))
            role = _text(member.get("role"))
            if user_id is None or role not in Role.values:
                self.report.warnings.append(
                    f"issuer {issuer.entity_id}: staff member (user {member.get('user_id')}, "
                    f"role {role!r}) not brought over: user not imported, deleted here, "
                    "or unknown role"
                )
                if role in Role.values and not self._deleted_here(Kind.USER, member.get("user_id")):
                    self._incomplete = True
                continue
            IssuerStaff.objects.update_or_create(
                issuer=issuer, user_id=user_id, defaults={"role": role}
            )

    def _extensions(self, table: str, row: dict) -> dict:
        """Badgr's extensions by name; Refused when one is not a JSON object, as every
        Open Badges extension is (and as pages and documents expect)."""
        extensions = {}
        for ext in self._kids(table, row):
            if not ext.get("name"):
                continue
            value = _json(ext.get("original_json"))
            if not isinstance(value, dict):
                raise Refused(f"extension {_text(ext['name'])[:100]} is not a JSON object")
            extensions[_text(ext["name"])] = value
        return extensions

    def _badge_class(self, row: dict, existing: BadgeClass | None, image) -> BadgeClass:
        self._refuse_outside_copy(row)
        issuer_id = self._target(Kind.ISSUER, row.get("issuer_id"), "issuer")
        badge_class = existing or BadgeClass(
            entity_id=self._entity_id(row, BadgeClass, None), issuer_id=issuer_id
        )
        badge_class.name = _fit(_text(row.get("name")).strip(), 255, "name")
        # Badgr allowed none and showed "" (description_nonnull): kept as it was.
        badge_class.description = _text(row.get("description"))
        badge_class.criteria_url = _fit(_text(row.get("criteria_url")).strip(), 500, "criteria URL")
        badge_class.criteria_narrative = _text(row.get("criteria_text"))
        badge_class.expires_amount, badge_class.expires_duration = self._expiry(row)
        badge_class.tags = [
            _text(tag.get("name")) for tag in self._kids("issuer_badgeclasstag", row)
        ]
        badge_class.alignments = self._alignments(row)
        badge_class.extensions = self._extensions("issuer_badgeclassextension", row)
        badge_class.hosted_origin = self.options.origin
        if existing is None:
            badge_class.created_by_id = self._live_target(Kind.USER, row.get("created_by_id"))
        badge_class.full_clean(
            exclude=["image", "created_by", "description"], validate_unique=False
        )
        if image is not None:
            _store_image(badge_class, image)
        elif not badge_class.image:
            raise Refused(
                f"image {row.get('image') or '(none)'} not found: give Badgr's MEDIA_ROOT "
                "with --media, or --fetch-images"
            )
        badge_class.save()
        return badge_class

    @staticmethod
    def _expiry(row: dict) -> tuple[int | None, str]:
        amount, unit = row.get("expires_amount"), _text(row.get("expires_duration"))
        if not amount or unit not in ExpiryUnit.values:
            return None, ""
        if not 0 < int(amount) <= EXPIRY_LIMITS[unit]:
            raise Refused(f"expiry of {amount} {unit} is out of range")
        return int(amount), unit

    def _alignments(self, row: dict) -> list[dict]:
        keys = {
            "targetName": "target_name",
            "targetUrl": "target_url",
            "targetDescription": "target_description",
            "targetFramework": "target_framework",
            "targetCode": "target_code",
        }
        alignments = []
        for row_alignment in self._kids("issuer_badgeclassalignment", row):
            alignment = {
                ours: _text(row_alignment[theirs]).strip()
                for ours, theirs in keys.items()
                if row_alignment.get(theirs)
            }
            _clean_alignment(alignment)
            alignments.append(alignment)
        return alignments

    def _award(self, row: dict, existing: Assertion | None, image) -> Assertion:
        self._refuse_outside_copy(row, "; its earner can add it to their backpack here by that URL")
        badge_class_id = self._target(Kind.BADGE_CLASS, row.get("badgeclass_id"), "badge class")
        issuer_id = self._issuer_of(badge_class_id)
        award = existing or Assertion(
            entity_id=self._entity_id(row, Assertion, None),
            badge_class_id=badge_class_id,
            issuer_id=issuer_id,
        )
        self._recipient(award, row)
        award.narrative = _text(row.get("narrative"))
        award.evidence = self._evidence(row)
        award.issued_on = _instant(row.get("issued_on"), "issued on")
        if award.issued_on is None:
            raise Refused("no issue date")
        award.expires = _instant(row.get("expires_at"), "expires")
        acceptance = _text(row.get("acceptance"))
        award.acceptance = acceptance if acceptance in Acceptance.values else Acceptance.UNACCEPTED
        award.extensions = self._extensions("issuer_badgeinstanceextension", row)
        award.hosted_origin = self.options.origin
        if existing is None:
            award.created_by_id = self._live_target(Kind.USER, row.get("created_by_id"))
        # The badge class and issuer are ours, found above: not looked up once more.
        award.full_clean(exclude=["badge_class", "issuer", "created_by"], validate_unique=False)
        award.save()
        self._revocation(award, row)
        return award

    @staticmethod
    def _revocation(award: Assertion, row: dict) -> None:
        """Badgr's revocation, made as every revocation here (`assertion_revoke`: the
        audit trail, the hosted document's version). Never undone: an award revoked here
        (or by an earlier run) stays revoked with its reason, whatever Badgr says of it, as
        a verifier must never be told a revoked badge is valid again."""
        if award.revoked or not _flag(row.get("revoked")):
            return
        reason = _fit(_text(row.get("revocation_reason")).strip(), 500, "revocation reason")
        assertion_revoke(assertion=award, reason=reason or REVOKED_ON_BADGR)

    def _issuer_of(self, badge_class_id: int) -> int:
        """The issuer of a badge class `_target` found (BadgeClass.DoesNotExist, refused,
        when it was deleted here meanwhile)."""
        if badge_class_id not in self._badge_class_issuers:
            self._badge_class_issuers[badge_class_id] = BadgeClass.objects.values_list(
                "issuer_id", flat=True
            ).get(pk=badge_class_id)
        return self._badge_class_issuers[badge_class_id]

    @staticmethod
    def _recipient(award: Assertion, row: dict) -> None:
        """Badgr's recipient, with its hashed flag and salt as they were, and the identity
        Badgr published: hashed, `get_hashed_identity` (the stored identifier lowercased,
        then the salt); plain, the identifier as stored. Verifiers and backpacks holding
        the award still match it. Badgr's `openBadgeId` type is `id` here (the recipient
        named by an IRI, as OB 2.0's profile `id`)."""
        kind = RECIPIENT_TYPES.get(_text(row.get("recipient_type")))
        if kind is None:
            raise Refused(f"recipient type {row.get('recipient_type')!r} is unknown")
        identifier = _text(row.get("recipient_identifier"))
        plaintext = recipient_normalized(Recipient(identity=identifier, type=kind))
        hashed = _flag(row.get("hashed"))
        salt = _fit(_text(row.get("salt")), 64, "salt")
        award.recipient_type = kind
        award.recipient_plaintext = _fit(plaintext, 500, "recipient")
        award.recipient_identity = (
            recipient_identity_hash(identifier.lower(), salt)
            if hashed
            else _fit(identifier, 600, "recipient")
        )
        award.recipient_hashed = hashed
        award.recipient_salt = salt

    def _evidence(self, row: dict) -> list[dict]:
        """Badgr's evidence, checked as the API checks it (`clean_evidence`: web URLs
        only); empty items, which Badgr kept, are left out."""
        items = [
            {
                "url": _text(evidence.get("evidence_url")).strip(),
                "narrative": _text(evidence.get("narrative")).strip(),
            }
            for evidence in self._kids("issuer_badgeinstanceevidence", row)
        ]
        return clean_evidence([item for item in items if any(item.values())], "evidence")

    def _collection(self, row: dict, existing: Collection | None, image) -> Collection:
        user_id = self._target(Kind.USER, row.get("created_by_id"), "owner")
        user = User.objects.get(pk=user_id)
        collection = existing or Collection(
            user=user, entity_id=self._entity_id(row, Collection, None)
        )
        share_hash = _text(row.get("share_hash"))
        published = bool(share_hash)
        if share_hash and len(share_hash) <= SHARE_HASH_MAX and existing is None:
            collection.share_hash, collection.published, published = share_hash, True, None
        elif share_hash and existing is None:
            self.report.warnings.append(
                f"collection {collection.entity_id}: share hash longer than {SHARE_HASH_MAX} "
                "characters; shared under a new link"
            )
        return collection_save(
            user=user,
            collection=collection,
            name=_fit(_text(row.get("name")).strip(), 255, "name"),
            description=_text(row.get("description")),
            assertions=self._collection_awards(user, row),
            published=published,
        )

    def _collection_awards(self, user: User, row: dict) -> list[str]:
        """The entity ids of the collection's awards that are in its owner's backpack here.
        One left out that may still come (not imported yet, not in the backpack yet) leaves
        the collection incomplete; one deleted here is left out for good."""
        entity_ids = []
        for entry in self._kids("backpack_backpackcollectionbadgeinstance", row):
            award_id = self._live_target(Kind.AWARD, entry.get("badgeinstance_id"))
            entity_id = (
                Assertion.objects.filter(pk=award_id).values_list("entity_id", flat=True).first()
            )
            try:
                if entity_id is None:
                    raise NotFound()
                backpack_selectors.backpack_entry(user=user, entity_id=entity_id)
            except NotFound:
                self.report.warnings.append(
                    f"collection {row.get('entity_id')}: award {entry.get('badgeinstance_id')} "
                    "not imported, deleted here, or not in its owner's backpack; left out"
                )
                if not self._deleted_here(Kind.AWARD, entry.get("badgeinstance_id")):
                    self._incomplete = True
                continue
            entity_ids.append(entity_id)
        return entity_ids

    def _app(self, row: dict, existing: Application | None, image) -> Application:
        info = (self._kids("mainsite_applicationinfo", row) or [{}])[0]
        grant = GRANT_TYPES.get(_text(row.get("authorization_grant_type")))
        if grant is None:
            raise Refused(f"grant type {row.get('authorization_grant_type')!r} is not offered here")
        redirect_uris = _text(row.get("redirect_uris")).split()
        scopes = _text(info.get("allowed_scopes")).split() or ["r:profile"]
        if existing is not None:
            existing.name = _fit(_text(row.get("name")).strip(), 255, "name")
            existing.redirect_uris = " ".join(redirect_uris)
            existing.full_clean()
            existing.save()
            return existing
        client_id = _text(row.get("client_id"))
        if Application.objects.filter(client_id=client_id).exists():
            raise Refused(f"client id {client_id} is already registered here")
        created = application_create(
            name=_fit(_text(row.get("name")).strip(), 255, "name"),
            redirect_uris=redirect_uris,
            scopes=scopes,
            public=_text(row.get("client_type")) == Application.CLIENT_PUBLIC,
            website_url=_text(info.get("website_url")),
            logo_url=_text(info.get("logo_uri")),
            terms_url=_text(info.get("terms_uri")),
            privacy_url=_text(info.get("policy_uri")),
            # Badgr let this app log people in with their password: only first-party apps
            # may here, and the operator who runs the import vouches for it as Badgr did.
            first_party=grant == Application.GRANT_PASSWORD,
            client_id=client_id,
            grant_type=grant,
        )
        if created.client_secret:
            self.report.app_secrets.append(
                (created.application.name, client_id, created.client_secret)
            )
        if grant == Application.GRANT_PASSWORD:
            self.report.warnings.append(
                f"app {client_id}: uses the password grant; made first-party"
            )
        return created.application
