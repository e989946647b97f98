"""Content-Security-Policy on every HTML answer, opened per route where a route needs it.

Every HTML page gets `settings.LAURELS_CONTENT_SECURITY_POLICY`: scripts only from this
server and never inline or eval'd, no plugins, no `<base>`, no framing, forms posting
only here. That way markup slipped into a page (a template bug, a sanitizer's miss) runs
nothing, and a stolen form cannot post elsewhere.

A route that needs more says so on its answer, through one function:

    allow_sources(response, form_action=["https://tool.example"])   # known per request
    allow_request_sources(request, img_src=["https://icons.example"])  # known as it renders
    @policy_allows(frame_ancestors=["https://lms.example"])         # fixed for a view

Sources are added to the default policy's directive (replacing a lone `'none'`). Answers
that set their own Content-Security-Policy (images: `IMAGE_POLICY`) keep it; other
non-HTML answers (JSON, files) get none, as there is nothing there for it to govern.

Django 6.0 builds this in (`django.middleware.csp`); Laurels is on 5.2 LTS, and
django-csp's decorators take only sources fixed at import, while the consent page's
`form-action` is known only per request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from laurels.core.untrusted import ascii_host

HEADER = "Content-Security-Policy"
SELF = "'self'"
NONE = "'none'"
# Stored images (SVG above all) that someone opens directly: nothing loads, nothing runs,
# no navigation, forms or plugins (`sandbox`); only the inline styles drawings use.
IMAGE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": (NONE,),
    "style-src": ("'unsafe-inline'",),
    "sandbox": (),
}
# The source expressions a policy here may name: keywords, schemes, origins.
# A keyword, a scheme, or a plain origin: no wildcard, so that no source made from a
# URL someone registered can open a policy to a whole domain.
SOURCE = re.compile(
    r"'(?:self|none|unsafe-inline)'"
    r"|[a-z][a-z0-9+.-]*:"
    r"|[a-z][a-z0-9+.-]*://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]{1,5})?"
)
_EXTRA = "laurels_csp_sources"

View = Callable[..., HttpResponse]


def policy_header(policy: Mapping[str, Iterable[str]]) -> str:
    """`default-src 'self'; object-src 'none'; sandbox` from {directive: sources}."""
    return "; ".join(" ".join((directive, *sources)) for directive, sources in policy.items())


def origin_source(url: str) -> str | None:
    """The source expression naming the origin of `url` (`https://app.example:8443`), or
    None if `url` has no origin a policy can name (no host, odd characters)."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    source = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return source if SOURCE.fullmatch(source) else None


def allow_sources(response: HttpResponse, **directives: Iterable[str]) -> HttpResponse:
    """Open `directives` of this answer's policy to more sources: keyword arguments are
    directive names with `_` for `-` (`form_action=[...]`). Raises ValueError for a
    source that is not a plain keyword, scheme or origin, so that no value can smuggle a
    `;` and a directive of its own into the header."""
    _add_sources(response.__dict__.setdefault(_EXTRA, {}), directives)
    return response


def allow_request_sources(request: HttpRequest, **directives: Iterable[str]) -> None:
    """`allow_sources` for whatever answer this request gets: for a template tag that
    knows a source while the page renders (an LTI button's icon), not the view."""
    _add_sources(request.__dict__.setdefault(_EXTRA, {}), directives)


def _add_sources(extra: dict[str, list[str]], directives: Mapping[str, Iterable[str]]) -> None:
    for name, sources in directives.items():
        sources = list(sources)
        for source in sources:
            if not SOURCE.fullmatch(source):
                raise ValueError(f"Not a source expression a policy here may name: {source!r}")
        extra.setdefault(name.replace("_", "-"), []).extend(sources)


def policy_allows(**directives: Iterable[str]) -> Callable[[View], View]:
    """`allow_sources` for every answer of a view, with sources fixed in the code."""
    fixed = {name: tuple(sources) for name, sources in directives.items()}

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return allow_sources(view(request, *args, **kwargs), **fixed)

        return wrapped

    return decorator


def set_policy(response: HttpResponse, policy: Mapping[str, Iterable[str]]) -> HttpResponse:
    """Give an answer a whole policy of its own (the middleware leaves it as it is)."""
    response[HEADER] = policy_header(policy)
    return response


def html_policy(extra: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """The default policy with a route's additions; an addition replaces a lone 'none'."""
    policy = dict(settings.LAURELS_CONTENT_SECURITY_POLICY)
    for directive, sources in extra.items():
        current = policy.get(directive, policy["default-src"])
        kept = [s for s in current if s != NONE]
        policy[directive] = tuple(dict.fromkeys([*kept, *sources]))
    return policy


class ContentSecurityPolicyMiddleware:
    """Sets the HTML policy on every HTML answer that has no policy of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER in response or not _is_html(response):
            return response
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages are made of inline script and style
        extra = {**request.__dict__.get(_EXTRA, {})}
        for directive, sources in response.__dict__.get(_EXTRA, {}).items():
            extra[directive] = [*extra.get(directive, []), *sources]
        return set_policy(response, html_policy(extra))


def _is_html(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").lower().startswith("text/html")
