"""Two-factor log-in: who has it, who must have it, and the middleware that holds a
session to it.

A log-in (the password page, the admin's, an OAuth authorization page's, an institution's
OpenID Connect: any path that ends in `django.contrib.auth.login`) writes in the session
which step it still owes (`step_at_log_in`); a right code (or turning it on) marks the
session verified (`session_verified`). `step_owed` reads that mark: `TwoFactorMiddleware`
sends a page of a session that owes a step to the code page (or the set-up) before
anything else, so that no log-in path has to remember to ask, and the APIs refuse such a
session in their own shapes (`api.auth.SessionCaller`). The writes (turning it on and
off, recovery codes) are `accounts.services`'.
"""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from laurels.accounts.models import User
from laurels.accounts.signals import two_factor_role_asked
from laurels.core.middleware import OWN_REFUSALS

# LAURELS_TWO_FACTOR_REQUIRED's values.
REQUIRED_OFF, REQUIRED_ADMINS, REQUIRED_STAFF = "off", "admins", "staff"
# Paths an unverified session may still reach: what needs no account (public documents,
# share pages, static files, health), and the OAuth endpoints other than the
# authorization page, which authenticate apps and tokens, never the session.
OPEN_PREFIXES = ("/public/", "/share/", "/healthz", "/health", "/.well-known/", "/o/")
SESSION_PAGES_UNDER_OPEN = ("/o/authorize",)
# The step a session still owes after its log-in (`step_at_log_in`), or STEP_VERIFIED once
# it gave its second factor (`session_verified`): then nothing is read to let it on.
STEP_SESSION_KEY = "laurels_two_factor_step"
STEP_CODE, STEP_SETUP, STEP_VERIFIED = "code", "setup", "verified"
NEEDS_CODE = "Enter the code from your authenticator app (or a recovery code) to go on."
NEEDS_SETUP = "Your account must use two-factor log-in: turn it on at /account/two-factor/."
# What an API answers a session that owes a step (403, in its own shape).
STEP_MESSAGES = {STEP_CODE: NEEDS_CODE, STEP_SETUP: NEEDS_SETUP}


def totp_device(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    """The account's authenticator-app device: the one in use (`confirmed`), or the one
    waiting for its first code."""
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-pk").first()


def recovery_device(user: User) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def two_factor_on(user: User) -> bool:
    """Whether the account logs in with a second factor: it has a confirmed authenticator
    app (recovery codes only stand in for it)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(user: User) -> bool:
    """Whether LAURELS_TWO_FACTOR_REQUIRED asks this account for two-factor log-in: admins
    from `admins` on; issuer staff too with `staff` (asked of the apps above through
    `two_factor_role_asked`, since `accounts` is below `issuing`)."""
    mode = settings.LAURELS_TWO_FACTOR_REQUIRED
    if mode == REQUIRED_OFF:
        return False
    if user.is_staff or user.is_superuser:
        return True
    if mode != REQUIRED_STAFF:
        return False
    return any(answer for _, answer in two_factor_role_asked.send(sender=User, user=user))


def secret_text(device: TOTPDevice) -> str:
    """The device's secret as an authenticator app takes it typed in: base32, in groups
    of four."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _exempt(request: HttpRequest, allowed: tuple[str, ...]) -> bool:
    """Whether an unverified session may reach this path: the pages of the step it is on
    (`allowed`), log-out, static files, what needs no session at all, and the APIs, which
    refuse such a session themselves, each in its own shape (`step_owed`)."""
    path = request.path
    if path in allowed or path == reverse("accounts:logout"):
        return True
    if path.startswith((settings.STATIC_URL, *OWN_REFUSALS)):
        return True
    return path.startswith(OPEN_PREFIXES) and not path.startswith(SESSION_PAGES_UNDER_OPEN)


def _detour(request: HttpRequest, page: str) -> HttpResponse:
    """A page is sent on to `page`, coming back here after."""
    back = quote(request.get_full_path(), safe="/")
    return HttpResponseRedirect(f"{page}?{REDIRECT_FIELD_NAME}={back}")


def step_at_log_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` (every log-in path): write in the session which step it still owes,
    so that the middleware needs no query for the sessions that owe none. A code when the
    account has two-factor log-in; its set-up when the configuration requires it."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if two_factor_on(user):
        session[STEP_SESSION_KEY] = STEP_CODE
    elif two_factor_required(user):
        session[STEP_SESSION_KEY] = STEP_SETUP
    else:
        session.pop(STEP_SESSION_KEY, None)


def session_verified(request: HttpRequest) -> None:
    """This session gave its second factor (a right code, or the code that turned it on):
    it owes nothing more, and from now on costs no query to say so (the step it owed
    gives way to STEP_VERIFIED). A new session id goes with its new powers."""
    request.session[STEP_SESSION_KEY] = STEP_VERIFIED
    request.session.cycle_key()


def _may_owe_a_step(request: HttpRequest, user: User) -> bool:
    """Whether this session may owe a step: its log-in said so, or it is an admin's that
    gave no second factor while the configuration requires one of admins (it may have
    logged in before that was set). No query."""
    marker = request.session.get(STEP_SESSION_KEY)
    if marker == STEP_VERIFIED:
        return False
    if marker is not None:
        return True
    required = settings.LAURELS_TWO_FACTOR_REQUIRED != REQUIRED_OFF
    return required and (user.is_staff or user.is_superuser)


def step_owed(request: HttpRequest) -> str | None:
    """The step this session must take before it may act: STEP_CODE (the account has
    two-factor log-in), STEP_SETUP (the configuration requires it and the account has
    none), or None. No query for a session that owes none (most: marked at log-in or
    verified); one indexed query for a session that may owe one. A session logged in
    before its account turned two-factor log-in on owes nothing: turning it on ends every
    other session (`services.two_factor_confirm`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not _may_owe_a_step(request, user):
        return None
    if two_factor_on(user):
        return STEP_CODE
    if two_factor_required(user):
        return STEP_SETUP
    request.session.pop(STEP_SESSION_KEY, None)  # turned off, or reset: nothing owed
    return None


class TwoFactorMiddleware:
    """A logged-in page of a session that owes a step (`step_owed`) is sent to the code
    page (its account has two-factor log-in), or to the two-factor settings
    (LAURELS_TWO_FACTOR_REQUIRED asks it for one and it has none). The APIs are left to
    refuse such a session themselves (`api.auth.SessionCaller`), each in its own shape;
    a call with its own credentials (a Bearer token) is the token's business."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.detour(request) or self.get_response(request)

    @staticmethod
    def detour(request: HttpRequest) -> HttpResponse | None:
        if request.path.startswith((settings.STATIC_URL, *OWN_REFUSALS)):
            return None  # exempt (`_exempt`), before reversing URLs on every API call
        code_page, setup_page = reverse("accounts:login_code"), reverse("web:two_factor")
        if _exempt(request, (code_page,)):
            return None
        step = step_owed(request)
        if step == STEP_CODE:
            return _detour(request, code_page)
        if step == STEP_SETUP and request.path != setup_page:
            return _detour(request, setup_page)
        return None
