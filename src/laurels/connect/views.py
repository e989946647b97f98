"""The OAuth2 / OpenID Connect endpoints: django-oauth-toolkit's views, extended where
Laurels' policy or Badgr compatibility needs it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views

from laurels.connect import services
from laurels.connect.client_metadata import (
    MAX_BODY_BYTES,
    WEB_URI_FIELDS,
    ClientMetadataError,
    parse_client_metadata,
)
from laurels.connect.models import Application, AuditEvent
from laurels.connect.scopes import scope_description
from laurels.core.csp import allow_sources, origin_source
from laurels.core.errors import RateLimited


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def allow_redirect_to_app(
    response: HttpResponse, application: Application | None, redirect_uri: str
) -> HttpResponse:
    """Let the form of this page (consent, log-in) end at the app: its answer redirects to
    the app's redirect URI, and Chromium holds every redirect that follows a form
    submission to the page's `form-action`. Opened to that URI's origin only once the URI
    is one a usable app registered, never to a bare request parameter."""
    if (
        application is not None
        and application.is_usable(None)
        and application.redirect_uri_allowed(redirect_uri)
        and (source := origin_source(redirect_uri))
    ):
        allow_sources(response, form_action=[source])
    return response


def allow_redirect_after_login(response: HttpResponse, next_url: str) -> HttpResponse:
    """The log-in page's `allow_redirect_to_app`: after log-in, an authorization request
    for an app already approved redirects straight on to the app."""
    parts = urlsplit(next_url)
    if parts.path.rstrip("/") != reverse("oauth2_provider:authorize").rstrip("/"):
        return response
    query = QueryDict(parts.query)
    client_id = query.get("client_id", "")
    if "\x00" in client_id:  # `next` decoded once more than the request was checked
        return response
    application = Application.objects.filter(client_id=client_id).first()
    registered = application.redirect_uris.split() if application else []
    only = registered[0] if len(registered) == 1 else ""
    return allow_redirect_to_app(response, application, query.get("redirect_uri") or only)


class AuthorizationView(dot_views.AuthorizationView):
    """`GET /o/authorize`: log-in, then the consent page (skipped once approved)."""

    template_name = "connect/authorize.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        scopes = kwargs.get("scopes") or []
        context["scope_items"] = [(s, scope_description(s)) for s in scopes]
        return context

    def render_to_response(self, context, **response_kwargs):
        """Skip the consent page when the user already approved these scopes: submit the
        same form the Allow button would, so both paths share the toolkit's handling."""
        application = context.get("application")
        scopes = context.get("scopes")
        remembered = (
            application is not None
            and scopes
            and "error" not in context
            and services.consent_covers(
                user=self.request.user, application=application, scopes=scopes
            )
        )
        if remembered:
            form = self.get_form_class()(data={**self.get_initial(), "allow": True})
            if form.is_valid():
                return self.form_valid(form)
        response = super().render_to_response(context, **response_kwargs)
        if application is None or "error" in context:
            return response
        if application.logo_url and (logo := origin_source(application.logo_url)):
            allow_sources(response, img_src=[logo])
        return allow_redirect_to_app(response, application, context.get("redirect_uri", ""))

    def form_valid(self, form):
        response = super().form_valid(form)
        application = Application.objects.filter(client_id=form.cleaned_data["client_id"]).first()
        scopes = form.cleaned_data.get("scope", "").split()
        if application is None or response.status_code not in (301, 302):
            return response
        if form.cleaned_data.get("allow"):
            services.consent_record(
                user=self.request.user,
                application=application,
                scopes=scopes,
                ip_address=client_ip(self.request),
            )
        else:
            services.audit_record(
                AuditEvent.Kind.CONSENT_DENIED,
                user=self.request.user,
                application=application,
                ip_address=client_ip(self.request),
            )
        return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(dot_views.TokenView):
    """`POST /o/token`, with Badgr's password log-in and refusals of what RFC 9700 forbids."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.GET:
            return oauth_error(
                "invalid_request", "Token parameters belong in the form-encoded request body."
            )
        self._apply_badgr_password_login(request)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200:
            self._audit_failure(request, response)
        return response

    @staticmethod
    def _apply_badgr_password_login(request: HttpRequest) -> None:
        """Badgr's front end and client libraries send only `username` and `password`
        (often no grant_type, no client): that is the password grant of the built-in
        first-party client `public`."""
        if not settings.LAURELS_BADGR_PASSWORD_LOGIN:
            return
        if "username" not in request.POST or "password" not in request.POST:
            return
        posted = request.POST.copy()
        posted.setdefault("grant_type", "password")
        has_basic_auth = request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("basic ")
        if "client_id" not in posted and not has_basic_auth:
            posted["client_id"] = services.BADGR_PUBLIC_CLIENT_ID
        request.POST = posted

    @staticmethod
    def _audit_failure(request: HttpRequest, response: HttpResponse) -> None:
        try:
            error = json.loads(response.content).get("error", "")
        except ValueError:
            error = ""
        services.audit_record(
            AuditEvent.Kind.TOKEN_FAILED,
            client_id=request.POST.get("client_id", "")[:100],
            ip_address=client_ip(request),
            detail={
                "grant_type": request.POST.get("grant_type", ""),
                "error": error,
                "status": response.status_code,
            },
        )


@method_decorator(csrf_exempt, name="dispatch")
class RevokeTokenView(dot_views.RevokeTokenView):
    """`POST /o/revoke_token` (RFC 7009), audited."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            services.audit_record(
                AuditEvent.Kind.TOKEN_REVOKED,
                client_id=request.POST.get("client_id", "")[:100],
                ip_address=client_ip(request),
                detail={"token_type_hint": request.POST.get("token_type_hint", "")},
            )
        return response


def _registration_error(error: ClientMetadataError) -> JsonResponse:
    return oauth_error(error.error, error.message)


def _registration_body(request: HttpRequest) -> bytes | None:
    """The request body, or None when it is larger than any real registration (read no
    further than one byte past the cap, whatever Content-Length says)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    body = request.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


def _body_too_large() -> JsonResponse:
    return oauth_error(
        "invalid_client_metadata", f"The body is larger than {MAX_BODY_BYTES} bytes.", status=413
    )


def registration_document(registration: services.SelfRegistration) -> dict:
    """RFC 7591 §3.2.1: the metadata as registered (which may differ from what was sent),
    with the registration's token and address."""
    application = registration.application
    code_flow = application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    public = application.client_type == Application.CLIENT_PUBLIC
    path = reverse(
        "oauth2_provider:dcr-register-management", kwargs={"client_id": application.client_id}
    )
    document = {
        "client_id": application.client_id,
        "client_id_issued_at": int(application.created.timestamp()),
        "client_name": application.name,
        "redirect_uris": application.redirect_uris.split(),
        "grant_types": ["authorization_code", "refresh_token"]
        if code_flow
        else ["client_credentials"],
        "response_types": ["code"] if code_flow else [],
        "token_endpoint_auth_method": "none" if public else "client_secret_basic",
        "scope": application.allowed_scopes,
        **{
            rfc_name: getattr(application, field)
            for rfc_name, field in WEB_URI_FIELDS.items()
            if getattr(application, field)
        },
        "registration_access_token": registration.registration_access_token,
        "registration_client_uri": f"{settings.LAURELS_BASE_URL}{path}",
        "laurels_review_status": application.review,
    }
    if registration.client_secret:
        document |= {"client_secret": registration.client_secret, "client_secret_expires_at": 0}
    return document


@method_decorator(csrf_exempt, name="dispatch")
class SelfRegistrationView(dot_views.DynamicClientRegistrationView):
    """`POST /o/register` (RFC 7591): anyone may register, with metadata checked as hostile
    input (connect.client_metadata); scopes beyond the no-review policy
    (LAURELS_SELF_REGISTRATION_SCOPES) leave the app pending an admin's review."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        body = _registration_body(request)
        if body is None:
            return _body_too_large()
        try:
            metadata = parse_client_metadata(body)
            services.self_registration_rate_check(client_ip=client_ip(request))
            registered = services.application_self_register(
                metadata=metadata, ip_address=client_ip(request)
            )
        except ClientMetadataError as error:
            return _registration_error(error)
        except RateLimited as error:
            response = oauth_error("temporarily_unavailable", error.message, status=429)
            response["Retry-After"] = str(error.retry_after)
            return response
        return JsonResponse(registration_document(registered), status=201)


@method_decorator(csrf_exempt, name="dispatch")
class SelfRegistrationManagementView(dot_views.DynamicClientRegistrationManagementView):
    """`/o/register/{client_id}` (RFC 7592) with the registration token: read, update
    under the same rules as registering, or delete. The toolkit checks the token."""

    def get(self, request: HttpRequest, client_id: str, *args, **kwargs) -> HttpResponse:
        auth = self._authenticate_registration_request(request, client_id)
        if isinstance(auth, HttpResponse):
            return auth
        registration = services.SelfRegistration(auth.application, auth.presented_token)
        return JsonResponse(registration_document(registration))

    def put(self, request: HttpRequest, client_id: str, *args, **kwargs) -> HttpResponse:
        auth = self._authenticate_registration_request(request, client_id)
        if isinstance(auth, HttpResponse):
            return auth
        body = _registration_body(request)
        if body is None:
            return _body_too_large()
        try:
            updated = services.application_self_update(
                application=auth.application,
                metadata=parse_client_metadata(body),
                presented_token=auth.registration_token,
                ip_address=client_ip(request),
            )
        except ClientMetadataError as error:
            return _registration_error(error)
        return JsonResponse(registration_document(updated))

    def delete(self, request: HttpRequest, client_id: str, *args, **kwargs) -> HttpResponse:
        auth = self._authenticate_registration_request(request, client_id)
        if isinstance(auth, HttpResponse):
            return auth
        services.application_self_delete(
            application=auth.application, ip_address=client_ip(request)
        )
        return HttpResponse(status=204)
