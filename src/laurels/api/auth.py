"""How /v2 callers authenticate; the list `API_AUTH` is the one place to extend.

Each authenticator returns a `Caller` (who acts, and within which scopes) or None.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from oauth2_provider.oauth2_backends import get_oauthlib_core

from laurels.connect import services
from laurels.connect.permissions import Caller

# How often a token's use is written down as its consent's "last used" time.
LAST_USED_RESOLUTION_SECONDS = 3600


class BearerCaller(HttpBearer):
    """`Authorization: Bearer <token>` from a connected app, checked by the toolkit's own
    `verify_request`. A presented token that fails marks the request, so the 401 can say
    `error="invalid_token"` (RFC 6750)."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
        if not valid or oauth_request.user is None:
            request.laurels_invalid_token = True
            return None
        access_token = oauth_request.access_token
        self._note_use(access_token)
        return Caller(
            user=oauth_request.user,
            scopes=frozenset(access_token.scope.split()),
            application=oauth_request.client,
        )

    @staticmethod
    def _note_use(access_token) -> None:
        if cache.add(f"token-used:{access_token.pk}", 1, timeout=LAST_USED_RESOLUTION_SECONDS):
            services.consent_mark_used(user=access_token.user, application=access_token.application)


class SessionCaller(APIKeyCookie):
    """A logged-in browser session (the interactive docs, our own pages' scripts).

    Unsafe methods need Django's CSRF token, as any session-authenticated write must. A
    request that carries an Authorization header is judged by that header alone.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if "HTTP_AUTHORIZATION" in request.META:
            return None
        user = request.user
        if user.is_authenticated and user.is_active:
            return Caller(user=user)
        return None


API_AUTH = [BearerCaller(), SessionCaller()]
