"""/v2 issuers, badge classes and assertions (Badgr's paths and field names).

Handlers are thin: permissions through `connect.permissions` (via
`connect.issuing_selectors`), writes through `issuing.services`, JSON through
`issuing_presenters`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import Field

from laurels.api.answer_cache import first_expiry, keep_answer
from laurels.api.envelope import (
    envelope,
    envelope_of,
    envelope_response,
    feed_envelope_of,
    with_error_responses,
)
from laurels.api.idempotency import idempotent
from laurels.api.inputs import body_data
from laurels.api.issuing_presenters import (
    assertion_json,
    badge_class_json,
    issuer_json,
    staff_invitation_json,
)
from laurels.api.issuing_schemas import (
    AssertionOut,
    AssertionUpdateIn,
    AwardIn,
    BadgeClassIn,
    BadgeClassOut,
    BadgeClassUpdateIn,
    BadgeClassWithIssuerIn,
    BatchAwardIn,
    BatchRevokeItem,
    IssuerAwardIn,
    IssuerIn,
    IssuerOut,
    IssuerUpdateIn,
    RevokeResultOut,
    StaffAddedOut,
    StaffIn,
    StaffInvitationOut,
    StaffListIn,
    StaffOut,
)
from laurels.api.pagination import PageQuery, changes_page, newest_first_page, next_page_url
from laurels.api.schemas import ApiDateTime
from laurels.connect import issuing_selectors
from laurels.connect.permissions import IssuingAction as Action
from laurels.connect.permissions import require_issuing, require_issuing_scope
from laurels.core.errors import DomainError
from laurels.core.images import ImageTooLarge, image_from_data_uri, image_from_upload
from laurels.core.public import iso
from laurels.issuing import selectors, services
from laurels.issuing.models import Assertion, BadgeClass, Issuer

router = Router(tags=["Issuing"])

IssuerEnvelope = envelope_of(IssuerOut)
BadgeClassEnvelope = envelope_of(BadgeClassOut)
AssertionEnvelope = envelope_of(AssertionOut)
StaffEnvelope = envelope_of(StaffOut)
StaffAddedEnvelope = envelope_of(StaffAddedOut)
StaffInvitationEnvelope = envelope_of(StaffInvitationOut)
RevokeEnvelope = envelope_of(RevokeResultOut)


# `recipient` values one award list may ask for at once (each is one index lookup).
MAX_RECIPIENTS = 100


class AssertionQuery(PageQuery):
    """As in Badgr, revoked and expired awards are left out unless `include_revoked=true`
    / `include_expired=true` (or `revoked` asks for them), and `recipient` may repeat."""

    recipient: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    revoked: bool | None = None
    include_revoked: bool = False
    include_expired: bool = False
    issuedSince: ApiDateTime | None = None
    issuedUntil: ApiDateTime | None = None


class ChangedQuery(PageQuery):
    since: ApiDateTime | None = None


# What an award may be refused with besides the usual: 409 a duplicate award, 422 an
# Idempotency-Key already used for another request.
AWARD_REFUSALS = (409, 422)


def _ok(schema, *refusals: int):
    return with_error_responses({200: schema}, refusals=refusals)


def _created(schema, *refusals: int):
    return with_error_responses({200: schema, 201: schema}, refusals=refusals)


def _deleted(*refusals: int):
    """DELETE answers 204 with no body, as Badgr's did."""
    return with_error_responses({204: None}, refusals=refusals)


def _image(value: str | None):
    """A new image from a data URI; None (keep the image) for none, or for a URL: a
    client that read an object and sends it back carries the image URL we gave out, and
    Badgr, too, took a URL as "unchanged"."""
    if not value or value.startswith(("http://", "https://")):
        return None
    return image_from_data_uri(value)


def _filters(query: AssertionQuery) -> dict:
    return {
        "recipients": query.recipient,
        "revoked": query.revoked,
        "include_revoked": query.include_revoked,
        "include_expired": query.include_expired,
        "issued_since": query.issuedSince,
        "issued_until": query.issuedUntil,
    }


def _feed(request, response, model, presenter, query: ChangedQuery) -> dict:
    """A change feed page, with `timestamp`: the `since` to ask with next time."""
    started = timezone.now()
    rows = selectors.changed_since(model, user=request.auth.user, since=query.since)
    page = changes_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    body = envelope([presenter(row) for row in page])
    next_url = next_page_url(response)
    body["timestamp"] = iso(page[-1].updated_at if next_url else started)
    body["pagination"] = {
        "hasNext": next_url is not None,
        "nextResults": next_url,
        "hasPrevious": False,
        "previousResults": None,
    }
    return body


def _staff_as_read(staff: list[StaffIn], issuer: Issuer) -> bool:
    """Whether `staff` is the issuer's staff list as `issuer_json` shows it (by user)."""
    current = {(member.user.entity_id, member.role) for member in issuer.staff.all()}
    sent = {(member.user, member.role) for member in staff}
    return len(staff) == len(current) and sent == current


def _staff_pairs(staff: list[StaffIn]) -> list[tuple[str, str]]:
    pairs = []
    for member in staff:
        person = member.email or member.user
        if not person:
            raise ValidationError({"staff": ["Each staff member needs an email or a user."]})
        pairs.append((person, member.role))
    return pairs


# --- issuers ---------------------------------------------------------------------------------


@router.get(
    "/issuers/changed", response=_ok(feed_envelope_of(IssuerOut)), summary="Issuers changed since"
)
def issuers_changed(request: HttpRequest, response: HttpResponse, query: Query[ChangedQuery]):
    """Issuers you work for that changed after `since`, oldest change first. Use the
    answer's `timestamp` as the next `since`; follow `Link: rel="next"` for more pages."""
    require_issuing_scope(request.auth, Action.ISSUER_VIEW)
    return _feed(request, response, Issuer, issuer_json, query)


@router.get("/issuers", response=_ok(IssuerEnvelope), summary="Your issuers")
def issuers_list(request: HttpRequest, response: HttpResponse, query: Query[PageQuery]):
    """Issuers you work for (or, for a token bound to issuers, just those)."""
    require_issuing_scope(request.auth, Action.ISSUER_VIEW, allow_issuer_scopes=True)
    rows = issuing_selectors.issuers_visible_to(caller=request.auth)
    page = newest_first_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    return envelope([issuer_json(issuer) for issuer in page])


@router.post("/issuers", response=_created(IssuerEnvelope), summary="Create an issuer")
def issuers_create(request: HttpRequest, payload: IssuerIn):
    """You become the new issuer's owner."""
    require_issuing_scope(request.auth, Action.ISSUER_EDIT)
    issuer = services.issuer_create(
        actor=request.auth.user,
        name=payload.name,
        url=payload.url,
        email=payload.email,
        description=payload.description or "",
        image=_image(payload.image),
        extensions=payload.extensions,
    )
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=issuer.entity_id, action=Action.ISSUER_VIEW
    )
    return Status(201, envelope(issuer_json(issuer)))


@router.get("/issuers/{entity_id}", response=_ok(IssuerEnvelope), summary="An issuer")
def issuer_get(request: HttpRequest, entity_id: str):
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.ISSUER_VIEW
    )
    return envelope_response(issuer_json(issuer))


@router.put("/issuers/{entity_id}", response=_ok(IssuerEnvelope), summary="Change an issuer")
def issuer_update(request: HttpRequest, entity_id: str, payload: IssuerUpdateIn):
    """Editors change the details; changing `staff` takes an owner. The staff list as
    read (what a client sends back with the rest of the issuer) changes nothing."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.ISSUER_EDIT
    )
    if payload.staff is not None and _staff_as_read(payload.staff, issuer):
        payload.staff = None
    if payload.staff is not None:
        require_issuing(request.auth, Action.STAFF_MANAGE, issuer)
    services.issuer_update(
        issuer=issuer,
        name=payload.name,
        url=payload.url,
        email=payload.email,
        description=payload.description,
        image=_image(payload.image),
        staff=_staff_pairs(payload.staff) if payload.staff is not None else None,
        actor=request.auth.user,
        extensions=payload.extensions,
    )
    request.auth.roles.clear()
    return envelope(
        issuer_json(
            issuing_selectors.issuer_for(
                caller=request.auth, entity_id=entity_id, action=Action.ISSUER_VIEW
            )
        )
    )


@router.delete("/issuers/{entity_id}", response=_deleted(409), summary="Delete an issuer")
def issuer_delete(request: HttpRequest, entity_id: str):
    """Refused with 409 while the issuer has awards that are neither revoked nor
    expired; its revoked and expired awards are deleted with it. 204, no body."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.ISSUER_DELETE
    )
    services.issuer_delete(issuer=issuer, actor=request.auth.user)
    return Status(204, None)


@router.get("/issuers/{entity_id}/staff", response=_ok(StaffEnvelope), summary="An issuer's staff")
def issuer_staff(request: HttpRequest, entity_id: str):
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    return envelope(issuer_json(issuer)["staff"])


@router.put(
    "/issuers/{entity_id}/staff", response=_ok(StaffEnvelope), summary="Replace an issuer's staff"
)
def issuer_staff_set(request: HttpRequest, entity_id: str, payload: StaffListIn):
    """Owner only. Give everyone who should be staff: members by email or user entityId
    (their roles change at once, members left out leave), anyone else by email, who is
    invited (see `POST`). At least one owner must remain. The answer lists members only;
    pending invitations are left as they are, except those of an owner who left or was
    demoted, which end."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    members = services.issuer_staff_set(
        issuer=issuer, staff=_staff_pairs(payload.staff), actor=request.auth.user
    )
    return envelope(
        [{"user": m.user.entity_id, "email": m.user.email, "role": m.role} for m in members]
    )


STAFF_ADDED = (
    "Done. Unless they are on the staff already (their role is changed then), they are "
    "invited by email, and join when they accept."
)


@router.post(
    "/issuers/{entity_id}/staff",
    response=with_error_responses({202: StaffAddedEnvelope}),
    summary="Invite a staff member, or change a member's role",
)
def issuer_staff_add(request: HttpRequest, entity_id: str, payload: StaffIn):
    """Owner only. `{"email" or "user": entityId, "role"}`. Any address is invited by
    email, whether or not an account holds it, and joins the staff when a logged-in
    account holding it verified accepts (within 14 days, at `/account/invitations/`). A
    member, named by an address of theirs or entityId, takes the role at once. The answer
    is the same in every case, so that it does not tell who has an account. 429 beyond
    the owner's invitation limit."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    person = payload.email or payload.user
    if not person:
        raise ValidationError({"email": ["Give an email address or a user entityId."]})
    services.issuer_staff_add(
        issuer=issuer, person=person, role=payload.role, actor=request.auth.user
    )
    asked = {"user": payload.user, "email": payload.email, "role": payload.role}
    return Status(202, envelope(asked, description=STAFF_ADDED))


@router.get(
    "/issuers/{entity_id}/staff/invitations",
    response=_ok(StaffInvitationEnvelope),
    summary="An issuer's pending staff invitations",
)
def issuer_staff_invitations(request: HttpRequest, entity_id: str):
    """Owner only. Invitations not yet accepted and not expired."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    invitations = selectors.staff_invitations_pending(issuer=issuer)
    return envelope([staff_invitation_json(i) for i in invitations])


@router.delete(
    "/issuers/{entity_id}/staff/invitations/{invitation_id}",
    response=_ok(StaffInvitationEnvelope),
    summary="Cancel a staff invitation",
)
def issuer_staff_invitation_cancel(request: HttpRequest, entity_id: str, invitation_id: str):
    """Owner only. The invitation's link then makes nobody staff."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.STAFF_MANAGE
    )
    services.staff_invitation_cancel(issuer=issuer, entity_id=invitation_id)
    return envelope(description="Cancelled.")


# --- badge classes ---------------------------------------------------------------------------


@router.get(
    "/issuers/{entity_id}/badgeclasses",
    response=_ok(BadgeClassEnvelope),
    summary="An issuer's badge classes",
)
def issuer_badge_classes(
    request: HttpRequest, response: HttpResponse, entity_id: str, query: Query[PageQuery]
):
    issuer = issuing_selectors.issuer_for_list(
        caller=request.auth, entity_id=entity_id, action=Action.BADGECLASS_VIEW
    )
    rows = issuing_selectors.badge_classes_visible(caller=request.auth, issuer=issuer)
    page = newest_first_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    return envelope([badge_class_json(b) for b in page])


@router.post(
    "/issuers/{entity_id}/badgeclasses",
    response=_created(BadgeClassEnvelope),
    summary="Define a badge class",
)
def issuer_badge_class_create(request: HttpRequest, entity_id: str, payload: BadgeClassIn):
    return _badge_class_create(request, entity_id, payload)


def _badge_class_create(request: HttpRequest, issuer_id: str, payload: BadgeClassIn):
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=issuer_id, action=Action.BADGECLASS_DEFINE
    )
    badge_class = services.badge_class_create(
        issuer=issuer,
        actor=request.auth.user,
        name=payload.name,
        description=payload.description,
        image=_image(payload.image),
        criteria_url=payload.criteriaUrl or "",
        criteria_narrative=payload.criteriaNarrative or "",
        alignments=payload.alignments,
        tags=payload.tags,
        expires_amount=payload.expires.amount if payload.expires else None,
        expires_duration=payload.expires.duration if payload.expires else None,
        extensions=payload.extensions,
    )
    return Status(201, envelope(badge_class_json(badge_class)))


@router.get(
    "/badgeclasses/changed",
    response=_ok(feed_envelope_of(BadgeClassOut)),
    summary="Badge classes changed since",
)
def badge_classes_changed(request: HttpRequest, response: HttpResponse, query: Query[ChangedQuery]):
    require_issuing_scope(request.auth, Action.BADGECLASS_VIEW)
    return _feed(request, response, BadgeClass, badge_class_json, query)


@router.post("/badgeclasses", response=_created(BadgeClassEnvelope), summary="Define a badge class")
def badge_class_create(request: HttpRequest, payload: BadgeClassWithIssuerIn):
    """As `POST /v2/issuers/{entityId}/badgeclasses`, with the issuer's entityId in
    `issuer` (Badgr's path)."""
    return _badge_class_create(request, payload.issuer, payload)


@router.get("/badgeclasses", response=_ok(BadgeClassEnvelope), summary="Your badge classes")
def badge_classes_list(request: HttpRequest, response: HttpResponse, query: Query[PageQuery]):
    """Badge classes of every issuer you work for (or, for a token bound to single badge
    classes, just those)."""
    require_issuing_scope(request.auth, Action.BADGECLASS_VIEW, allow_badge_class_scopes=True)
    rows = issuing_selectors.badge_classes_visible(caller=request.auth)
    page = newest_first_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    return envelope([badge_class_json(b) for b in page])


@router.get("/badgeclasses/{entity_id}", response=_ok(BadgeClassEnvelope), summary="A badge class")
def badge_class_get(request: HttpRequest, entity_id: str):
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.BADGECLASS_VIEW
    )
    return envelope_response(badge_class_json(badge_class))


@router.put(
    "/badgeclasses/{entity_id}", response=_ok(BadgeClassEnvelope), summary="Change a badge class"
)
def badge_class_update(request: HttpRequest, entity_id: str, payload: BadgeClassUpdateIn):
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.BADGECLASS_EDIT
    )
    changes = {
        "name": payload.name,
        "description": payload.description,
        "criteria_url": payload.criteriaUrl,
        "criteria_narrative": payload.criteriaNarrative,
        "alignments": payload.alignments,
        "tags": payload.tags,
        "extensions": payload.extensions,
    }
    if "expires" in payload.model_fields_set:
        changes["expires_amount"] = payload.expires.amount if payload.expires else None
        changes["expires_duration"] = payload.expires.duration if payload.expires else None
    services.badge_class_update(badge_class=badge_class, image=_image(payload.image), **changes)
    return envelope(badge_class_json(badge_class))


@router.delete("/badgeclasses/{entity_id}", response=_deleted(409), summary="Delete a badge class")
def badge_class_delete(request: HttpRequest, entity_id: str):
    """Refused with 409 while the badge class has awards that are neither revoked nor
    expired; its revoked and expired awards are deleted with it. 204, no body."""
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.BADGECLASS_EDIT
    )
    services.badge_class_delete(badge_class=badge_class, actor=request.auth.user)
    return Status(204, None)


# --- awards ----------------------------------------------------------------------------------


def _evidence(items) -> list[dict]:
    """Evidence items as the service takes them. An item whose every field was sent as
    null (`{"url": null}`, what Open edX sends for badges without an evidence page) means
    "no evidence" and is dropped; Badgr refused it, so accepting it only adds. An empty
    item `{}` still goes to the service, which refuses it."""
    return [
        e.model_dump(exclude_none=True)
        for e in items
        if not e.model_fields_set or any(getattr(e, f) is not None for f in e.model_fields_set)
    ]


def _award_input(item) -> services.AwardInput:
    return services.AwardInput(
        recipient=services.Recipient(
            identity=item.recipient.identity,
            type="id" if item.recipient.type == "openBadgeId" else item.recipient.type,
            hashed=item.recipient.hashed,
            name=item.recipient.plaintextIdentity or "",
        ),
        narrative=item.narrative or "",
        evidence=_evidence(item.evidence or []),
        expires=item.expires,
        issued_on=item.issuedOn,
        extensions=item.extensions,
    )


def _award(request: HttpRequest, badge_class: BadgeClass, payload: AwardIn):
    require_issuing(request.auth, Action.AWARD, badge_class.issuer, badge_class)

    def produce() -> tuple[int, dict]:
        assertion = services.assertion_award(
            badge_class=badge_class,
            award=_award_input(payload),
            actor=request.auth.user,
            notify=payload.notify,
            allow_duplicate_awards=payload.allowDuplicateAwards,
        )
        return 201, envelope(assertion_json(assertion))

    return Status(*idempotent(request, request.auth.user, produce))


@router.get(
    "/badgeclasses/{entity_id}/assertions",
    response=_ok(AssertionEnvelope),
    summary="Awards of a badge class",
)
def badge_class_assertions(
    request: HttpRequest, response: HttpResponse, entity_id: str, query: Query[AssertionQuery]
):
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD_HISTORY
    )
    rows = selectors.badge_class_assertions(badge_class=badge_class, **_filters(query))
    page = newest_first_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    return envelope([assertion_json(a) for a in page])


@router.post(
    "/badgeclasses/{entity_id}/assertions",
    response=_created(AssertionEnvelope, *AWARD_REFUSALS),
    summary="Award a badge",
)
def badge_class_award(request: HttpRequest, entity_id: str, payload: AwardIn):
    """Send `Idempotency-Key` to make retries safe: a repeated request gets the first
    answer back instead of a second award."""
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD
    )
    return _award(request, badge_class, payload)


@router.post(
    "/badgeclasses/{entity_id}/issue",
    response=_created(AssertionEnvelope, *AWARD_REFUSALS),
    summary="Award a badge to many recipients",
)
def badge_class_award_batch(request: HttpRequest, entity_id: str, payload: BatchAwardIn):
    """All or nothing, in one transaction: if any recipient is invalid, nobody is awarded
    and `fieldErrors` names each problem (`assertions.N.recipient`). Up to 10,000."""
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD
    )

    def produce() -> tuple[int, dict]:
        created = services.assertions_award(
            badge_class=badge_class,
            awards=[_award_input(item) for item in payload.assertions],
            actor=request.auth.user,
            notify=payload.notify,
            allow_duplicate_awards=payload.allowDuplicateAwards,
        )
        return 201, envelope([assertion_json(a) for a in created])

    # Up to 10,000 items the presenters already shaped: sent as they are, not validated
    # again against the response schema (which documents them).
    status, body = idempotent(request, request.auth.user, produce)
    return JsonResponse(body, status=status)


@router.get(
    "/issuers/{entity_id}/assertions",
    response=_ok(AssertionEnvelope),
    summary="Awards of an issuer",
)
def issuer_assertions(
    request: HttpRequest, response: HttpResponse, entity_id: str, query: Query[AssertionQuery]
):
    issuer = issuing_selectors.issuer_for_list(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD_HISTORY
    )
    rows = issuing_selectors.issuer_assertions(
        caller=request.auth, issuer=issuer, **_filters(query)
    )
    page = newest_first_page(
        rows, request=request, response=response, num=query.num, cursor=query.cursor
    )
    keep_answer(request, valid_until=None if query.include_expired else first_expiry(page))
    return envelope([assertion_json(a) for a in page])


@router.post(
    "/issuers/{entity_id}/assertions",
    response=_created(AssertionEnvelope, *AWARD_REFUSALS),
    summary="Award a badge of this issuer",
)
def issuer_award(request: HttpRequest, entity_id: str, payload: IssuerAwardIn):
    """Name the badge class by exactly one of `badgeclass` (entityId),
    `badgeclassOpenBadgeId` (its URL) or `badgeclassName`."""
    issuer = issuing_selectors.issuer_for_list(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD
    )
    named = [
        v for v in (payload.badgeclass, payload.badgeclassOpenBadgeId, payload.badgeclassName) if v
    ]
    if len(named) != 1:
        raise ValidationError(
            {
                "badgeclass": [
                    "Name the badge class by exactly one of badgeclass, badgeclassOpenBadgeId or "
                    "badgeclassName."
                ]
            }
        )
    if payload.badgeclass:
        badge_class = BadgeClass.objects.filter(issuer=issuer, entity_id=payload.badgeclass).first()
    elif payload.badgeclassOpenBadgeId:
        badge_class = selectors.badge_class_by_open_badge_id(
            issuer=issuer, url=payload.badgeclassOpenBadgeId
        )
    else:
        badge_class = selectors.badge_class_by_name(issuer=issuer, name=payload.badgeclassName)
    if badge_class is None:
        raise ValidationError({"badgeclass": ["This issuer has no such badge class."]})
    badge_class.issuer = issuer
    return _award(request, badge_class, payload)


@router.get(
    "/assertions/changed",
    response=_ok(feed_envelope_of(AssertionOut)),
    summary="Awards changed since",
)
def assertions_changed(request: HttpRequest, response: HttpResponse, query: Query[ChangedQuery]):
    require_issuing_scope(request.auth, Action.AWARD_HISTORY)
    return _feed(request, response, Assertion, assertion_json, query)


@router.post("/assertions/revoke", response=_ok(RevokeEnvelope), summary="Revoke many awards")
def assertions_revoke(request: HttpRequest, payload: list[BatchRevokeItem]):
    """Each item is revoked or refused on its own; the answer says which, in order. Up
    to 10,000."""
    if len(payload) > services.MAX_BATCH:
        raise ValidationError(f"At most {services.MAX_BATCH} awards per request.")
    results = []
    for item in payload:
        # Each result repeats what was asked, as Badgr's did.
        asked = {"entityId": item.entityId, "revocationReason": item.revocationReason}
        try:
            assertion = issuing_selectors.assertion_for(
                caller=request.auth, entity_id=item.entityId, action=Action.AWARD_REVOKE
            )
            services.assertion_revoke(
                assertion=assertion, reason=item.revocationReason, actor=request.auth.user
            )
        except (DomainError, ValidationError) as error:
            reason = error.message if isinstance(error, DomainError) else " ".join(error.messages)
            results.append({**asked, "revoked": False, "reason": reason})
        else:
            results.append({**asked, "revoked": True})
    return envelope(results)


@router.get("/assertions/{entity_id}", response=_ok(AssertionEnvelope), summary="An award")
def assertion_get(request: HttpRequest, entity_id: str):
    assertion = issuing_selectors.assertion_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD_HISTORY
    )
    return envelope_response(assertion_json(assertion))


@router.put("/assertions/{entity_id}", response=_ok(AssertionEnvelope), summary="Change an award")
def assertion_update(request: HttpRequest, entity_id: str, payload: AssertionUpdateIn):
    assertion = issuing_selectors.assertion_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD_REVOKE
    )
    services.assertion_update(
        assertion=assertion,
        narrative=payload.narrative,
        evidence=_evidence(payload.evidence) if payload.evidence is not None else None,
        expires=payload.expires,
        clear_expiry="expires" in payload.model_fields_set and payload.expires is None,
        extensions=payload.extensions,
    )
    return envelope(assertion_json(assertion))


@router.delete(
    "/assertions/{entity_id}", response=_ok(AssertionEnvelope, 409), summary="Revoke an award"
)
def assertion_revoke(request: HttpRequest, entity_id: str, revocation_reason: str = ""):
    """Body `{"revocation_reason": "..."}`, or the query parameter `revocation_reason`
    (for clients that send no body with DELETE, such as the interactive docs). The award
    stays visible, marked revoked with its reason."""
    assertion = issuing_selectors.assertion_for(
        caller=request.auth, entity_id=entity_id, action=Action.AWARD_REVOKE
    )
    data = {"revocation_reason": revocation_reason}
    if request.body:
        data = body_data(request)
        if not isinstance(data, dict):
            raise ValidationError("The request body must be a JSON object.")
    reason = data.get("revocation_reason") or data.get("revocationReason") or ""
    services.assertion_revoke(assertion=assertion, reason=str(reason), actor=request.auth.user)
    return envelope(assertion_json(assertion))


# --- image uploads (multipart) ---------------------------------------------------------------


def _uploaded_image(file: UploadedFile):
    cap = settings.LAURELS_IMAGE_MAX_BYTES
    if file.size is not None and file.size > cap:
        raise ImageTooLarge(f"The image is larger than {cap // 1024} KB.")
    return image_from_upload(file.read(cap + 1))


@router.put(
    "/issuers/{entity_id}/image", response=_ok(IssuerEnvelope), summary="Upload an issuer image"
)
def issuer_image_upload(request: HttpRequest, entity_id: str, image: File[UploadedFile]):
    """`multipart/form-data` with a PNG or SVG in the `image` field (the JSON endpoints
    take data URIs instead)."""
    issuer = issuing_selectors.issuer_for(
        caller=request.auth, entity_id=entity_id, action=Action.ISSUER_EDIT
    )
    services.issuer_update(issuer=issuer, image=_uploaded_image(image))
    return envelope(issuer_json(issuer))


@router.put(
    "/badgeclasses/{entity_id}/image",
    response=_ok(BadgeClassEnvelope),
    summary="Upload a badge class image",
)
def badge_class_image_upload(request: HttpRequest, entity_id: str, image: File[UploadedFile]):
    """`multipart/form-data` with a PNG or SVG in the `image` field."""
    badge_class = issuing_selectors.badge_class_for(
        caller=request.auth, entity_id=entity_id, action=Action.BADGECLASS_EDIT
    )
    services.badge_class_update(badge_class=badge_class, image=_uploaded_image(image))
    return envelope(badge_class_json(badge_class))
