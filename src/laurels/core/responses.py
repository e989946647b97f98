"""Answers several apps give alike: images (kept in storage or made here) under their
own sandboxing policy, and whether a client asked for JSON rather than a page. Public
documents (`openbadges`) and share pages (`backpack`) both answer with them.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from laurels.core.csp import IMAGE_POLICY, set_policy

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
JSON_LD = "application/ld+json"


def accepts_json(accept: str, query: str = "") -> bool:
    if "format=json" in query:
        return True
    return JSON_LD in accept or ("application/json" in accept and "text/html" not in accept)


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
