"""Request and response shapes of the issuing endpoints (Badgr's v2 field names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, Field, model_validator

from laurels.api.schemas import ApiDateTime, ApiInput
from laurels.issuing.models import EXPIRY_LIMITS, ExpiryUnit
from laurels.issuing.services import MAX_BATCH

# Staff are looked up one by one; no issuer has more.
MAX_STAFF = 1_000


def _one_or_many(value: Any) -> Any:
    """A form field given once is one value where a list is meant (`tags=python`)."""
    return [value] if isinstance(value, str | dict) else value


Tags = Annotated[list[str] | None, BeforeValidator(_one_or_many)]
Alignments = Annotated[list[dict[str, Any]] | None, BeforeValidator(_one_or_many)]
# Badgr's `extensions`: Open Badges extensions by name (`extensions:recipientProfile`...),
# kept as sent and given back; null is none.
Extensions = dict[str, Any] | None

# --- responses -------------------------------------------------------------------------------


class StaffOut(BaseModel):
    user: str
    email: str
    role: str


class StaffAddedOut(BaseModel):
    """The person asked for, as asked: the same whether they were added or invited."""

    user: str | None
    email: str | None
    role: str


class StaffInvitationOut(BaseModel):
    entityType: str = "StaffInvitation"
    entityId: str
    email: str
    role: str
    invitedAt: str
    expiresAt: str


class IssuerOut(BaseModel):
    entityType: str
    entityId: str
    openBadgeId: str
    createdAt: str
    createdBy: str | None
    name: str
    image: str | None
    email: str
    description: str
    url: str
    staff: list[StaffOut]
    extensions: dict[str, Any]
    verified: bool = False


class ExpiresRule(BaseModel):
    amount: int
    duration: Literal["days", "weeks", "months", "years"]


class ExpiresIn(ApiInput):
    """How long after it is issued an award expires: at most 100 years, so 36525 days,
    5218 weeks, 1200 months or 100 years. Both null (what Badgr's clients send for a
    badge that does not expire) is no expiry."""

    amount: int | None = Field(None, ge=1, le=EXPIRY_LIMITS[ExpiryUnit.DAYS])
    duration: Literal["days", "weeks", "months", "years"] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> ExpiresIn:
        if (self.amount is None) != (self.duration is None):
            raise ValueError("Give both amount and duration, or neither.")
        return self


class BadgeClassOut(BaseModel):
    entityType: str
    entityId: str
    openBadgeId: str
    createdAt: str
    createdBy: str | None
    issuer: str
    issuerOpenBadgeId: str
    name: str
    image: str
    description: str
    criteriaUrl: str | None
    criteriaNarrative: str | None
    alignments: list[dict[str, Any]]
    tags: list[str]
    expires: ExpiresRule | None
    extensions: dict[str, Any]


class RecipientOut(BaseModel):
    identity: str
    hashed: bool
    type: str
    plaintextIdentity: str
    salt: str | None


class EvidenceItem(BaseModel):
    url: str | None = None
    narrative: str | None = None


class AssertionOut(BaseModel):
    entityType: str
    entityId: str
    openBadgeId: str
    createdAt: str
    createdBy: str | None
    badgeclass: str
    badgeclassOpenBadgeId: str
    issuer: str
    issuerOpenBadgeId: str
    image: str
    recipient: RecipientOut
    issuedOn: str
    narrative: str | None
    evidence: list[EvidenceItem]
    revoked: bool
    revocationReason: str | None
    acceptance: str
    expires: str | None
    extensions: dict[str, Any]


class RevokeResultOut(BaseModel):
    """`reason`: why an award was not revoked; `revocationReason`: the one asked for."""

    entityId: str
    revocationReason: str
    revoked: bool
    reason: str | None = None


# --- requests --------------------------------------------------------------------------------


class StaffIn(ApiInput):
    """A person and their role: by email address (an invitation they accept, unless they
    are already a member) or by a member's user entityId."""

    user: str | None = None
    email: str | None = None
    role: Literal["owner", "editor", "staff"]


IMAGE_HELP = (
    "data:image/png;base64,... or an SVG data URI, or a file part of a multipart body; "
    "on a change, the image URL given out here (or any http(s) URL) keeps the image"
)


class IssuerIn(ApiInput):
    name: str = Field(min_length=1, max_length=255)
    url: str = Field(min_length=1, max_length=500)
    email: str = Field(min_length=3, max_length=254)
    description: str | None = ""
    image: str | None = Field(None, description=IMAGE_HELP)
    extensions: Extensions = None


class IssuerUpdateIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=255)
    url: str | None = Field(None, max_length=500)
    email: str | None = Field(None, max_length=254)
    description: str | None = None
    image: str | None = Field(None, description=IMAGE_HELP)
    staff: list[StaffIn] | None = Field(None, max_length=MAX_STAFF)
    extensions: Extensions = None


class StaffListIn(ApiInput):
    staff: list[StaffIn] = Field(max_length=MAX_STAFF)


class BadgeClassIn(ApiInput):
    """Criteria are optional: without them the badge's public page stands as its
    criteria (as in Badgr)."""

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(min_length=1)
    image: str = Field(description=IMAGE_HELP)
    criteriaUrl: str | None = Field(None, max_length=500)
    criteriaNarrative: str | None = None
    alignments: Alignments = None
    tags: Tags = None
    expires: ExpiresIn | None = None
    extensions: Extensions = None


class BadgeClassWithIssuerIn(BadgeClassIn):
    """`POST /v2/badgeclasses` names the issuer in the body, as Badgr's did."""

    issuer: str = Field(min_length=1, max_length=64, description="the issuer's entityId")


class BadgeClassUpdateIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = None
    image: str | None = Field(None, description=IMAGE_HELP)
    criteriaUrl: str | None = Field(None, max_length=500)
    criteriaNarrative: str | None = None
    alignments: Alignments = None
    tags: Tags = None
    expires: ExpiresIn | None = None
    extensions: Extensions = None


class RecipientIn(ApiInput):
    identity: str = Field(min_length=1, max_length=500)
    type: Literal["email", "url", "telephone", "id", "openBadgeId"] = Field(
        "email", description="`openBadgeId` (Badgr's name) is taken as `id`"
    )
    hashed: bool | None = Field(
        None, description="default: true for an email address, false for the other types"
    )
    plaintextIdentity: str | None = Field(None, description="The recipient's name, shown on pages")


class AwardIn(ApiInput):
    recipient: RecipientIn
    narrative: str | None = None
    evidence: list[EvidenceItem] | None = None
    expires: ApiDateTime | None = None
    issuedOn: ApiDateTime | None = None
    extensions: Extensions = None
    notify: bool = Field(False, validation_alias=AliasChoices("notify", "create_notification"))
    allowDuplicateAwards: bool = True


class IssuerAwardIn(AwardIn):
    """Name the badge class by exactly one of the three fields."""

    badgeclass: str | None = None
    badgeclassOpenBadgeId: str | None = None
    badgeclassName: str | None = None


class BatchRecipientIn(ApiInput):
    recipient: RecipientIn
    narrative: str | None = None
    evidence: list[EvidenceItem] | None = None
    expires: ApiDateTime | None = None
    issuedOn: ApiDateTime | None = None
    extensions: Extensions = None


class BatchAwardIn(ApiInput):
    assertions: list[BatchRecipientIn] = Field(min_length=1, max_length=MAX_BATCH)
    notify: bool = Field(False, validation_alias=AliasChoices("notify", "create_notification"))
    allowDuplicateAwards: bool = True


class AssertionUpdateIn(ApiInput):
    narrative: str | None = None
    evidence: list[EvidenceItem] | None = None
    expires: ApiDateTime | None = None
    extensions: Extensions = None


class BatchRevokeItem(ApiInput):
    entityId: str = Field(max_length=64)
    revocationReason: str = Field(min_length=1, max_length=500)
