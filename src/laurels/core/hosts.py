"""The host check for code that answers before Django's middleware (WSGI fast paths)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest


def allowed_host(environ: dict) -> str | None:
    """The request's host as Django reads it (`HttpRequest.get_host`: ALLOWED_HOSTS,
    X-Forwarded-Host where trusted), or None where Django would answer 400: an answer
    given before Django must not be given to a host Django refuses.

    Django's own check, remembered per Host header and settings: building a request
    to ask it costs more than a whole kept answer."""
    host = environ.get("HTTP_HOST")
    if host is None or settings.USE_X_FORWARDED_HOST:
        return _django_host(environ)
    return _host_checked(host, tuple(settings.ALLOWED_HOSTS), settings.DEBUG)


@functools.lru_cache(maxsize=512)
def _host_checked(host: str, allowed_hosts: tuple[str, ...], debug: bool) -> str | None:
    return _django_host({"HTTP_HOST": host})


def _django_host(environ: dict) -> str | None:
    request = HttpRequest()
    request.META = environ
    try:
        return request.get_host()
    except DisallowedHost:
        return None
