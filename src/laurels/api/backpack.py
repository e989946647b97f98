"""/v2/backpack: a user's badges (awards made here and imports), collections, imports."""

from __future__ import annotations

import json
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import BaseModel, Field

from laurels.api.answer_cache import first_expiry, keep_answer
from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.api.pagination import (
    PageQuery,
    cursor_entity_id,
    cursor_instant,
    cursor_parts,
    encode_cursor,
    link_next,
    page_size,
)
from laurels.api.schemas import ApiInput
from laurels.backpack import importing, selectors, services
from laurels.backpack.models import Collection
from laurels.backpack.presenters import EXPAND, badge_json, share_link
from laurels.connect.permissions import Permission, require
from laurels.core.clients import client_address
from laurels.core.images import data_uri_bytes
from laurels.core.public import iso

router = Router(tags=["Backpack"])


class BackpackRecipientOut(BaseModel):
    identity: str
    type: str
    hashed: bool
    plaintextIdentity: str | None


class BackpackBadgeOut(BaseModel):
    entityType: str
    entityId: str
    source: Literal["local", "imported"]
    openBadgeId: str
    badgeclass: str | dict[str, Any] | None = Field(
        description="entity id (null for an imported badge); with `expand=badgeclass` the "
        "Open Badges BadgeClass, its `issuer` nested with `expand=issuer` too"
    )
    badgeclassOpenBadgeId: str | None
    issuer: str | None = Field(description="entity id (null for an imported badge)")
    issuerOpenBadgeId: str | None
    recipient: BackpackRecipientOut
    image: str
    issuedOn: str
    expires: str | None
    revoked: bool
    revocationReason: str | None
    acceptance: str
    pending: bool
    narrative: str | None
    evidence: list[dict[str, Any]]


class CollectionOut(BaseModel):
    entityType: str
    entityId: str
    name: str
    description: str
    assertions: list[str]
    published: bool
    share_url: str | None = Field(description="Badgr's name for `shareUrl`")
    shareUrl: str | None
    shareHash: str | None
    owner: str = Field(description="entity id of the user whose collection it is")
    createdAt: str


class ShareLinkOut(BaseModel):
    """Where a share button or image link leads (also the `Location` of a redirect)."""

    url: str


BadgeEnvelope = envelope_of(BackpackBadgeOut)
CollectionEnvelope = envelope_of(CollectionOut)


def collection_json(collection: Collection) -> dict:
    share = (
        f"{settings.LAURELS_BASE_URL}/share/collections/{collection.share_hash}"
        if collection.published
        else None
    )
    return {
        "entityType": "Collection",
        "entityId": collection.entity_id,
        "name": collection.name,
        "description": collection.description,
        "assertions": [(e.assertion or e.imported).entity_id for e in collection.entries.all()],
        "published": collection.published,
        "share_url": share,
        "shareUrl": share,
        "shareHash": collection.share_hash if collection.published else None,
        "owner": collection.user.entity_id,
        "createdAt": iso(collection.created_at),
    }


class ExpandQuery(Schema):
    expand: list[str] = Field(
        [],
        max_length=10,
        description="`badgeclass` (and `issuer`) as Open Badges objects, not ids; other "
        "values are ignored, as Badgr ignored them",
    )

    @property
    def expanded(self) -> frozenset[str]:
        return frozenset(self.expand) & EXPAND


class BackpackQuery(PageQuery, ExpandQuery):
    """As in Badgr, expired badges are left out unless `include_expired=true`."""

    include_expired: bool = False
    include_revoked: bool = False


def _before(rows, cursor: str | None):
    """Rows after the cursor in (issuedOn, entityId) descending order."""
    if not cursor:
        return rows
    issued_text, entity_text = cursor_parts(cursor, 2)
    issued_on, entity_id = cursor_instant(issued_text), cursor_entity_id(entity_text)
    return rows.filter(Q(issued_on__lt=issued_on) | Q(issued_on=issued_on, entity_id__lt=entity_id))


@router.get(
    "/backpack/assertions",
    response=with_error_responses({200: BadgeEnvelope}),
    summary="Your badges",
)
def backpack_assertions(request: HttpRequest, response: HttpResponse, query: Query[BackpackQuery]):
    """Awards made here to your verified addresses and badges you imported, newest first.
    Rejected ones are left out; expired ones only with `include_expired=true`, revoked
    ones only with `include_revoked=true`."""
    require(request.auth, Permission.BACKPACK_READ)
    size = page_size(query.num)
    flags = {"include_expired": query.include_expired, "include_revoked": query.include_revoked}
    expand = query.expanded
    order = ("-issued_on", "-entity_id")
    local = list(
        _before(
            selectors.local_awards(user=request.auth.user, whole=bool(expand), **flags),
            query.cursor,
        ).order_by(*order)[: size + 1]
    )
    imported = list(
        _before(selectors.imported_badges(user=request.auth.user, **flags), query.cursor).order_by(
            *order
        )[: size + 1]
    )
    merged = sorted(local + imported, key=lambda e: (e.issued_on, e.entity_id), reverse=True)
    page = merged[:size]
    if len(merged) > size:
        last = page[-1]
        link_next(request, response, encode_cursor(last.issued_on.isoformat(), last.entity_id))
    if not expand:
        # Expanded objects show more than the catalog version covers (an issuer's email,
        # a badge class's tags): such answers are made afresh every time.
        keep_answer(request, valid_until=None if query.include_expired else first_expiry(merged))
    return envelope([badge_json(entry, expand) for entry in page])


@router.get(
    "/backpack/assertions/{entity_id}",
    response=with_error_responses({200: BadgeEnvelope}),
    summary="One of your badges",
)
def backpack_assertion(request: HttpRequest, entity_id: str, query: Query[ExpandQuery]):
    require(request.auth, Permission.BACKPACK_READ)
    entry = selectors.backpack_entry(
        user=request.auth.user, entity_id=entity_id, whole=bool(query.expanded)
    )
    return envelope(badge_json(entry, query.expanded))


@router.get(
    "/backpack/assertions/{entity_id}/image",
    response=with_error_responses({302: ShareLinkOut}),
    summary="The image of one of your badges",
)
def backpack_assertion_image(request: HttpRequest, entity_id: str):
    """Redirects to the badge's image (an award made here: baked with the award)."""
    require(request.auth, Permission.BACKPACK_READ)
    entry = selectors.backpack_entry(user=request.auth.user, entity_id=entity_id)
    return _redirect(badge_json(entry)["image"])


class ShareQuery(Schema):
    provider: str | None = Field(
        None, max_length=50, description="facebook, linkedin, twitter or pinterest"
    )
    redirect: bool = Field(True, description="false: answer `{url}` instead of redirecting")
    source: str | None = Field(None, max_length=100, description="accepted and ignored")
    include_identifier: bool = Field(False, description="accepted and ignored")


def _redirect(url: str) -> HttpResponse:
    """Badgr's redirect, with the address in a JSON body too (`ShareLinkOut`): an
    answer every /v2 client can read as JSON, whether it follows redirects or not."""
    response = HttpResponse(json.dumps({"url": url}), status=302, content_type="application/json")
    response["Location"] = url
    return response


def _share_answer(query: ShareQuery, url: str, title: str):
    """Badgr's share answer: 302 to the provider's share page, or `{url}` with
    `redirect=false`; 400 for a missing or unknown provider."""
    if not query.provider:
        raise ValidationError("Give a share provider.")
    link = share_link(query.provider, url, title)
    if link is None:
        raise ValidationError("Unknown share provider.")
    if query.redirect:
        return _redirect(link)
    return ShareLinkOut(url=link)


@router.get(
    "/backpack/share/assertion/{entity_id}",
    response=with_error_responses({200: ShareLinkOut, 302: ShareLinkOut}),
    summary="Share one of your badges",
)
def backpack_assertion_share(request: HttpRequest, entity_id: str, query: Query[ShareQuery]):
    require(request.auth, Permission.BACKPACK_READ)
    shown = badge_json(
        selectors.backpack_entry(user=request.auth.user, entity_id=entity_id, whole=True),
        EXPAND,
    )
    return _share_answer(query, shown["openBadgeId"], shown["badgeclass"]["name"])


@router.get(
    "/backpack/share/collection/{entity_id}",
    response=with_error_responses({200: ShareLinkOut, 302: ShareLinkOut}),
    summary="Share one of your collections",
)
def backpack_collection_share(request: HttpRequest, entity_id: str, query: Query[ShareQuery]):
    """Only a published collection has a link to share (400 otherwise)."""
    require(request.auth, Permission.BACKPACK_READ)
    shown = collection_json(selectors.collection_for(user=request.auth.user, entity_id=entity_id))
    if not shown["share_url"]:
        raise ValidationError("Publish the collection first: it has no link to share.")
    return _share_answer(query, shown["share_url"], shown["name"])


class AcceptanceIn(ApiInput):
    acceptance: Literal["Unaccepted", "Accepted", "Rejected"]


@router.put(
    "/backpack/assertions/{entity_id}",
    response=with_error_responses({200: BadgeEnvelope}),
    summary="Accept or reject a badge",
)
def backpack_assertion_update(request: HttpRequest, entity_id: str, payload: AcceptanceIn):
    require(request.auth, Permission.BACKPACK_WRITE)
    entry = selectors.backpack_entry(user=request.auth.user, entity_id=entity_id)
    services.entry_acceptance_set(entry=entry, acceptance=payload.acceptance)
    return envelope(badge_json(entry))


@router.delete(
    "/backpack/assertions/{entity_id}",
    response=with_error_responses({200: BadgeEnvelope}),
    summary="Remove a badge",
)
def backpack_assertion_remove(request: HttpRequest, entity_id: str):
    """Deletes an imported badge; an award made here is marked Rejected and hidden."""
    require(request.auth, Permission.BACKPACK_WRITE)
    entry = selectors.backpack_entry(user=request.auth.user, entity_id=entity_id)
    services.entry_remove(entry=entry)
    return envelope(description="Removed.")


class ImportIn(ApiInput):
    """Exactly one of: `url` of a hosted assertion, `assertion` (its JSON, or a signed
    badge's compact JWS), `image` (a baked PNG or SVG as a data URI)."""

    url: str | None = Field(None, max_length=2000)
    assertion: dict[str, Any] | str | None = None
    image: str | None = None


@router.post(
    "/backpack/import",
    response=with_error_responses({200: BadgeEnvelope, 201: BadgeEnvelope}),
    summary="Import a badge from another issuer",
)
def backpack_import(request: HttpRequest, payload: ImportIn):
    """The badge is verified first (fetched from its issuer, recipient matched to your
    verified addresses, revocation, expiry and signature checked); a failed check is a
    400 naming it and nothing is kept. Importing the same badge again answers 200 with
    the first import."""
    require(request.auth, Permission.BACKPACK_WRITE)
    given = [name for name in ("url", "assertion", "image") if getattr(payload, name)]
    if len(given) != 1:
        raise ValidationError("Give exactly one of url, assertion or image.")
    # Each import fetches from the badge's issuer: limited per person and address (429).
    services.badge_import_rate_check(user=request.auth.user, client_ip=client_address(request))
    badge, created = importing.badge_import(
        user=request.auth.user,
        url=payload.url or "",
        assertion=payload.assertion,
        baked_image=data_uri_bytes(payload.image) if payload.image else None,
    )
    return Status(201 if created else 200, envelope(badge_json(badge)))


class CollectionIn(ApiInput):
    name: str | None = Field(None, max_length=255)
    description: str | None = None
    assertions: list[str] | None = None
    published: bool | None = None


@router.get(
    "/backpack/collections",
    response=with_error_responses({200: CollectionEnvelope}),
    summary="Your collections",
)
def collections_list(request: HttpRequest):
    require(request.auth, Permission.BACKPACK_READ)
    return envelope(
        [collection_json(c) for c in selectors.user_collections(user=request.auth.user)]
    )


@router.post(
    "/backpack/collections",
    response=with_error_responses({200: CollectionEnvelope, 201: CollectionEnvelope}),
    summary="Create a collection",
)
def collection_create(request: HttpRequest, payload: CollectionIn):
    require(request.auth, Permission.BACKPACK_WRITE)
    collection = services.collection_save(
        user=request.auth.user,
        name=payload.name or "",
        description=payload.description or "",
        assertions=payload.assertions or [],
        published=bool(payload.published),
    )
    return Status(
        201,
        envelope(
            collection_json(
                selectors.collection_for(user=request.auth.user, entity_id=collection.entity_id)
            )
        ),
    )


@router.get(
    "/backpack/collections/{entity_id}",
    response=with_error_responses({200: CollectionEnvelope}),
    summary="A collection",
)
def collection_get(request: HttpRequest, entity_id: str):
    require(request.auth, Permission.BACKPACK_READ)
    return envelope(
        collection_json(selectors.collection_for(user=request.auth.user, entity_id=entity_id))
    )


@router.put(
    "/backpack/collections/{entity_id}",
    response=with_error_responses({200: CollectionEnvelope}),
    summary="Change a collection",
)
def collection_update(request: HttpRequest, entity_id: str, payload: CollectionIn):
    """`published: true` gives it a public `shareUrl`; `false` withdraws the link for good."""
    require(request.auth, Permission.BACKPACK_WRITE)
    collection = selectors.collection_for(user=request.auth.user, entity_id=entity_id)
    services.collection_save(
        user=request.auth.user,
        collection=collection,
        name=payload.name,
        description=payload.description,
        assertions=payload.assertions,
        published=payload.published,
    )
    return envelope(
        collection_json(selectors.collection_for(user=request.auth.user, entity_id=entity_id))
    )


@router.delete(
    "/backpack/collections/{entity_id}",
    response=with_error_responses({200: CollectionEnvelope}),
    summary="Delete a collection",
)
def collection_delete(request: HttpRequest, entity_id: str):
    require(request.auth, Permission.BACKPACK_WRITE)
    services.collection_delete(
        collection=selectors.collection_for(user=request.auth.user, entity_id=entity_id)
    )
    return envelope(description="Deleted.")
