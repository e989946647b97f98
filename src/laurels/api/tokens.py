"""/v2/auth/tokens: the apps the caller has connected, and revoking them."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import BaseModel

from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.connect import selectors, services
from laurels.connect.permissions import require_connected_apps_manage
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
