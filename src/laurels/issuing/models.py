"""Issuers, their staff, badge classes and assertions (awards).

Lists are paginated by keyset on the primary key (newest first), so every list has an
index that starts with its filter column and ends with `id`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from laurels.core.ids import entity_id_field
from laurels.core.public import validate_origin


def _created_by_field() -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )


def _hosted_origin_field() -> models.CharField:
    """Where the object's Open Badges ids live (`scheme://host[:port]`), when not on this
    server's LAURELS_BASE_URL (blank): an object brought over from a Badgr server keeps
    the URLs printed on certificates and baked into images (`laurels.core.public`).
    Set by the import only, never through the API."""
    return models.CharField(max_length=200, blank=True, default="", validators=[validate_origin])


class Role(models.TextChoices):
    STAFF = "staff", "Staff"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.STAFF: 1, Role.EDITOR: 2, Role.OWNER: 3}


class IssuerVerification(models.TextChoices):
    """How an issuer came to be shown as verified: anyone may name an issuer after a
    university, so public pages say so only after an administrator's review, or after the
    issuer proved it controls its website's domain."""

    ADMIN = "admin", "An administrator"
    DOMAIN = "domain", "A domain check"


class Issuer(models.Model):
    entity_id = entity_id_field()
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500)
    email = models.EmailField()
    image = models.FileField(upload_to="issuers/", blank=True)
    # Open Badges extensions as Badgr's clients send them (`extensions:recipientProfile`...):
    # kept as given and given back.
    extensions = models.JSONField(default=dict, blank=True)
    hosted_origin = _hosted_origin_field()
    # Set by issuing.services.issuer_verify, cleared by issuer_unverify (and by a change
    # of the name or website, which the verification was about).
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.CharField(max_length=10, choices=IssuerVerification.choices, blank=True)
    created_by = _created_by_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at", "id"])]

    def __str__(self) -> str:
        return self.name


class IssuerStaff(models.Model):
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="issuer_roles"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "user"], name="one_role_per_issuer_user")
        ]
        indexes = [models.Index(fields=["user", "issuer"])]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.issuer}"


class StaffInvitation(models.Model):
    """An owner's invitation to join an issuer's staff, sent to an email address
    (`issuing.services.staff_invite`), whether or not an account holds it: which it is
    must not show to the owner.

    It holds no secret: it is accepted by a logged-in account that holds the address
    verified, on its invitations page (`staff_invitation_accept`), an explicit step, so
    that nobody joins an issuer without agreeing to. Single use: accepting deletes it, as
    do declining and cancelling. It goes with its inviter's place as owner
    (`issuing.services`) and with the inviter's account.
    """

    entity_id = entity_id_field()
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    # None when the operator invited (a script, the admin): then no owner's place ends it.
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "email"], name="one_invitation_per_issuer_and_email"
            )
        ]
        indexes = [models.Index(fields=["email", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.email} invited as {self.role} of {self.issuer}"


class ExpiryUnit(models.TextChoices):
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"
    MONTHS = "months", "months"
    YEARS = "years", "years"


# The longest expiry a badge class may give its awards, per unit: a hundred years. Longer
# ones overflow Python's dates (which end at year 9999) when an award's expiry is worked out.
EXPIRY_LIMITS = {
    ExpiryUnit.DAYS: 36_525,
    ExpiryUnit.WEEKS: 5_218,
    ExpiryUnit.MONTHS: 1_200,
    ExpiryUnit.YEARS: 100,
}

# The instants an award or a list filter may name, in UTC. Python's datetime ends at
# 9999-12-31 and begins at year 1, so a date near either end overflows when its offset is
# taken away (in the database adapter, as a 500), and an expiry added to one overflows
# later; nothing a badge records predates 1900.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
OUT_OF_RANGE = "Give a date between 1900-01-01 and 9999-12-31 (UTC)."


def in_utc(value: datetime) -> datetime:
    """`value` in UTC. A naive time is read as UTC (the server's time zone, and what
    Badgr's API did with one); ValueError when it is not a time in UTC at all (before year
    1 or after 9999 once its offset is taken away)."""
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None


def instant_in_range(value: datetime) -> datetime:
    """`value` in UTC; ValueError when `in_utc` refuses it or it falls outside
    1900-01-01..9999-12-31 in UTC."""
    in_range = in_utc(value)
    if not EARLIEST_INSTANT <= in_range <= LATEST_INSTANT:
        raise ValueError(OUT_OF_RANGE)
    return in_range


def validate_alignments(value, *, complete: bool = False) -> None:
    """Open Badges alignments: objects whose `targetUrl`, when given, is a web address.
    The URL is published in the badge class's document and linked from its page, so a
    `javascript:` or `data:` one must never be stored.

    `complete` also requires what Open Badges 2.0 requires of an alignment, a
    `targetName` and a `targetUrl`: a Badgr server's rows are held to it when brought
    over (`badgr.services`), while the API takes partial ones as Badgr's did. The error's
    `code` says which rule failed ("alignments", "target_name", "target_url"), so that a
    caller can word it its own way."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValidationError("Alignments are a list of objects.", code="alignments")
    web_url = URLValidator(schemes=["http", "https"])
    for item in value:
        if complete and not item.get("targetName"):
            raise ValidationError("An alignment needs a targetName.", code="target_name")
        target_url = item.get("targetUrl")
        if target_url in (None, "") and not complete:
            continue
        try:
            web_url("" if target_url is None else str(target_url))
        except ValidationError:
            raise ValidationError(
                f"targetUrl {str(target_url)[:200]!r} is not a web address (http or https).",
                code="target_url",
            ) from None


class BadgeClass(models.Model):
    entity_id = entity_id_field()
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="badge_classes")
    name = models.CharField(max_length=255)
    description = models.TextField()
    image = models.FileField(upload_to="badges/")
    criteria_url = models.URLField(max_length=500, blank=True)
    criteria_narrative = models.TextField(blank=True)
    alignments = models.JSONField(default=list, blank=True, validators=[validate_alignments])
    tags = models.JSONField(default=list, blank=True)
    expires_amount = models.PositiveIntegerField(null=True, blank=True)
    expires_duration = models.CharField(max_length=8, choices=ExpiryUnit.choices, blank=True)
    # Open Badges extensions as Badgr's clients send them (`extensions:recipientProfile`...):
    # kept as given and given back.
    extensions = models.JSONField(default=dict, blank=True)
    hosted_origin = _hosted_origin_field()
    created_by = _created_by_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "badge classes"
        indexes = [
            models.Index(fields=["issuer", "id"]),
            models.Index(fields=["issuer", "name"]),
            models.Index(fields=["updated_at", "id"]),
        ]

    def __str__(self) -> str:
        return self.name


class RecipientType(models.TextChoices):
    EMAIL = "email", "email"
    URL = "url", "url"
    TELEPHONE = "telephone", "telephone"
    ID = "id", "id"


class Acceptance(models.TextChoices):
    UNACCEPTED = "Unaccepted", "Unaccepted"
    ACCEPTED = "Accepted", "Accepted"
    REJECTED = "Rejected", "Rejected"


class Assertion(models.Model):
    """One award of a badge class to one recipient.

    `recipient_identity` is what is published: `sha256$<hex>` of the identity plus
    `recipient_salt` when hashed (the default), else the identity itself.
    `recipient_plaintext` is kept (normalized) so the earner's backpack can find it and
    the issuer can filter by recipient; it is never published when hashed.

    Awards are inserted with a prepared statement naming every column from the row
    `issuing.services._award_row` builds: a new field goes there too (the insert refuses
    rows that do not name every column, and the round-trip test in
    tests/api/test_issuing.py checks what comes back).
    """

    entity_id = entity_id_field()
    # No index of their own: the composite indexes below begin with each (every award
    # written maintains every index, and a batch writes thousands).
    badge_class = models.ForeignKey(
        BadgeClass, on_delete=models.PROTECT, related_name="assertions", db_index=False
    )
    issuer = models.ForeignKey(
        Issuer, on_delete=models.CASCADE, related_name="assertions", db_index=False
    )
    recipient_type = models.CharField(max_length=16, choices=RecipientType.choices)
    recipient_plaintext = models.CharField(max_length=500)
    recipient_identity = models.CharField(max_length=600)
    recipient_hashed = models.BooleanField(default=True)
    recipient_salt = models.CharField(max_length=64, blank=True)
    recipient_name = models.CharField(max_length=255, blank=True)
    narrative = models.TextField(blank=True)
    evidence = models.JSONField(default=list, blank=True)
    issued_on = models.DateTimeField()
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    revocation_reason = models.CharField(max_length=500, blank=True)
    acceptance = models.CharField(
        max_length=16, choices=Acceptance.choices, default=Acceptance.UNACCEPTED
    )
    # Open Badges extensions as Badgr's clients send them (`extensions:recipientProfile`...):
    # kept as given and given back.
    extensions = models.JSONField(default=dict, blank=True)
    hosted_origin = _hosted_origin_field()
    created_by = _created_by_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["badge_class", "id"]),
            models.Index(fields=["issuer", "id"]),
            # The latest change of an issuer's awards, read by the award list's cache.
            models.Index(fields=["issuer", "updated_at"]),
            models.Index(fields=["issuer", "recipient_plaintext", "id"]),
            models.Index(
                fields=["badge_class", "recipient_plaintext"],
                condition=Q(revoked=False),
                name="live_award_by_recipient",
            ),
            # A backpack's awards by recipient; the trailing columns let the backpack
            # list's stamp (backpack.selectors.backpack_stamp) read the index alone.
            models.Index(
                fields=[
                    "recipient_type",
                    "recipient_plaintext",
                    "updated_at",
                    "badge_class",
                    "issuer",
                ],
                name="award_by_recipient",
            ),
            models.Index(fields=["updated_at", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.badge_class} → {self.recipient_plaintext}"


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_digest = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_answer_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class AwardBatchStatus(models.TextChoices):
    READY = "ready", "checked, not started"
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"


class AwardBatch(models.Model):
    """A CSV of awards checked on the web (`issuing.award_files`), then awarded by a
    queued job in chunks (`services.award_batch_run`).

    `rows` are the checked rows as JSON (`{"line", "type", "identity", "name",
    "narrative", "evidence_url"}`); `results` one `[line, identity, award entityId,
    error]` per row done, in order. `done` counts the rows done: each chunk's awards and
    the move of `done` and `results` commit together, so a job run again goes on from
    `done` and never awards a row twice."""

    entity_id = entity_id_field()
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+")
    badge_class = models.ForeignKey(
        BadgeClass, on_delete=models.CASCADE, related_name="award_batches"
    )
    created_by = _created_by_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(
        max_length=10, choices=AwardBatchStatus.choices, default=AwardBatchStatus.READY
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    notify = models.BooleanField(default=False)
    allow_duplicate_awards = models.BooleanField(default=True)
    file_name = models.CharField(max_length=255, blank=True)
    rows = models.JSONField(default=list)
    results = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "award batches"

    def __str__(self) -> str:
        return f"{self.badge_class}: {self.total} awards ({self.status})"
