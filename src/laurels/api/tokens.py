"""/v2/auth/tokens: the apps the caller has connected, and revoking them."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router
from pydantic import BaseModel

from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.connect import selectors, services
from laurels.connect.permissions import Permission, require
from laurels.connect.scopes import scope_description
from laurels.core.clients import client_address

router = Router(tags=["Connected apps"])


class ScopeOut(BaseModel):
    scope: str
    description: str


class ConnectedAppOut(BaseModel):
    entityType: str = "AccessToken"
    entityId: str
    application: dict
    scope: str
    scopes: list[ScopeOut]
    grantTypes: list[str]
    created: datetime | None
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
            "websiteUrl": application.website_url,
            "logoUrl": application.logo_url,
        },
        "scope": " ".join(connected.scopes),
        "scopes": [{"scope": s, "description": scope_description(s)} for s in connected.scopes],
        "grantTypes": list(connected.grant_types),
        "created": connected.since,
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
    scopes, since when and when it last called."""
    require(request.auth, Permission.CONNECTED_APPS_MANAGE)
    connected = selectors.user_connected_apps(viewer=request.auth.user)
    return envelope([connected_app_json(app) for app in connected])


@router.delete(
    "/auth/tokens/{entity_id}",
    response=with_error_responses({200: ConnectedAppEnvelope}),
    summary="Disconnect an app",
)
def auth_token_revoke(request: HttpRequest, entity_id: str):
    """Revoke every token and grant the app holds for you; it must ask again to connect."""
    require(request.auth, Permission.CONNECTED_APPS_MANAGE)
    services.connected_app_revoke(
        user=request.auth.user,
        key=entity_id,
        ip_address=client_address(request),
    )
    return envelope(description="Disconnected.")
