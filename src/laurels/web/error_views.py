"""The server-error page (urls.handler500).

Django renders 500.html with an empty context, so the page would show no site name; this
handler gives it the name and version, and nothing else: no request context (context
processors may query the database, which may be what just failed) and no user. If even
that page cannot render, a plain-text answer still says what happened. Answers under the
API's prefixes are put back into the JSON envelope by `api.middleware`; 403 and 404 use
Django's own handlers with 403.html and 404.html (they have a request and a database).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

from laurels import __version__

logger = logging.getLogger(__name__)
PLAIN_ERROR = "Server error: something went wrong on our side. Please try again later.\n"


def server_error(request: HttpRequest) -> HttpResponse:
    """500.html with the site's name, without touching the database or the request."""
    try:
        page = loader.get_template("500.html").render(
            {"site_name": settings.LAURELS_SITE_NAME, "laurels_version": __version__}
        )
    except Exception:  # the error page must answer whatever else is broken
        logger.exception("500.html could not be rendered")
        return HttpResponseServerError(PLAIN_ERROR, content_type="text/plain; charset=utf-8")
    return HttpResponseServerError(page)
