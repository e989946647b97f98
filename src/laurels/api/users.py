"""/v2/users/self and /v2/user/profile: the caller's own account."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from laurels.accounts import selectors, services
from laurels.api.envelope import envelope, envelope_of, with_error_responses
from laurels.api.presenters import user_json
from laurels.api.schemas import UserOut, UserUpdateIn
from laurels.connect.permissions import Permission, require

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
    "/users/self", response=with_error_responses({200: UserEnvelope}), summary="Change your names"
)
def users_self_update(request: HttpRequest, payload: UserUpdateIn):
    """Change first and/or last name. Needs `rw:profile` for apps."""
    require(request.auth, Permission.PROFILE_WRITE)
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
