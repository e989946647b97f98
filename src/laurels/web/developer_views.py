"""The developer portal (issue 18): a signed-in person's own apps (`Application.user`).

- `/developer/apps/`: the apps they own, however registered (here, or by an admin for them).
- `/developer/apps/new/`: register one under exactly the rules of `POST /o/register`: the
  form becomes RFC 7591 metadata checked by `connect.client_metadata.parse_client_metadata`,
  counted in the same per-address limit, reviewed by the same policy
  (`connect.services.application_portal_register`). The client secret is shown in the
  answer to that POST only.
- `/developer/apps/<client_id>/`: details and its review status explained; the edit form
  (`application_portal_update`: scopes beyond what was approved wait for review again).
- `.../rotate/` and `.../delete/`: a confirmation page, then the POST; a new secret is shown
  once, the old one stops working; a deleted app's tokens end with it.
- `.../lti/` (issue 20): the app's LTI 1.3 tool registration (`lti.services`), with the
  platform details the tool needs; `.../lti/delete/` removes it (confirmation first);
  `.../lti/lti11-secret/` makes a new LTI 1.1 secret, shown once, when an administrator
  turned LTI 1.1 on for it (only an administrator can).

Another person's app is a 404, the same as an unknown client id.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.accounts.models import User
from laurels.connect import selectors as connect_selectors
from laurels.connect import services as connect_services
from laurels.connect.client_metadata import ClientMetadataError, parse_client_metadata
from laurels.connect.models import Application
from laurels.connect.scopes import parse_scopes, scope_description
from laurels.core.clients import client_address
from laurels.core.errors import DomainError, RateLimited
from laurels.lti import services as lti_services
from laurels.lti.models import ToolRegistration
from laurels.web.account_views import _add_errors
from laurels.web.developer_forms import DeveloperAppForm, ToolRegistrationForm

Review = Application.Review


def status_of(app: Application) -> tuple[str, str, str]:
    """(tag class, label, explanation) of whether people can connect `app` now."""
    if not app.enabled:
        return (
            "off",
            "Turned off",
            "An administrator turned this app off: nobody can connect it, and its tokens "
            "do not work. Ask this server's administrators why.",
        )
    if app.review == Review.PENDING:
        return (
            "pending",
            "Pending review",
            "It asks for scopes that need an administrator's review. Until one approves "
            "it, people who follow your authorization link see that it is waiting.",
        )
    if app.review == Review.REJECTED:
        return (
            "rejected",
            "Rejected",
            "An administrator did not approve it: nobody can connect it. Changing it does "
            "not send it for review again; ask this server's administrators.",
        )
    return "approved", "Approved", "People can connect it now."


def _app(user: User, client_id: str) -> Application:
    application = connect_selectors.user_developer_app(viewer=user, client_id=client_id[:100])
    if application is None:
        raise Http404("You have no such app.")
    return application


def _metadata(form: DeveloperAppForm):
    """The form's metadata checked as /o/register checks a posted body; None (with the
    refusal on its field) when it fails."""
    try:
        return parse_client_metadata(json.dumps(form.metadata_document()).encode())
    except ClientMetadataError as error:
        form.add_metadata_error(error)
        return None


def _rate_limited(request: HttpRequest, form: DeveloperAppForm, error: RateLimited):
    form.add_error(None, error.message)
    response = render(request, "web/developer_app_new.html", {"form": form}, status=error.status)
    response["Retry-After"] = str(error.retry_after)
    return response


@never_cache
@login_required
@require_GET
def developer_apps(request: HttpRequest) -> HttpResponse:
    apps = [
        (app, status_of(app)) for app in connect_selectors.user_developer_apps(viewer=request.user)
    ]
    return render(request, "web/developer_apps.html", {"apps": apps})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app_new(request: HttpRequest) -> HttpResponse:
    """Register an app; its answer shows the client id and, once, the secret."""
    form = DeveloperAppForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "web/developer_app_new.html", {"form": form}, status=status)
    metadata = _metadata(form)
    if metadata is None:
        return render(request, "web/developer_app_new.html", {"form": form}, status=400)
    address = client_address(request)
    try:
        connect_services.self_registration_rate_check(client_ip=address)
        created = connect_services.application_portal_register(
            owner=request.user, metadata=metadata, ip_address=address
        )
    except RateLimited as error:
        return _rate_limited(request, form, error)
    except ClientMetadataError as error:
        form.add_metadata_error(error)
        return render(request, "web/developer_app_new.html", {"form": form}, status=400)
    return render(
        request,
        "web/developer_app_secret.html",
        {
            "app": created.application,
            "status": status_of(created.application),
            "secret": created.client_secret,
            "created": True,
        },
        status=201,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app(request: HttpRequest, client_id: str) -> HttpResponse:
    """An app's details, and its edit form (POST)."""
    application = _app(request.user, client_id)
    form = DeveloperAppForm(
        request.POST if request.method == "POST" else None, application=application
    )
    status = 200
    if request.method == "POST":
        metadata = _metadata(form) if form.is_valid() else None
        if metadata is not None:
            try:
                connect_services.application_portal_update(
                    application=application,
                    owner=request.user,
                    metadata=metadata,
                    ip_address=client_address(request),
                )
            except ClientMetadataError as error:
                form.add_metadata_error(error)
            else:
                messages.success(request, "Saved.")
                return redirect("web:developer_app", client_id=application.client_id)
        status = 400
        application.refresh_from_db()  # show what is stored, not the refused change
    return render(
        request,
        "web/developer_app.html",
        {
            "app": application,
            "status": status_of(application),
            "scope_items": [
                (scope, scope_description(scope))
                for scope in parse_scopes(application.allowed_scopes)
            ],
            "redirect_uris": application.redirect_uris.split(),
            "public": application.client_type == Application.CLIENT_PUBLIC,
            "form": form,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app_rotate(request: HttpRequest, client_id: str) -> HttpResponse:
    """Confirm, then make a new client secret (shown once); the old one stops working."""
    application = _app(request.user, client_id)
    if application.client_type == Application.CLIENT_PUBLIC:
        raise Http404("A public app has no client secret.")
    if request.method == "GET":
        return render(
            request, "web/developer_app_confirm.html", {"app": application, "rotate": True}
        )
    try:
        secret = connect_services.application_rotate_secret(
            application=application, actor=request.user
        )
    except ValidationError:  # pragma: no cover - public apps are refused above
        raise Http404("A public app has no client secret.") from None
    return render(
        request,
        "web/developer_app_secret.html",
        {"app": application, "status": status_of(application), "secret": secret},
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app_delete(request: HttpRequest, client_id: str) -> HttpResponse:
    """Confirm, then delete the app with its tokens, codes and consents."""
    application = _app(request.user, client_id)
    if request.method == "GET":
        return render(request, "web/developer_app_confirm.html", {"app": application})
    name = application.name
    connect_services.application_portal_delete(
        application=application, owner=request.user, ip_address=client_address(request)
    )
    messages.success(request, f"{name} is deleted. Its tokens no longer work.")
    return redirect("web:developer_apps")


def _tool_registration(application: Application) -> ToolRegistration | None:
    return getattr(application, "lti_tool", None)  # None when it has not registered


def platform_details(registration: ToolRegistration | None) -> list[tuple[str, str, str]]:
    """(field id, label, value) of what a tool is configured with: this server as its LTI
    platform; the client and deployment ids once the tool is registered."""
    base = settings.LAURELS_BASE_URL
    details = [("lti-issuer", "Issuer (iss)", base)]
    if registration is not None:
        details += [
            ("lti-client-id", "Client ID", registration.client_id),
            ("lti-deployment-id", "Deployment ID", registration.deployment_id),
        ]
    return [
        *details,
        ("lti-auth-url", "OIDC authorization URL", f"{base}/lti/authorize"),
        ("lti-jwks-url", "Platform JWKS URL", f"{base}/lti/jwks"),
    ]


def _lti_page(
    request: HttpRequest,
    application: Application,
    registration: ToolRegistration | None,
    form: ToolRegistrationForm,
    *,
    status: int = 200,
    **extra,
) -> HttpResponse:
    return render(
        request,
        "web/developer_app_lti.html",
        {
            "app": application,
            "status": status_of(application),
            "registration": registration,
            "details": platform_details(registration),
            "form": form,
            **extra,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app_lti(request: HttpRequest, client_id: str) -> HttpResponse:
    """The app's LTI tool registration: the platform details, and the form (POST saves
    it through `lti.services.registration_save`, which refuses what the rules refuse)."""
    application = _app(request.user, client_id)
    registration = _tool_registration(application)
    form = ToolRegistrationForm(
        request.POST if request.method == "POST" else None, registration=registration
    )
    if request.method == "GET" or not form.is_valid():
        return _lti_page(
            request, application, registration, form, status=400 if form.is_bound else 200
        )
    try:
        lti_services.registration_save(
            application=application, actor=request.user, **form.cleaned_data
        )
    except ValidationError as error:
        _add_errors(form, error)
    except DomainError as error:
        form.add_error(None, error.message)
    else:
        messages.success(request, "Saved.")
        return redirect("web:developer_app_lti", client_id=application.client_id)
    return _lti_page(request, application, registration, form, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def developer_app_lti_delete(request: HttpRequest, client_id: str) -> HttpResponse:
    """Confirm, then remove the app's tool registration: its buttons go at once."""
    application = _app(request.user, client_id)
    registration = _tool_registration(application)
    if registration is None:
        raise Http404("This app is not registered as an LTI tool.")
    if request.method == "GET":
        return render(
            request,
            "web/developer_app_lti.html",
            {"app": application, "registration": registration, "confirm_delete": True},
        )
    lti_services.registration_delete(application=application, actor=request.user)
    messages.success(request, f"{application.name} is no longer an LTI tool here.")
    return redirect("web:developer_app", client_id=application.client_id)


@never_cache
@login_required
@require_POST
def developer_app_lti11_secret(request: HttpRequest, client_id: str) -> HttpResponse:
    """A new LTI 1.1 shared secret (shown once); the old one stops working. Only for a
    registration an administrator turned LTI 1.1 on for."""
    application = _app(request.user, client_id)
    registration = _tool_registration(application)
    if registration is None or not registration.lti11_enabled:
        raise Http404("LTI 1.1 is not turned on for this app.")
    secret = lti_services.lti11_secret_rotate(registration=registration, actor=request.user)
    return _lti_page(
        request,
        application,
        registration,
        ToolRegistrationForm(registration=registration),
        lti11_secret=secret,
    )
