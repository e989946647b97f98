"""Request and response shapes of the issuing endpoints (Badgr's v2 field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

from laurels.api.schemas import ApiDateTime, ApiInput
from laurels.issuing.models import EXPIRY_LIMITS, ExpiryUnit
from laurels.issuing.services import MAX_BATCH

# Staff are looked up one by one; no issuer has more.
MAX_STAFF = 1_000

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


class ExpiresRule(BaseModel):
    amount: int
    duration: Literal["days", "weeks", "months", "years"]


class ExpiresIn(ApiInput):
    """How long after it is issued an award expires: at most 100 years, so 36525 days,
    5218 weeks, 1200 months or 100 years."""

    amount: int = Field(ge=1, le=EXPIRY_LIMITS[ExpiryUnit.DAYS])
    duration: Literal["days", "weeks", "months", "years"]


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
    entityId: str
    revoked: bool
    reason: str | None = None


# --- requests --------------------------------------------------------------------------------


class StaffIn(ApiInput):
    """A person and their role: by email address (an invitation they accept, unless they
    are already a member) or by a member's user entityId."""

    user: str | None = None
    email: str | None = None
    role: Literal["owner", "editor", "staff"]


class IssuerIn(ApiInput):
    name: str = Field(min_length=1, max_length=255)
    url: str = Field(min_length=1, max_length=500)
    email: str = Field(min_length=3, max_length=254)
    description: str = ""
    image: str | None = Field(None, description="data:image/png;base64,... or an SVG data URI")


class IssuerUpdateIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=255)
    url: str | None = Field(None, max_length=500)
    email: str | None = Field(None, max_length=254)
    description: str | None = None
    image: str | None = None
    staff: list[StaffIn] | None = Field(None, max_length=MAX_STAFF)


class StaffListIn(ApiInput):
    staff: list[StaffIn] = Field(max_length=MAX_STAFF)


class BadgeClassIn(ApiInput):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(min_length=1)
    image: str = Field(description="data:image/png;base64,... or an SVG data URI")
    criteriaUrl: str | None = Field(None, max_length=500)
    criteriaNarrative: str | None = None
    alignments: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    expires: ExpiresIn | None = None


class BadgeClassUpdateIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = None
    image: str | None = None
    criteriaUrl: str | None = Field(None, max_length=500)
    criteriaNarrative: str | None = None
    alignments: list[dict[str, Any]] | None = None
    tags: list[str] | None = None
    expires: ExpiresIn | None = None


class RecipientIn(ApiInput):
    identity: str = Field(min_length=1, max_length=500)
    type: Literal["email", "url", "telephone", "id"] = "email"
    hashed: bool = True
    plaintextIdentity: str | None = Field(None, description="The recipient's name, shown on pages")


class AwardIn(ApiInput):
    recipient: RecipientIn
    narrative: str = ""
    evidence: list[EvidenceItem] = Field(default_factory=list)
    expires: ApiDateTime | None = None
    issuedOn: ApiDateTime | None = None
    notify: bool = Field(False, validation_alias=AliasChoices("notify", "create_notification"))
    allowDuplicateAwards: bool = True


class IssuerAwardIn(AwardIn):
    """Name the badge class by exactly one of the three fields."""

    badgeclass: str | None = None
    badgeclassOpenBadgeId: str | None = None
    badgeclassName: str | None = None


class BatchRecipientIn(ApiInput):
    recipient: RecipientIn
    narrative: str = ""
    evidence: list[EvidenceItem] = Field(default_factory=list)
    expires: ApiDateTime | None = None
    issuedOn: ApiDateTime | None = None


class BatchAwardIn(ApiInput):
    assertions: list[BatchRecipientIn] = Field(min_length=1, max_length=MAX_BATCH)
    notify: bool = Field(False, validation_alias=AliasChoices("notify", "create_notification"))
    allowDuplicateAwards: bool = True


class AssertionUpdateIn(ApiInput):
    narrative: str | None = None
    evidence: list[EvidenceItem] | None = None
    expires: ApiDateTime | None = None


class BatchRevokeItem(ApiInput):
    entityId: str = Field(max_length=64)
    revocationReason: str = Field(min_length=1, max_length=500)
