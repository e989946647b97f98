"""The server-error page (urls.handler500).

Django renders 500.html with an empty context, so the page would show no site name; this
handler gives it the name and version, and little else: no request context (context
processors may query the database, which may be what just failed). A person the
authentication middleware had already found signed in before the error gets the
signed-in navigation, without their address; a user not resolved yet stays unresolved
(resolving it reads the session and the database), and the page shows the visitor's
navigation. If even that page cannot render, a plain-text answer still says what
happened. Answers under the API's prefixes are put back into the JSON envelope by
`api.middleware`; 403 and 404 use Django's own handlers with 403.html and 404.html (they
have a request and a database).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.middleware.csrf import get_token
from django.template import loader

from laurels import __version__

logger = logging.getLogger(__name__)
PLAIN_ERROR = "Server error: something went wrong on our side. Please try again later.\n"


class SignedIn:
    """The user the navigation is shown for: someone signed in, and nothing about them
    (no address, no admin link), so that rendering it can read nothing else."""

    is_authenticated = True
    is_staff = False
    email = ""


def signed_in_context(request: HttpRequest) -> dict:
    """`user` and the CSRF token for the Log out form, when the middleware had already
    resolved a signed-in user (`_cached_user`, set by Django's AuthenticationMiddleware
    when something first asks for `request.user`); else nothing. Never resolves it here,
    and answers nothing rather than fail."""
    try:
        user = request.__dict__.get("_cached_user")
        if user is None or not user.is_authenticated:
            return {}
        # The token comes from the cookie CsrfViewMiddleware read (or a new one it sets).
        return {"user": SignedIn(), "csrf_token": get_token(request)}
    except Exception:  # the error page must answer whatever else is broken
        logger.exception("The 500 page could not tell who is signed in")
        return {}


def server_error(request: HttpRequest) -> HttpResponse:
    """500.html with the site's name, without touching the database."""
    try:
        page = loader.get_template("500.html").render(
            {
                "site_name": settings.LAURELS_SITE_NAME,
                "laurels_version": __version__,
                **signed_in_context(request),
            }
        )
    except Exception:  # the error page must answer whatever else is broken
        logger.exception("500.html could not be rendered")
        return HttpResponseServerError(PLAIN_ERROR, content_type="text/plain; charset=utf-8")
    return HttpResponseServerError(page)
