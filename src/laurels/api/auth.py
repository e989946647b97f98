"""How /v2 callers authenticate; the list `API_AUTH` is the one place to extend.

Each authenticator returns a `Caller` (who acts, and within which scopes) or None. The
OAuth issue adds a Bearer-token authenticator to `API_AUTH`; nothing else changes.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie

from laurels.connect.permissions import Caller


class SessionCaller(APIKeyCookie):
    """A logged-in browser session (the interactive docs, our own pages' scripts).

    Unsafe methods need Django's CSRF token, as any session-authenticated write must.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        user = request.user
        if user.is_authenticated and user.is_active:
            return Caller(user=user)
        return None


API_AUTH = [SessionCaller()]
