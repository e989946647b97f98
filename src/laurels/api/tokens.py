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
    created: datetime
    lastUsed: datetime | None


ConnectedAppEnvelope = envelope_of(ConnectedAppOut)


def connected_app_json(consent) -> dict:
    application = consent.application
    return {
        "entityType": "AccessToken",
        "entityId": consent.entity_id,
        "application": {
            "name": application.name,
            "clientId": application.client_id,
            "websiteUrl": application.website_url,
            "logoUrl": application.logo_url,
        },
        "scope": consent.scopes,
        "scopes": [
            {"scope": s, "description": scope_description(s)} for s in consent.scopes.split()
        ],
        "created": consent.created_at,
        "lastUsed": consent.last_used_at,
    }


@router.get(
    "/auth/tokens",
    response=with_error_responses({200: ConnectedAppEnvelope}),
    summary="Apps you have connected",
)
def auth_tokens(request: HttpRequest):
    """Every app you approved, with its scopes, since when and when it last called."""
    require(request.auth, Permission.CONNECTED_APPS_MANAGE)
    consents = selectors.user_connected_apps(viewer=request.auth.user)
    return envelope([connected_app_json(consent) for consent in consents])


@router.delete(
    "/auth/tokens/{entity_id}",
    response=with_error_responses({200: ConnectedAppEnvelope}),
    summary="Disconnect an app",
)
def auth_token_revoke(request: HttpRequest, entity_id: str):
    """Revoke every token and grant the app holds for you; it must ask again to connect."""
    require(request.auth, Permission.CONNECTED_APPS_MANAGE)
    services.app_access_revoke_by_consent(
        user=request.auth.user,
        consent_entity_id=entity_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return envelope(description="Disconnected.")
