"""The OAuth2 / OpenID Connect endpoints: django-oauth-toolkit's views, extended where
Laurels' policy or Badgr compatibility needs it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import get_access_token_model

# RFC 9207's `iss` for an authorization response; the toolkit adds it to successes only
# and keeps the helper module-private, so pin the toolkit's major version.
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OauthlibRequest
from oauthlib.common import add_params_to_uri

from laurels.accounts.services import login_rate_check
from laurels.connect import selectors, services
from laurels.connect.client_metadata import (
    MAX_BODY_BYTES,
    WEB_URI_FIELDS,
    ClientMetadataError,
    parse_client_metadata,
)
from laurels.connect.models import Application, AuditEvent
from laurels.connect.oauth import (
    CLIENT_ADDRESS_ENVIRON_KEY,
    LaurelsOAuth2Validator,
    checksum,
    refresh_token_of_client,
)
from laurels.connect.oauth_settings import GRANT_TYPES_SUPPORTED, TOKEN_ENDPOINT_AUTH_METHODS
from laurels.connect.scopes import scope_description
from laurels.core.clients import client_address
from laurels.core.csp import allow_sources, origin_source
from laurels.core.errors import RateLimited

DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"

# Claims of every id_token besides the user's (OpenID Connect Core §2).
ID_TOKEN_CLAIMS = ("iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash")


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def rate_limited_oauth_error(error: RateLimited) -> JsonResponse:
    """429 (or 503 when the limits cannot be counted) in OAuth's JSON error shape, with
    Retry-After."""
    response = oauth_error("temporarily_unavailable", error.message, status=error.status)
    response["Retry-After"] = str(error.retry_after)
    return response


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


def requested_prompt(request: HttpRequest) -> set[str]:
    """OpenID Connect's `prompt` (Core §3.1.2.1): space-separated values, any request."""
    return set(request.GET.get("prompt", "").split())


def without_toolkit_approval_prompt(query: QueryDict) -> QueryDict:
    """`query` without `approval_prompt`: the toolkit reads it from the query string and,
    set to `auto`, issues a code whenever the app holds a live token for these scopes,
    before Laurels' consent logic (prompt, recorded consent) is asked. Consent is Laurels'
    alone to decide (AuthorizationView.render_to_response)."""
    if "approval_prompt" not in query:
        return query
    query = query.copy()
    del query["approval_prompt"]
    return query


class ConsentNeeded(Exception):
    """A code was about to be issued without the person's approval."""


class ConsentForm(AllowForm):
    """The toolkit's consent form, but `redirect_uri` stays empty when the app's request
    named none: its code is then bound to no redirect_uri, and the exchange need not name
    one, while a code asked for with one must be exchanged with it (RFC 6749 §4.1.3)."""

    redirect_uri = forms.CharField(required=False, widget=forms.HiddenInput())


class AuthorizationView(dot_views.AuthorizationView):
    """`GET /o/authorize`: log-in, then the consent page (skipped once approved).

    `prompt` (OpenID Connect Core §3.1.2.1) is honoured for every app: `none` never shows
    a page (login_required or consent_required back to the app), `consent` shows the
    consent page even when approved, `login` ends the session and asks for the password.
    Every redirect to the app carries `iss` (RFC 9207), errors included.
    """

    template_name = "connect/authorize.html"
    form_class = ConsentForm

    def get(self, request, *args, **kwargs):
        refused = selectors.application_refused_at_authorize(request.GET.get("client_id", ""))
        if refused is not None:
            # A known app that may not start a flow: say which and why, instead of the
            # generic invalid client_id; nothing goes back to the app.
            return render(request, "connect/app_unavailable.html", {"app": refused}, status=403)
        prompt = requested_prompt(request)
        if "none" in prompt and len(prompt) > 1:  # Core §3.1.2.1: none stands alone
            return self._error_to_app_after_validation("invalid_request")
        request.GET = without_toolkit_approval_prompt(request.GET)
        try:
            return super().get(request, *args, **kwargs)
        except ConsentNeeded:
            # A shortcut of the toolkit's (an app's skip_authorization) would issue a code
            # no consent covers: ask, as for any app, or answer prompt=none's error.
            return self.render_to_response(self.get_context_data(**self.oauth2_data))

    def get_initial(self):
        initial = super().get_initial()
        if "redirect_uri" not in self.request.GET:
            initial["redirect_uri"] = ""
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        scopes = kwargs.get("scopes") or []
        context["scope_items"] = [(s, scope_description(s)) for s in scopes]
        return context

    def create_authorization_response(self, request, scopes, credentials, allow):
        """Every code is issued here, whichever path asked. It needs the person's approval:
        their Allow on the consent page (a POST of its CSRF-checked form), or a consent
        they recorded that covers these scopes; anything else (the toolkit's own
        shortcuts) raises ConsentNeeded.

        An empty redirect_uri from the consent form means the app named none: oauthlib
        then uses the one registered and marks the code as bound to none."""
        if allow and not self._approved(credentials["client_id"], scopes):
            raise ConsentNeeded
        if not credentials.get("redirect_uri"):
            credentials["redirect_uri"] = None
        return super().create_authorization_response(request, scopes, credentials, allow)

    def _approved(self, client_id: str, scopes: str | list[str]) -> bool:
        """Whether the person approved this app for these scopes: now, by posting the
        consent page's form, or before, by a consent that covers them."""
        if self.request.method == "POST":
            return True
        application = Application.objects.filter(client_id=client_id).first()
        requested = scopes.split() if isinstance(scopes, str) else list(scopes)
        return application is not None and services.consent_covers(
            user=self.request.user, application=application, scopes=requested
        )

    def redirect(self, redirect_to, application):
        issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
        return super().redirect(_add_iss_to_redirect(redirect_to, issuer), application)

    def handle_prompt_login(self):
        """prompt=login: whoever is logged in is logged out, and the log-in page comes
        back here with `login` taken out of prompt (its other values stay)."""
        if self.request.user.is_authenticated:
            logout(self.request)
        query = self.request.GET.copy()
        others = [value for value in query.get("prompt", "").split() if value != "login"]
        query.pop("prompt", None)
        if others:
            query["prompt"] = " ".join(others)
        return redirect_to_login(
            f"{self.request.path}?{query.urlencode()}",
            resolve_url(self.get_login_url()),
            self.get_redirect_field_name(),
        )

    def _error_to_app(self, redirect_uri: str, state: str | None, error: str, application):
        parameters = {"error": error, **({"state": state} if state else {})}
        return self.redirect(add_params_to_uri(redirect_uri, parameters.items()), application)

    def _error_to_app_after_validation(self, error: str) -> HttpResponse:
        """Answer `error` to the app, once the request proved its app and redirect URI."""
        try:
            _, credentials = self.validate_authorization_request(self.request)
        except OAuthToolkitError as problem:
            return self.error_response(problem, application=None)
        application = Application.objects.get(client_id=credentials["client_id"])
        return self._error_to_app(
            credentials["redirect_uri"], credentials.get("state"), error, application
        )

    def render_to_response(self, context, **response_kwargs):
        """Skip the consent page when the user already approved these scopes (unless
        prompt=consent): submit the same form the Allow button would, so both paths share
        the toolkit's handling. prompt=none without that approval: consent_required."""
        application = context.get("application")
        scopes = context.get("scopes")
        prompt = requested_prompt(self.request)
        remembered = (
            application is not None
            and scopes
            and "error" not in context
            and "consent" not in prompt
            and services.consent_covers(
                user=self.request.user, application=application, scopes=scopes
            )
        )
        if remembered:
            form = self.get_form_class()(data={**self.get_initial(), "allow": True})
            if form.is_valid():
                return self.form_valid(form)
        if "none" in prompt and application is not None and "error" not in context:
            return self._error_to_app(
                context["redirect_uri"], context.get("state"), "consent_required", application
            )
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
            if self.request.method == "POST":  # remembered consent needs no new record
                services.consent_record(
                    user=self.request.user,
                    application=application,
                    scopes=scopes,
                    ip_address=client_address(self.request),
                )
        else:
            services.audit_record(
                AuditEvent.Kind.CONSENT_DENIED,
                user=self.request.user,
                application=application,
                ip_address=client_address(self.request),
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
        if request.POST.get("grant_type") == DEVICE_CODE_GRANT_TYPE:
            return oauth_error(  # the toolkit would look for a device_code (500 without one)
                "unsupported_grant_type", "Laurels does not offer the device grant."
            )
        self._apply_badgr_password_login(request)
        request.META[CLIENT_ADDRESS_ENVIRON_KEY] = client_address(request) or ""
        response = self._password_rate_limited(request) or super().post(request, *args, **kwargs)
        if response.status_code != 200:
            self._audit_failure(request, response)
        return response

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request: HttpRequest, *args, **kwargs):
        """The toolkit's, except that the new access token is looked for, not required:
        once the token's transaction has committed a concurrent request may end it (the
        same refresh token presented from another client revokes the family, the new
        tokens too). The answer is then still the tokens issued, which no longer work,
        not a 500."""
        _url, headers, body, status = self.create_token_response(request)
        if status == 200:
            access_token = json.loads(body).get("access_token")
            issued = (
                get_access_token_model()
                .objects.filter(token_checksum=checksum(access_token))
                .first()
                if access_token
                else None
            )
            if issued is not None:
                app_authorized.send(sender=self, request=request, token=issued)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    @staticmethod
    def _apply_badgr_password_login(request: HttpRequest) -> None:
        """Badgr's front end and client libraries send only `username` and `password`
        (often no grant_type, no client): that is the password grant of the built-in
        first-party client `public`. They refresh the same way, with only `grant_type`
        and `refresh_token`: that is a refresh by `public` when the token is `public`'s
        (any other app's token still needs its own client authentication, so that a
        leaked refresh token of a confidential app is no use without its secret)."""
        if not settings.LAURELS_BADGR_PASSWORD_LOGIN:
            return
        has_basic_auth = request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("basic ")
        names_no_client = "client_id" not in request.POST and not has_basic_auth
        password_login = "username" in request.POST and "password" in request.POST
        public_refresh = (
            names_no_client
            and request.POST.get("grant_type") == "refresh_token"
            and refresh_token_of_client(
                request.POST.get("refresh_token", ""), services.BADGR_PUBLIC_CLIENT_ID
            )
        )
        if not (password_login or public_refresh):
            return
        posted = request.POST.copy()
        if password_login:
            posted.setdefault("grant_type", "password")
        if names_no_client:
            posted["client_id"] = services.BADGR_PUBLIC_CLIENT_ID
        request.POST = posted

    @staticmethod
    def _password_rate_limited(request: HttpRequest) -> HttpResponse | None:
        """The password grant counts in the log-in page's counters (per account and per
        client address), so guessing here is limited as there, and a limit reached on
        either stops both; while it holds, even the right password gets 429."""
        if request.POST.get("grant_type") != "password":
            return None
        try:
            login_rate_check(
                email=request.POST.get("username", ""), client_ip=client_address(request)
            )
        except RateLimited as error:
            return rate_limited_oauth_error(error)
        return None

    @staticmethod
    def _audit_failure(request: HttpRequest, response: HttpResponse) -> None:
        try:
            error = json.loads(response.content).get("error", "")
        except ValueError:
            error = ""
        services.audit_record(
            AuditEvent.Kind.TOKEN_FAILED,
            client_id=request.POST.get("client_id", "")[:100],
            ip_address=client_address(request),
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
                ip_address=client_address(request),
                detail={"token_type_hint": request.POST.get("token_type_hint", "")},
            )
        return response


def introspecting_client(request: HttpRequest) -> Application | None:
    """The confidential app calling /o/introspect: by its own app-level token (client
    credentials, scope `introspection`) or by its client id and secret (HTTP Basic or in
    the body). A public app has no secret to prove who it is, so it never counts."""
    core = IntrospectionView.get_oauthlib_core()
    valid, oauth_request = core.verify_request(request, scopes=["introspection"])
    if valid and oauth_request.user is None:
        client = oauth_request.client
    else:
        # The toolkit authenticates a client from oauthlib's request only; build it the
        # way the toolkit does (a method of its own class, stable within the major version).
        oauth_request = OauthlibRequest(*core._extract_params(request))
        validator = core.server.request_validator
        client = oauth_request.client if validator.authenticate_client(oauth_request) else None
    if client is None or client.client_type != Application.CLIENT_CONFIDENTIAL:
        return None
    return client


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectionView(OAuthLibMixin, View):
    """`POST /o/introspect` (RFC 7662), for resource servers the operator trusts only
    (`Application.may_introspect`: registered for the `introspection` scope, which an
    admin grants). Such a server may introspect any token this server issued, whichever
    app holds it, as RFC 7662 §2.1 foresees for a resource server; the answer names the
    user by `sub` (their entityId), never by email address. GET is refused: a token
    belongs in no URL."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client = introspecting_client(request)
        if client is None:
            response = oauth_error("invalid_client", "Authenticate as a resource server.", 401)
            response["WWW-Authenticate"] = 'Basic realm="laurels"'
            return response
        if not client.may_introspect():
            return oauth_error(
                "insufficient_scope",
                "This app may not introspect tokens: an administrator has to register it "
                "for the introspection scope.",
                403,
            )
        token = request.POST.get("token")
        if not token:
            return oauth_error("invalid_request", "The token parameter is missing.")
        return JsonResponse(selectors.introspected_token(token))


# --- discovery (RFC 8414, OpenID Connect Discovery) -----------------------------------------


def supported_capabilities() -> dict:
    """What this server does, for both discovery documents: the toolkit lists some of
    its own features Laurels turns off (the device grant, HS256, `plain` PKCE) and leaves
    out fields whose defaults promise more (OpenID's default grant types include the
    implicit grant, its default `request_uri_parameter_supported` is true)."""
    return {
        "grant_types_supported": list(GRANT_TYPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "authorization_response_iss_parameter_supported": True,
    }


def metadata_response(document: dict) -> JsonResponse:
    response = JsonResponse(document)
    response["Access-Control-Allow-Origin"] = "*"
    return response


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """`/.well-known/oauth-authorization-server` (RFC 8414)."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        document = json.loads(super().get(request, *args, **kwargs).content)
        return metadata_response(
            document
            | supported_capabilities()
            | {
                "revocation_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
                "introspection_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )


class OpenIDDiscoveryView(dot_views.ConnectDiscoveryInfoView):
    """`/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3)."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        document = json.loads(super().get(request, *args, **kwargs).content)
        claims = {*LaurelsOAuth2Validator.oidc_claim_scope, *ID_TOKEN_CLAIMS}
        return metadata_response(
            document
            | supported_capabilities()
            | {
                "id_token_signing_alg_values_supported": [Application.RS256_ALGORITHM],
                "claims_supported": sorted(claims),
                "prompt_values_supported": ["none", "login", "consent"],
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
                "claims_parameter_supported": False,
            }
        )


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


# The registration's fields shown as they were stored, by RFC 7591 name.
SHOWN_FIELDS = WEB_URI_FIELDS | {
    "software_id": "software_id",
    "software_version": "software_version",
}


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
            for rfc_name, field in SHOWN_FIELDS.items()
            if getattr(application, field)
        },
        "registration_access_token": registration.registration_access_token,
        "registration_client_uri": f"{settings.LAURELS_BASE_URL}{path}",
        "laurels_review_status": application.review,
    }
    if not public:  # RFC 7591 §3.2.1; a Badge Connect client reads it (0: never expires)
        document["client_secret_expires_at"] = 0
    if registration.client_secret:
        document["client_secret"] = registration.client_secret
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
            services.self_registration_rate_check(client_ip=client_address(request))
            registered = services.application_self_register(
                metadata=metadata, ip_address=client_address(request)
            )
        except ClientMetadataError as error:
            return _registration_error(error)
        except RateLimited as error:
            return rate_limited_oauth_error(error)
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
                ip_address=client_address(request),
            )
        except ClientMetadataError as error:
            return _registration_error(error)
        return JsonResponse(registration_document(updated))

    def delete(self, request: HttpRequest, client_id: str, *args, **kwargs) -> HttpResponse:
        auth = self._authenticate_registration_request(request, client_id)
        if isinstance(auth, HttpResponse):
            return auth
        services.application_self_delete(
            application=auth.application, ip_address=client_address(request)
        )
        return HttpResponse(status=204)
