"""The /v1 routes that Badgr integrations still call, in Badgr's v1 shapes.

Badgr's v1 answered bare JSON (no /v2 envelope); errors keep the /v2 envelope, whose
status code is what clients look at. Only what maintained integrations use is here:
everything else of v1 has a /v2 route (docs/badgr-compatibility.md).
"""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Status
from pydantic import BaseModel

from laurels.api.envelope import with_error_responses
from laurels.api.schemas import ApiInput
from laurels.connect import issuing_selectors
from laurels.connect.permissions import IssuingAction as Action
from laurels.core.errors import NotFound
from laurels.issuing import selectors, services
from laurels.issuing.models import IssuerStaff

router = Router(tags=["Badgr v1"])


class StaffUserV1(BaseModel):
    first_name: str
    last_name: str
    email: str
    slug: str


class StaffMemberV1(BaseModel):
    user: StaffUserV1
    role: str


class StaffInvitedV1(BaseModel):
    """An `add` is always an invitation (see `staff_post`); the answer is the request."""

    email: str
    role: str
    invited: bool


class StaffActionIn(ApiInput):
    """Badgr's IssuerRoleActionSerializerV1: who by one of four identifiers, and what."""

    action: Literal["add", "modify", "remove"]
    email: str | None = None
    username: str | None = None
    url: str | None = None
    telephone: str | None = None
    role: Literal["owner", "editor", "staff"] = "staff"


def member_json(member: IssuerStaff) -> dict:
    user = member.user
    return {
        "user": {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "slug": user.entity_id,
        },
        "role": member.role,
    }


def _person(payload: StaffActionIn) -> str:
    """Whom the action names. Laurels accounts have no usernames but their email address
    (a Badgr `username` is taken as an address or a user entityId) and hold no url or
    telephone identifiers, so those name nobody: 404, as Badgr answered for no account."""
    if payload.url or payload.telephone:
        raise NotFound("User not found: no account here holds a url or telephone.")
    person = (payload.email or payload.username or "").strip()
    if not person:
        raise ValidationError(
            "User not found. please provide a valid email address, username, url or telephone "
            "identifier."
        )
    return person


@router.get(
    "/issuer/issuers/{entity_id}/staff",
    response=with_error_responses({200: list[StaffMemberV1]}),
    summary="An issuer's staff (Badgr v1)",
)
def staff_list(request: HttpRequest, entity_id: str):
    """Anyone on the staff sees it, as in Badgr (the issuer's /v2 answer shows it too)."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.ISSUER_VIEW
    )
    return [member_json(member) for member in issuer.staff.all()]


@router.post(
    "/issuer/issuers/{entity_id}/staff",
    response=with_error_responses({200: StaffMemberV1 | str, 202: StaffInvitedV1}),
    summary="Add, change or remove a staff member (Badgr v1)",
)
def staff_post(request: HttpRequest, entity_id: str, payload: StaffActionIn):
    """Owner only. `action`: `add` | `modify` | `remove`; who: `email` or `username` (an
    address or a user entityId); `role` (default `staff`).

    Diverges from Badgr in `add`: nobody joins a staff without accepting, so an address
    that is not a member's is invited by email (202, the same answer whether or not an
    account holds it) where Badgr added an account at once (200) or answered 404. A
    member named again is refused (400), as in Badgr. `modify` changes a member's role
    (400 for anyone else); `remove` takes a member off (200 either way). Your own place
    cannot be changed here (400, as in Badgr)."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    person = _person(payload)
    member = selectors.staff_member(issuer=issuer, person=person)
    if member is not None and member.user_id == request.auth.user.pk:
        raise ValidationError("Cannot modify your own permissions on an issuer profile")
    actor = request.auth.user
    if payload.action == "add":
        if member is not None:
            raise ValidationError("Could not add user to staff list. User already in staff list.")
        services.issuer_staff_add(issuer=issuer, person=person, role=payload.role, actor=actor)
        return Status(202, {"email": person, "role": payload.role, "invited": True})
    if payload.action == "modify":
        changed = services.issuer_staff_role_set(
            issuer=issuer, person=person, role=payload.role, actor=actor
        )
        return member_json(changed)
    services.issuer_staff_remove(issuer=issuer, person=person, actor=actor)
    return f"User {person} has been removed from {issuer.name} staff."
