"""oEmbed (https://oembed.com) for published collections and public awards, and the small
pages it embeds.

`GET /oembed?url=...&format=json[&maxwidth=&maxheight=]` answers a `rich` embed whose
`html` is an `<iframe>` of `/public/collections/<hash>/embed` or
`/public/assertions/<id>/embed`. It lives in `web`, the top layer, because it names both
the backpack's collections and openbadges' awards. Only what is public already is
embedded: a published collection (unpublishing stops it at once), an award as its public
page shows it (a revoked one says so). A URL that is not one of these on this server is
a 404; a format other than JSON is a 501, as the spec asks.

The embed pages are the only pages another site may frame (`frame-ancestors` opened to
http: and https: and no `X-Frame-Options`); everything else keeps `frame-ancestors 'none'`
and `X-Frame-Options: DENY`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from laurels.backpack import selectors as backpack_selectors
from laurels.backpack.views import share_context
from laurels.core.csp import policy_allows
from laurels.core.errors import NotFound
from laurels.core.public import url_of
from laurels.core.untrusted import whole_number
from laurels.issuing.models import Assertion
from laurels.openbadges.pages import assertion_page

ENDPOINT_PATH = "/oembed"
MAX_URL_LENGTH = 2000
# What an embeddable address looks like: a share page of a collection (Laurels' and
# Badgr's path) or an award's public page. Ids as `laurels.core.ids` makes them.
EMBEDDABLE = re.compile(
    r"/(?:public|share)/collections/(?P<collection>[A-Za-z0-9_-]{1,64})/?"
    r"|/public/assertions/(?P<assertion>[A-Za-z0-9_-]{1,64})/?"
)
# Default frame sizes (px); maxwidth/maxheight only ever make them smaller.
SIZES = {"collection": (480, 420), "assertion": (480, 260)}
MAX_DIMENSION = 10_000
# Who may frame the embed pages: any web page.
ANY_SITE = ("https:", "http:")


@dataclass(frozen=True)
class Embed:
    """What one embeddable address stands for."""

    kind: str
    title: str
    embed_url: str
    author_name: str = ""


def endpoint_url(page_url: str) -> str:
    """The discovery address of `page_url`'s oEmbed answer (absolute, as the spec asks)."""
    return f"{settings.LAURELS_BASE_URL}{ENDPOINT_PATH}?" + urlencode(
        {"url": page_url, "format": "json"}
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _collection_embed(share_hash: str) -> Embed | None:
    try:
        collection = backpack_selectors.shared_collection(share_hash=share_hash)
    except NotFound:
        return None
    return Embed(
        kind="collection",
        title=collection.name,
        embed_url=f"{settings.LAURELS_BASE_URL}/public/collections/{share_hash}/embed",
        author_name=collection.user.get_full_name(),
    )


def _public_award(entity_id: str) -> Assertion | None:
    return (
        Assertion.objects.select_related("badge_class", "issuer")
        .filter(entity_id=entity_id)
        .first()
    )


def _assertion_embed(entity_id: str, origin: str) -> Embed | None:
    """An award, asked for under this server's origin or the one it was hosted at."""
    award = _public_award(entity_id)
    if award is None:
        return None
    if origin not in {_origin(settings.LAURELS_BASE_URL), _origin(url_of("assertions", award))}:
        return None
    return Embed(
        kind="assertion",
        title=f"{award.badge_class.name} · {award.issuer.name}",
        embed_url=url_of("assertions", award) + "/embed",
    )


def embed_for(url: str) -> Embed | None:
    """The published collection or public award `url` names on this server, or None."""
    if len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        return None
    match = EMBEDDABLE.fullmatch(parts.path)
    if parts.scheme not in ("http", "https") or match is None:
        return None
    origin = _origin(url)
    if match["collection"]:
        if origin != _origin(settings.LAURELS_BASE_URL):
            return None
        return _collection_embed(match["collection"])
    return _assertion_embed(match["assertion"], origin)


def _dimension(request: HttpRequest, name: str) -> int | None:
    """`maxwidth`/`maxheight` as a positive whole number; ValueError for anything else."""
    value = request.GET.get(name)
    if value is None:
        return None
    number = whole_number(value, max_digits=6)
    if number is None or not 1 <= number <= MAX_DIMENSION:
        raise ValueError(name)
    return number


def _problem(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_GET
@cache_control(public=True, max_age=300)
def oembed(request: HttpRequest) -> HttpResponse:
    """The oEmbed answer for `url` (see the module's docstring)."""
    if request.GET.get("format", "json") != "json":
        return _problem(501, "Only format=json is available.")
    try:
        max_width, max_height = _dimension(request, "maxwidth"), _dimension(request, "maxheight")
    except ValueError as error:
        return _problem(400, f"{error} must be a whole number of pixels from 1 to {MAX_DIMENSION}.")
    url = request.GET.get("url", "")
    if not url:
        return _problem(400, "Give the url of a shared collection or a badge award.")
    found = embed_for(url)
    if found is None:
        return _problem(404, "Nothing on this server can be embedded at that url.")
    width, height = SIZES[found.kind]
    width, height = min(width, max_width or width), min(height, max_height or height)
    answer = {
        "version": "1.0",
        "type": "rich",
        "provider_name": settings.LAURELS_SITE_NAME,
        "provider_url": settings.LAURELS_BASE_URL + "/",
        "title": found.title,
        "html": format_html(
            '<iframe src="{}" width="{}" height="{}" title="{}" loading="lazy" '
            'sandbox="allow-popups allow-popups-to-escape-sandbox" '
            'referrerpolicy="no-referrer"></iframe>',
            found.embed_url,
            width,
            height,
            found.title,
        ),
        "width": width,
        "height": height,
        "cache_age": 300,
    }
    if found.author_name:
        answer["author_name"] = found.author_name
    response = JsonResponse(answer)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _frameable(view):
    """The embed pages' framing: any site may frame them, and only them."""
    return xframe_options_exempt(policy_allows(frame_ancestors=ANY_SITE)(view))


@require_GET
@_frameable
def collection_embed(request: HttpRequest, share_hash: str) -> HttpResponse:
    """A published collection, small enough for another site's page; 404 once it is
    unpublished."""
    try:
        collection = backpack_selectors.shared_collection(share_hash=share_hash)
    except NotFound as error:
        raise Http404 from error
    context = share_context(collection)
    context["page_url"] = context["share_url"]
    return render(request, "web/embed_collection.html", context)


@require_GET
@_frameable
def assertion_embed(request: HttpRequest, entity_id: str) -> HttpResponse:
    """An award as its public page shows it (state included), without the navigation."""
    award = _public_award(entity_id)
    if award is None:
        raise Http404
    context = assertion_page(award)
    context["page_url"] = url_of("assertions", award)
    return render(request, "web/embed_assertion.html", context)
