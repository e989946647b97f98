"""/v2/auth/tokens: the apps the caller has connected, and revoking them; and Badgr's
`/v2/tokens/issuers`, tokens bound to single issuers for an app's owner, asked for by
the owner alone."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Status
from pydantic import BaseModel, Field

from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.connect import issuing_selectors, selectors, services
from laurels.connect.permissions import (
    IssuingAction,
    require_connected_apps_manage,
    require_issuer_tokens,
)
from laurels.connect.scopes import scope_description
from laurels.core.clients import client_address
from laurels.core.errors import NotFound

router = Router(tags=["Connected apps"])


class ScopeOut(BaseModel):
    scope: str
    description: str


class ConnectedApplicationOut(BaseModel):
    """The app, with Badgr's field names (`name`, `image`, `website_url`, `clientId`,
    `policyUri`, `termsUri`) and Laurels' own (`websiteUrl`, `logoUrl`)."""

    name: str
    clientId: str
    image: str | None
    website_url: str | None
    policyUri: str | None
    termsUri: str | None
    websiteUrl: str
    logoUrl: str


class ConnectedAppOut(BaseModel):
    entityType: str = "AccessToken"
    entityId: str
    application: ConnectedApplicationOut
    scope: str
    scopes: list[ScopeOut]
    grantTypes: list[str]
    created: datetime | None
    expires: datetime | None
    lastUsed: datetime | None


ConnectedAppEnvelope = envelope_of(ConnectedAppOut)


def connected_app_json(connected: selectors.ConnectedApp) -> dict:
    """One app that can act for the caller; `entityId` is what disconnects it."""
    application = connected.application
    return {
        "entityType": "AccessToken",
        "entityId": connected.key,
        "application": {
            "name": application.name,
            "clientId": application.client_id,
            "image": application.logo_url or None,
            "website_url": application.website_url or None,
            "policyUri": application.privacy_url or None,
            "termsUri": application.terms_url or None,
            "websiteUrl": application.website_url,
            "logoUrl": application.logo_url,
        },
        "scope": " ".join(connected.scopes),
        "scopes": [{"scope": s, "description": scope_description(s)} for s in connected.scopes],
        "grantTypes": list(connected.grant_types),
        "created": connected.since,
        "expires": connected.expires,
        "lastUsed": connected.last_used,
    }


@router.get(
    "/auth/tokens",
    response=with_error_responses({200: ConnectedAppEnvelope}),
    summary="Apps you have connected",
)
def auth_tokens(request: HttpRequest):
    """Every app that can act for you, from any grant (`grantTypes`: authorization_code
    when you approved it, password when you signed in to it with your password), with its
    scopes, since when and when it last called. From a session, or with `rw:profile` from
    a first-party app (Badgr's log-in) or a personal token; never an app's token."""
    require_connected_apps_manage(request.auth)
    connected = selectors.user_connected_apps(viewer=request.auth.user)
    return envelope([connected_app_json(app) for app in connected])


@router.get(
    "/auth/tokens/{entity_id}",
    response=with_error_responses({200: ConnectedAppEnvelope}),
    summary="One app you have connected",
)
def auth_token(request: HttpRequest, entity_id: str):
    """One entry of `GET /v2/auth/tokens`, by its `entityId`."""
    require_connected_apps_manage(request.auth)
    connected = selectors.user_connected_app(viewer=request.auth.user, key=entity_id)
    if connected is None:
        raise NotFound("You have not connected that app.")
    return envelope(connected_app_json(connected))


@router.delete(
    "/auth/tokens/{entity_id}",
    response=with_error_responses({204: None}),
    summary="Disconnect an app",
)
def auth_token_revoke(request: HttpRequest, entity_id: str):
    """Revoke every token and grant the app holds for you; it must ask again to connect.
    204, no body, as Badgr answered."""
    require_connected_apps_manage(request.auth)
    services.connected_app_revoke(
        user=request.auth.user,
        key=entity_id,
        ip_address=client_address(request),
    )
    return Status(204, None)


# --- Badgr's issuer tokens ------------------------------------------------------------------

# Issuers one request may ask tokens for: an integration's issuers, not a whole server's.
ISSUER_TOKENS_MAX = 100


class IssuerTokensIn(BaseModel):
    """Badgr's body: `issuers`, a list of issuer entity ids (a form may repeat the field)."""

    issuers: list[str] | str | None = Field(default=None, max_length=ISSUER_TOKENS_MAX)


class IssuerTokenOut(BaseModel):
    """Badgr's `IssuerAccessTokenSerializerV2`: the token, its issuer, when it expires."""

    token: str
    issuer: str
    expires: datetime


IssuerTokenEnvelope = envelope_of(IssuerTokenOut)


@router.post(
    "/tokens/issuers",
    response=with_error_responses({200: IssuerTokenEnvelope}),
    summary="Tokens bound to single issuers",
)
def issuer_tokens(request: HttpRequest, payload: IssuerTokensIn):
    """Badgr's server-to-server tokens: the owner of a confidential app, with the app's
    token for them holding `rw:issuer` (client credentials acting as the owner, or their
    own log-in to the app), asks for one token per issuer they work for. Each holds
    `rw:issuer:ISSUER_ID` and acts for the owner (their role there still limits it); it
    ends when the app stops acting as its owner, changes owner or is disabled. The
    tokens are in this answer only. Anyone else's token, a public or built-in app's, or
    a session gets 403. An issuer that does not exist, or that the owner does not work
    for, is refused alike: 400, `issuers: unknown issuer`, as Badgr answered for an
    unknown one. 200 as in Badgr (not 201)."""
    require_issuer_tokens(request.auth)
    wanted = [payload.issuers] if isinstance(payload.issuers, str) else payload.issuers or []
    if not wanted:
        raise ValidationError({"issuers": ["field is required"]})
    issuers = []
    for entity_id in dict.fromkeys(wanted):
        try:
            issuers.append(
                issuing_selectors.issuer_for(
                    caller=request.auth, entity_id=entity_id, action=IssuingAction.ISSUER_VIEW
                )
            )
        except NotFound:
            raise ValidationError({"issuers": ["unknown issuer"]}) from None
    made = services.issuer_tokens_create(application=request.auth.application, issuers=issuers)
    return envelope([{"token": t.token, "issuer": t.issuer, "expires": t.expires} for t in made])
