"""The platform's LTI endpoints: its public keys, the buttons' launch, and the tools'
authentication requests. Every refusal is a page saying why, never a redirect."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.core.csp import allow_sources, origin_source
from laurels.core.errors import DomainError
from laurels.lti import selectors, services

JWKS_CACHE_SECONDS = 60
LOG_IN_FIRST = "Log in to Laurels, then press the button again."
# Laurels' session cookie is SameSite=Lax: a POST from the tool's site arrives without it,
# so a logged-in person looks logged out. A GET redirect (top-level navigation) carries it.
SEND_AS_GET = (
    "If you are logged in already: the tool sent its authentication request as a POST from "
    "its own site, which browsers send without Laurels' session; the tool must send it as "
    "a GET redirect."
)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The public keys that verify launches' id_tokens (a key is made on first need)."""
    keys = selectors.published_keys()
    if not keys:
        services.platform_signing_key()
        keys = selectors.published_keys()
    response = JsonResponse({"keys": keys})
    patch_cache_control(response, public=True, max_age=JWKS_CACHE_SECONDS)
    return response


@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """A button pressed (`lti/launch_buttons.html`, CSRF-checked): the page that sends the
    browser on to the tool."""
    if not request.user.is_authenticated:
        return refusal(request, 401, LOG_IN_FIRST)
    try:
        started = services.launch_start(
            user=request.user,
            client_id=request.POST.get("tool", ""),
            location=request.POST.get("location", ""),
            entity_id=request.POST.get("entity", ""),
            version=request.POST.get("version") or "1.3",
            return_url=request.POST.get("return_to", ""),
        )
    except DomainError as error:
        return refusal(request, error.status, error.message)
    return autosubmit(request, title=started.title, url=started.url, fields=started.fields)


@csrf_exempt  # the tool's request: it carries its own proofs (launch, nonce, login_hint)
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """The tool's OpenID Connect authentication request. prompt=none: without a session
    the answer is a page asking to log in, never the log-in page. POST is accepted (OIDC
    allows it) but arrives cross-site without the SameSite=Lax session: the page says so."""
    if not request.user.is_authenticated:
        posted = request.method == "POST"
        return refusal(request, 401, f"{LOG_IN_FIRST} {SEND_AS_GET}" if posted else LOG_IN_FIRST)
    params = request.GET if request.method == "GET" else request.POST
    try:
        authorized = services.launch_authorize(user=request.user, params=params)
    except DomainError as error:
        return refusal(request, error.status, error.message)
    return autosubmit(
        request, title=authorized.title, url=authorized.redirect_uri, fields=authorized.fields
    )


def autosubmit(
    request: HttpRequest, *, title: str, url: str, fields: tuple[tuple[str, str], ...]
) -> HttpResponse:
    """A form POSTing `fields` to `url`, submitted on load by `lti/autosubmit.js` (and by
    its Continue button without script); the page's form-action opens to that URL's
    origin only: a registered tool URL, never a bare request parameter."""
    response = render(
        request, "lti/autosubmit.html", {"title": title, "action": url, "fields": fields}
    )
    if source := origin_source(url):
        allow_sources(response, form_action=[source])
    return response


def refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "lti/error.html", {"status": status, "message": message}, status=status)
