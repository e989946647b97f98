"""/v2/users/self and /v2/user/profile: the caller's own account."""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest
from ninja import Router

from laurels.accounts import selectors, services
from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.api.presenters import user_json
from laurels.api.schemas import UserOut, UserUpdateIn
from laurels.connect.permissions import Caller, Permission, require
from laurels.connect.selectors import bearer_token_state
from laurels.core.clients import client_address
from laurels.core.errors import PermissionDenied

router = Router(tags=["Users"])
UserEnvelope = envelope_of(UserOut)


def _own_profile(request: HttpRequest) -> dict:
    require(request.auth, Permission.PROFILE_READ)
    return envelope(user_json(selectors.user_profile(viewer=request.auth.user)))


@router.get(
    "/users/self", response=with_error_responses({200: UserEnvelope}), summary="Your account"
)
def users_self(request: HttpRequest):
    """The authenticated user: names, email addresses with their verified flags."""
    return _own_profile(request)


@router.put(
    "/users/self",
    response=with_error_responses({200: UserEnvelope}),
    summary="Change your names or password",
)
def users_self_update(request: HttpRequest, payload: UserUpdateIn):
    """Change first and/or last name, and the password with `password` and
    `currentPassword` (a wrong current password is a 400 on `currentPassword`, and counts
    as a failed log-in: 429 beyond the log-in limits). A new password ends every other
    session and token: the calling token and its refresh token, or the calling session,
    go on. Needs `rw:profile` for apps; the password only from a session or a first-party
    app (Badgr's log-in), 403 for any other app."""
    require(request.auth, Permission.PROFILE_WRITE)
    if payload.password is not None:
        _password_change(request, current=payload.currentPassword or "", new=payload.password)
    services.user_profile_update(
        user=request.auth.user, first_name=payload.firstName, last_name=payload.lastName
    )
    return _own_profile(request)


@router.get(
    "/user/profile",
    response=with_error_responses({200: UserEnvelope}),
    summary="Your profile (the r:profile endpoint)",
)
def user_profile(request: HttpRequest):
    """The same data as `/v2/users/self`; the endpoint Badgr documents for `r:profile`."""
    return _own_profile(request)


def _may_change_password(caller: Caller) -> bool:
    """Whom the person types their password into: Laurels itself (a session) or an app of
    the operator's (first-party, like Badgr's log-in). Any other app with rw:profile could
    otherwise guess the current password and, on a hit, keep its token while every other
    session and token ended: a takeover."""
    return caller.is_session or bool(getattr(caller.application, "first_party", False))


def _password_change(request: HttpRequest, *, current: str, new: str) -> None:
    if not _may_change_password(request.auth):
        raise PermissionDenied(
            "Connected apps cannot change your password; change it on your account page."
        )
    user = request.auth.user
    services.password_change(
        user=user,
        current_password=current,
        new_password=new,
        client_ip=client_address(request),
        keep_access_token_id=_calling_access_token_id(request),
    )
    if request.auth.is_session:
        update_session_auth_hash(request, user)


def _calling_access_token_id(request: HttpRequest) -> int | None:
    """The access token this request came with (BearerCaller checked it), if any."""
    if request.auth.is_session:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    state = bearer_token_state(token.strip()) if scheme.lower() == "bearer" else None
    return state.token_id if state is not None else None
