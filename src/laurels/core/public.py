"""How Laurels writes what it publishes: the public address of each Open Badges object
and instants in UTC. Hosted documents, the API, backpack pages and the command line all
name the same objects, so they share these (and no app has to import another for them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_url(kind: str, entity_id: str, origin: str = "") -> str:
    """The public address of an Open Badges object: `/public/{kind}/{id}` under `origin`
    (its `hosted_origin`, as Badgr's paths were), else under LAURELS_BASE_URL. Every
    document, link, header and baked image names an object through this (or `url_of`),
    so that an object has one id wherever it is shown and whichever host was asked."""
    return f"{origin or settings.LAURELS_BASE_URL}/public/{kind}/{entity_id}"


def url_of(kind: str, subject) -> str:
    """`public_url` of an issuer, badge class or award (anything with `entity_id` and
    `hosted_origin`): where its Open Badges document lives."""
    return public_url(kind, subject.entity_id, subject.hosted_origin)


def origin_problem(value: str) -> str | None:
    """Why `value` is not an origin (`scheme://host[:port]`, http or https, nothing
    after the host), or None when it is one. An origin is baked into awards' ids, which
    must stay exactly what was printed: so nothing is tidied up, a wrong value is
    refused (`hosted_origin`, LAURELS_BADGR_ORIGIN)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return f"{value!r} is not a URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} must be an absolute http(s) origin such as https://api.badgr.io."
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return f"{value!r} must not carry a user name or password."
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        return f"{value!r} must end with the host (and port): no path, query or fragment."
    if port == 0 or any(c.isspace() for c in value):
        return f"{value!r} is not a valid origin."
    return None


def validate_origin(value: str) -> None:
    """The model validator of `hosted_origin`: blank, or an origin (`origin_problem`)."""
    problem = origin_problem(value) if value else None
    if problem:
        raise ValidationError(problem, code="invalid_origin")
