"""The OAuth2 / OpenID Connect endpoints: django-oauth-toolkit's views, extended where
Laurels' policy or Badgr compatibility needs it."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views

from laurels.connect import services
from laurels.connect.models import Application, AuditEvent
from laurels.connect.scopes import is_registrable_scope, parse_scopes, scope_description


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


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
        return super().render_to_response(context, **response_kwargs)

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


@method_decorator(csrf_exempt, name="dispatch")
class SelfRegistrationView(dot_views.DynamicClientRegistrationView):
    """`POST /o/register` (RFC 7591): anyone may register; scopes beyond the no-review
    policy (LAURELS_SELF_REGISTRATION_SCOPES) leave the app pending an admin's review."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            metadata = json.loads(request.body or b"{}")
        except ValueError:
            metadata = None
        if not isinstance(metadata, dict):
            return oauth_error("invalid_client_metadata", "The body must be a JSON object.")
        requested = parse_scopes(str(metadata.get("scope") or "r:profile"))
        unknown = [s for s in requested if not is_registrable_scope(s)]
        if unknown:
            return oauth_error("invalid_client_metadata", f"Unknown scope: {' '.join(unknown)}")
        no_review = set(parse_scopes(settings.LAURELS_SELF_REGISTRATION_SCOPES))
        review = (
            Application.Review.APPROVED
            if set(requested) <= no_review
            else Application.Review.PENDING
        )
        try:
            with transaction.atomic():
                response = super().post(request, *args, **kwargs)
                if response.status_code != 201:
                    return response
                body = json.loads(response.content)
                application = self._apply_policy(body["client_id"], metadata, requested, review)
                services.audit_record(
                    AuditEvent.Kind.APP_REGISTERED,
                    application=application,
                    ip_address=client_ip(request),
                    detail={
                        "scopes": application.allowed_scopes,
                        "review": review,
                        "source": "dcr",
                    },
                )
        except ValidationError as error:
            return oauth_error("invalid_client_metadata", " ".join(error.messages))
        body["scope"] = application.allowed_scopes
        body["laurels_review_status"] = review
        return JsonResponse(body, status=201)

    @staticmethod
    def _apply_policy(
        client_id: str, metadata: dict, scopes: list[str], review: str
    ) -> Application:
        application = Application.objects.get(client_id=client_id)
        application.allowed_scopes = " ".join(scopes)
        application.review = review
        application.algorithm = Application.RS256_ALGORITHM
        application.website_url = str(metadata.get("client_uri") or "")
        application.logo_url = str(metadata.get("logo_uri") or "")
        application.terms_url = str(metadata.get("tos_uri") or "")
        application.privacy_url = str(metadata.get("policy_uri") or "")
        application.full_clean(exclude=["client_secret"])
        application.save()
        return application
