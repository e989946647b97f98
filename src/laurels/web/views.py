from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from laurels.connect import selectors as connect_selectors
from laurels.connect import services as connect_services
from laurels.connect.scopes import scope_description
from laurels.core.clients import client_address
from laurels.core.errors import DomainError
from laurels.core.health import health_report
from laurels.web import backpack_views
from laurels.web.forms import PersonalTokenForm

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Signed out: what Laurels is. Signed in: badges waiting for an answer, the latest
    ones, and the person's issuers (`backpack_views.home_context`)."""
    if not request.user.is_authenticated:
        return render(request, "web/home.html")
    return render(request, "web/home.html", backpack_views.home_context(request.user))


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and takes writes and the data directory has room;
    503 otherwise, with "failing" naming the checks that failed. For load balancers and
    monitors (see `laurels.core.health`)."""
    report = health_report()
    return JsonResponse(report, status=503 if report["failing"] else 200)


@login_required
@require_http_methods(["GET", "POST"])
def connected_apps(request: HttpRequest) -> HttpResponse:
    """Every app that can act for the user, from any grant; POST with `revoke=<key>`
    disconnects one (all its tokens, and its consent)."""
    if request.method == "POST":
        try:
            connect_services.connected_app_revoke(
                user=request.user,
                key=request.POST.get("revoke", ""),
                ip_address=client_address(request),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Disconnected. The app's access is gone.")
        return redirect("web:connected_apps")
    apps = [
        (app, [(s, scope_description(s)) for s in app.scopes])
        for app in connect_selectors.user_connected_apps(viewer=request.user)
    ]
    return render(request, "web/connected_apps.html", {"apps": apps})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def personal_tokens(request: HttpRequest) -> HttpResponse:
    """The user's personal API tokens: make one (its key is shown on this one answer, never
    again), or delete one (POST with `delete=<entityId>`)."""
    made = None
    form = PersonalTokenForm()
    if request.method == "POST" and "delete" in request.POST:
        try:
            connect_services.personal_token_delete(
                user=request.user, entity_id=request.POST["delete"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Deleted. The token no longer works.")
        return redirect("web:personal_tokens")
    if request.method == "POST":
        form = PersonalTokenForm(request.POST)
        if form.is_valid():
            try:
                made = connect_services.personal_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scope"],
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                form = PersonalTokenForm()
    tokens = connect_selectors.user_personal_tokens(viewer=request.user)
    return render(
        request, "web/personal_tokens.html", {"form": form, "made": made, "tokens": tokens}
    )
