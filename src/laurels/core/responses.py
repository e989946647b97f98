"""Answers several apps give alike: images (kept in storage or made here) under their
own sandboxing policy, and whether a client asked for JSON rather than a page. Public
documents (`openbadges`) and share pages (`backpack`) both answer with them.
"""

from __future__ import annotations

import functools

from django.http import Http404, HttpRequest, HttpResponse

from laurels.core.csp import IMAGE_POLICY, set_policy

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
JSON_LD = "application/ld+json"


JSON_TYPES = ("application/ld+json", "application/json")
PAGE_TYPES = ("text/html", "application/xhtml+xml")


def accepts_json(accept: str, query: str = "") -> bool:
    """JSON unless the Accept header prefers a page, as Badgr answered: browsers name
    text/html above everything else, while verifiers and scripts send JSON types, `*/*`
    or nothing. A page only when text/html (or XHTML) is named with a weight above every
    JSON type's (wildcards included), or equal to it and named first."""
    if "format=json" in query:
        return True
    return not _prefers_page(accept[:2000])


@functools.lru_cache(maxsize=512)
def _prefers_page(accept: str) -> bool:
    weights: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = max(0.0, min(1.0, float(value)))
                except ValueError:
                    weight = 0.0
        weights.setdefault(media.strip().lower(), (weight, position))
    page = max(
        (weights[t] for t in PAGE_TYPES if t in weights), default=None, key=lambda w: (w[0], -w[1])
    )
    if page is None or page[0] <= 0:
        return False
    named_json = [weights[t] for t in JSON_TYPES if t in weights]
    wildcard = [weights[t] for t in ("application/*", "*/*") if t in weights]
    if named_json:
        best = max(named_json, key=lambda w: (w[0], -w[1]))
        return page[0] > best[0] or (page[0] == best[0] and page[1] < best[1])
    return not wildcard or page[0] >= max(w[0] for w in wildcard)


def wants_json(request: HttpRequest) -> bool:
    if request.GET.get("format") == "json":
        return True
    return accepts_json(request.headers.get("Accept", ""))


def image_response(content: bytes, extension: str, download_name: str | None) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES.get(extension))
    # SVGs were sanitized on upload; opened directly, this keeps one from loading, running
    # or navigating anything even so.
    set_policy(response, IMAGE_POLICY)
    response["Access-Control-Allow-Origin"] = "*"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}.{extension}"'
    return response


def stored_image_response(field_file) -> HttpResponse:
    if not field_file:
        raise Http404("No image.")
    with field_file.open("rb") as stored:
        content = stored.read()
    return image_response(content, field_file.name.rsplit(".", 1)[-1].lower(), None)
