"""/v2/users/self and /v2/user/profile: the caller's own account."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from pydantic import BaseModel, Field

from laurels.accounts import selectors, services
from laurels.api.auth import presented_token
from laurels.api.envelope import envelope, envelope_of, envelope_response, with_error_responses
from laurels.api.presenters import user_json
from laurels.api.schemas import UserOut, UserUpdateIn
from laurels.connect import selectors as connect_selectors
from laurels.connect import services as connect_services
from laurels.connect.models import PersonalToken
from laurels.connect.permissions import (
    Permission,
    require,
    require_credentials_change,
    require_personal_tokens_manage,
)
from laurels.connect.selectors import bearer_token_state
from laurels.core.clients import client_address

router = Router(tags=["Users"])
# Badgr's /v1/user/auth-token, mounted on the /v1 API (`api.api`).
v1_router = Router(tags=["Users"])
UserEnvelope = envelope_of(UserOut)


class LegacyApiKeyOut(BaseModel):
    """Badgr's legacy API key. Laurels keeps only its digest, so `token` is the key when
    this answer made it, and null when the key was made earlier (PUT makes a new one)."""

    token: str | None


class PersonalTokenIn(BaseModel):
    name: str = Field(max_length=100)
    scope: str = Field(
        default=connect_services.LEGACY_KEY_SCOPES,
        max_length=1000,
        description="Space-separated scopes; all of the user's scopes when left out.",
    )


class PersonalTokenOut(BaseModel):
    entityType: str = "PersonalToken"
    entityId: str
    name: str
    scope: str
    created: datetime
    expires: datetime
    token: str | None = Field(
        default=None, description="The token itself: only in the answer that made it."
    )


LegacyApiKeyEnvelope = envelope_of(LegacyApiKeyOut)
PersonalTokenEnvelope = envelope_of(PersonalTokenOut)


def _own_profile(request: HttpRequest, *, changed: bool = True) -> HttpResponse:
    """The caller's profile; after a change (`changed`), read again from the database."""
    require(request.auth, Permission.PROFILE_READ)
    profile = selectors.user_profile(viewer=request.auth.user, reload=changed)
    return envelope_response(user_json(profile))


@router.get(
    "/users/self", response=with_error_responses({200: UserEnvelope}), summary="Your account"
)
def users_self(request: HttpRequest):
    """The authenticated user: names, email addresses with their verified flags."""
    return _own_profile(request, changed=False)


@router.put(
    "/users/self",
    response=with_error_responses({200: UserEnvelope}),
    summary="Change your names, email addresses or password",
)
def users_self_update(request: HttpRequest, payload: UserUpdateIn):
    """Change first and/or last name; the password with `password` and `currentPassword`
    (a wrong current password is a 400 on `currentPassword`, and counts as a failed
    log-in: 429 beyond the log-in limits); the addresses with Badgr's `emails` list (new
    ones unverified until their mailed link is followed, missing ones removed, exactly
    one primary and verified: else a 400 on `emails`). All or nothing. A new password
    ends every other session and token: the calling token and its refresh token, or the
    calling session, go on. Needs `rw:profile` for apps; the password and the addresses
    only from a session or a first-party app (Badgr's log-in), 403 for any other app
    (sending back the addresses unchanged is fine)."""
    require(request.auth, Permission.PROFILE_WRITE)
    password = _password_change(request, payload)
    services.own_account_update(
        user=request.auth.user,
        first_name=payload.firstName,
        last_name=payload.lastName,
        emails=_addresses_to_change(request, payload),
        password=password,
        client_ip=client_address(request),
    )
    if password is not None and request.auth.is_session:
        update_session_auth_hash(request, request.auth.user)
    return _own_profile(request)


@router.get(
    "/user/profile",
    response=with_error_responses({200: UserEnvelope}),
    summary="Your profile (the r:profile endpoint)",
)
def user_profile(request: HttpRequest):
    """The same data as `/v2/users/self`; the endpoint Badgr documents for `r:profile`."""
    return _own_profile(request, changed=False)


def _addresses_to_change(
    request: HttpRequest, payload: UserUpdateIn
) -> list[services.AddressWanted] | None:
    """Badgr's `emails`, unless they are what the account holds already: an app that
    sends back the profile it read (to rename the person) changes no address."""
    if payload.emails is None:
        return None
    wanted = [services.AddressWanted(e.email, bool(e.primary)) for e in payload.emails]
    if services.email_addresses_unchanged(user=request.auth.user, wanted=wanted):
        return None
    require_credentials_change(request.auth, "change your email addresses")
    return wanted


def _password_change(request: HttpRequest, payload: UserUpdateIn) -> services.PasswordChange | None:
    if payload.password is None:
        return None
    require_credentials_change(request.auth, "change your password")
    return services.PasswordChange(
        current=payload.currentPassword or "",
        new=payload.password,
        keep_access_token_id=_calling_access_token_id(request),
    )


def _calling_access_token_id(request: HttpRequest) -> int | None:
    """The access token this request came with (BearerCaller checked it), if any."""
    if request.auth.is_session:
        return None
    token = presented_token(request.META.get("HTTP_AUTHORIZATION", ""))
    state = bearer_token_state(token) if token is not None else None
    return state.token_id if state is not None else None


# --- personal tokens and Badgr's legacy API key ---------------------------------------------


def personal_token_json(token: PersonalToken, key: str | None = None) -> dict:
    return {
        "entityType": "PersonalToken",
        "entityId": token.entity_id,
        "name": token.name,
        "scope": token.access_token.scope,
        "created": token.created_at,
        "expires": token.access_token.expires,
        "token": key,
    }


@router.get(
    "/auth/personal-tokens",
    response=with_error_responses({200: PersonalTokenEnvelope}),
    summary="Your personal API tokens",
)
def personal_tokens(request: HttpRequest):
    """The long-lived tokens you made for your own scripts, newest first (never the
    tokens themselves: only their digests are kept)."""
    require_personal_tokens_manage(request.auth)
    tokens = connect_selectors.user_personal_tokens(viewer=request.auth.user)
    return envelope([personal_token_json(token) for token in tokens])


@router.post(
    "/auth/personal-tokens",
    response=with_error_responses({201: PersonalTokenEnvelope}),
    summary="Make a personal API token",
)
def personal_token_create(request: HttpRequest, payload: PersonalTokenIn):
    """A named token with the scopes you choose, to send as `Authorization: Bearer` (or
    Badgr's `Authorization: Token`). `token` is in this answer only. From a session, or
    after signing in with your password (Badgr's log-in); not from an app's token."""
    require_personal_tokens_manage(request.auth)
    made = connect_services.personal_token_create(
        user=request.auth.user, name=payload.name, scopes=payload.scope.split()
    )
    return Status(201, envelope(personal_token_json(made.token, made.key)))


@router.delete(
    "/auth/personal-tokens/{entity_id}",
    response=with_error_responses({204: None}),
    summary="Delete a personal API token",
)
def personal_token_delete(request: HttpRequest, entity_id: str):
    """The token stops working at once. 204, no body."""
    require_personal_tokens_manage(request.auth)
    connect_services.personal_token_delete(user=request.auth.user, entity_id=entity_id)
    return Status(204, None)


@router.get(
    "/auth/token",
    response=with_error_responses({200: LegacyApiKeyEnvelope}),
    summary="Your Badgr API key",
)
def legacy_key(request: HttpRequest):
    """Badgr's API key: made on the first call, when `token` holds it. Laurels keeps
    only its digest, so later calls answer `token: null`; PUT replaces it."""
    require_personal_tokens_manage(request.auth)
    made = connect_services.legacy_key_ensure(user=request.auth.user)
    return envelope({"token": made.key if made else None})


@router.put(
    "/auth/token",
    response=with_error_responses({200: LegacyApiKeyEnvelope}),
    summary="Replace your Badgr API key",
)
def legacy_key_replace(request: HttpRequest):
    """The old key stops working; the new one is in this answer only."""
    require_personal_tokens_manage(request.auth)
    made = connect_services.legacy_key_replace(user=request.auth.user)
    return envelope({"token": made.key})


def _v1_key_json(request: HttpRequest, key: str | None, *, replaced: bool) -> dict:
    answer = {"username": request.auth.user.get_username(), "token": key}
    if replaced:
        answer["replace"] = True
    return answer


@v1_router.get("/user/auth-token", summary="Your Badgr API key (v1)")
def v1_legacy_key(request: HttpRequest):
    """Badgr's v1 shape of `GET /v2/auth/token`: `{username, token}`."""
    require_personal_tokens_manage(request.auth)
    made = connect_services.legacy_key_ensure(user=request.auth.user)
    return _v1_key_json(request, made.key if made else None, replaced=False)


@v1_router.put("/user/auth-token", summary="Replace your Badgr API key (v1)")
def v1_legacy_key_replace(request: HttpRequest):
    """Badgr's v1 shape of `PUT /v2/auth/token`: `{username, token, replace: true}`."""
    require_personal_tokens_manage(request.auth)
    made = connect_services.legacy_key_replace(user=request.auth.user)
    return _v1_key_json(request, made.key, replaced=True)
