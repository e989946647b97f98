"""Shapes of /v2 objects (Badgr's camelCase field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Field
from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from laurels.issuing.models import instant_in_range

# Every date and time the API reads (bodies and query strings): ISO 8601, between 1900
# and 9999 once in UTC (`issuing.models.instant_in_range`), given back in UTC. A naive
# time is read as UTC, as Badgr did.
ApiDateTime = Annotated[
    datetime,
    AfterValidator(instant_in_range),
    Field(description="ISO 8601, e.g. 2026-05-01T12:00:00Z (no offset: UTC); years 1900-9999"),
]


class ApiInput(BaseModel):
    """Base of every request body schema.

    A plain pydantic model on purpose: ninja's Schema also reads attributes off arbitrary
    objects (meant for ORM output), which would let a JSON list or number pass as an
    object with every field missing. Inputs must be JSON objects. Unknown fields are
    ignored, so a client may send back the whole object it read.
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _must_be_an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("The request body must be a JSON object.")
        return data


class EmailOut(BaseModel):
    email: str
    verified: bool
    primary: bool
    caseVariants: list[str] = Field(
        default=[],
        description="Always empty: Laurels matches addresses whatever their case, so no "
        "spelling needs listing (Badgr's list of other-case spellings of the address).",
    )


class UserRecipientOut(BaseModel):
    """The user as a recipient: their account's address. Not an award's `recipient`
    (`issuing_schemas.RecipientOut`): the OpenAPI document names schemas by class name, so
    two classes of one name would be documented as one."""

    identity: str
    type: str = "email"


class UserOut(BaseModel):
    entityType: str = "BadgeUser"
    entityId: str
    firstName: str
    lastName: str
    emails: list[EmailOut]
    url: list[str] = []
    telephone: list[str] = []
    hasPasswordSet: bool
    recipient: UserRecipientOut
    agreedTermsVersion: int = Field(
        default=0, description="Always 0: Laurels has no terms versions to agree to."
    )
    hasAgreedToLatestTermsVersion: bool = Field(
        default=True, description="Always true: there are no terms to agree to."
    )
    marketingOptIn: bool = Field(
        default=False, description="Always false: Laurels sends no marketing mail."
    )
    badgrDomain: str = Field(
        default="",
        description="The host (and port) of this server, where Badgr named the Badgr app "
        "(its front end) the account came from.",
    )


class EmailIn(ApiInput):
    """An address the account is to hold; `verified` and `caseVariants` are read-only."""

    email: str = Field(max_length=254)
    primary: bool | None = False


class UserUpdateIn(ApiInput):
    """What to change; leave a field out (or null) to keep it. Other fields of the user
    (`verified`, `url`, ...) are ignored, so the profile read can be sent back.

    To change the password, send `password` (the new one) with `currentPassword`, as
    Badgr does: every other session and token of the account then ends. `emails` is the
    whole list of addresses, as in Badgr: new ones are added unverified (a link is
    mailed to each), missing ones removed, exactly one is `primary` (a verified one).
    `marketingOptIn` and `agreedTermsVersion` are accepted and mean nothing here."""

    firstName: str | None = Field(None, max_length=150)
    lastName: str | None = Field(None, max_length=150)
    currentPassword: str | None = Field(None, max_length=4096)
    password: str | None = Field(None, max_length=4096)
    emails: list[EmailIn] | None = Field(None, max_length=100)
    marketingOptIn: bool | None = None
    agreedTermsVersion: int | None = None
