"""The pages of "Log in with your institution", mounted at /oidc/ only while a provider is
configured (laurels.urls): start a log-in, start a linking (from the account settings,
with the password), the provider's callback, and unlinking. Every failure is a page
saying what happened and where to go, never a 500: the provider's answer is untrusted
input like any other."""

from __future__ import annotations

import jwt
import requests
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from laurels.accounts import services
from laurels.accounts.institution import (
    LINK_TO_ATTRIBUTE,
    InstitutionUnreachable,
    institution_name,
    message_for,
    provider,
)
from laurels.accounts.services import InstitutionLoginRefused
from laurels.core.clients import client_address
from laurels.core.csp import allow_sources, origin_source
from laurels.core.errors import DomainError, RateLimited

# The session's record of a linking under way: {state: the account's pk}.
LINKING_SESSION_KEY = "laurels_institution_linking"
STALE = (
    "This log-in with {name} has expired, was finished already, or was started in another "
    "browser. Start again from the log-in page."
)
CANCELLED = "The log-in at {name} was cancelled or refused there, so you are not logged in."
LINK_INVALID = "This link to {name} is no longer valid. Open your account settings and try again."
LINK_FROM_SETTINGS = "Link {name} from your account settings, where your password is asked for."


def refused(request: HttpRequest, error: DomainError, status: int | None = None) -> HttpResponse:
    """The styled page for a log-in that cannot go on, with its way back."""
    context = {"message": message_for(error), "name": institution_name()}
    status = status or error.status
    return render(request, "accounts/institution_error.html", context, status=status)


@method_decorator(never_cache, name="dispatch")
class LoginStartView(OIDCAuthenticationRequestView):
    """Send the person to the provider (state, nonce and PKCE kept in the session) to log
    in. Linking is `LinkStartView`'s: `?link=` (what an older account page carried) is
    refused."""

    def __init__(self, **kwargs) -> None:
        View.__init__(self, **kwargs)  # the library's reads an endpoint setting we have not

    def get(self, request: HttpRequest) -> HttpResponse:
        if "link" in request.GET:
            return refused(request, InstitutionLoginRefused(LINK_FROM_SETTINGS), status=403)
        return self.start(request, linking=False)

    def start(self, request: HttpRequest, *, linking: bool) -> HttpResponse:
        """To the provider; `linking`: its answer links the signed-in account."""
        if not settings.LAURELS_OIDC:
            raise Http404()
        self.OIDC_RP_CLIENT_ID = settings.LAURELS_OIDC.client_id
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider().authorization_endpoint
        except InstitutionUnreachable as error:
            return refused(request, error)
        response = super().get(request)
        request.session.pop(LINKING_SESSION_KEY, None)
        if linking:
            state = _newest_state(request)
            request.session[LINKING_SESSION_KEY] = {state: request.user.pk}
            request.session["oidc_login_next"] = reverse("web:account")
        return response


class LinkForm(forms.Form):
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@method_decorator([never_cache, login_required], name="dispatch")
class LinkStartView(LoginStartView):
    """Link the signed-in account (`/oidc/link/`): GET asks for the current password, POST
    checks it (`services.institution_link_authorize`: a stolen session alone must not add
    a way in that a password change would not end) and sends the person to the provider.
    A wrong password is a 400 with the error by the field; past the log-in limits, 429."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.LAURELS_OIDC:
            raise Http404()
        return self.page(request, LinkForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if not settings.LAURELS_OIDC:
            raise Http404()
        form = LinkForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        try:
            services.institution_link_authorize(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                client_ip=client_address(request),
            )
        except ValidationError as error:
            for message in error.message_dict.get("current_password", error.messages):
                form.add_error("current_password", message)
            return self.page(request, form, status=400)
        except RateLimited as error:
            form.add_error(None, error.message)
            response = self.page(request, form, status=error.status)
            response["Retry-After"] = str(error.retry_after)
            return response
        return self.start(request, linking=True)

    def page(self, request: HttpRequest, form: LinkForm, status: int = 200) -> HttpResponse:
        """The form, whose answer redirects to the provider: the browser holds a redirect
        after a form submission to `form-action`, so the policy names the provider too."""
        try:
            target = origin_source(provider().authorization_endpoint)
        except InstitutionUnreachable as error:
            return refused(request, error)
        context = {"form": form, "name": institution_name()}
        response = render(request, "accounts/institution_link.html", context, status=status)
        return allow_sources(response, form_action=[target]) if target else response


def _newest_state(request: HttpRequest) -> str:
    states = request.session["oidc_states"]
    return max(states, key=lambda state: states[state]["added_on"])


@method_decorator(never_cache, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the person back: the library exchanges the code and logs
    in; this view turns every way that can fail into a page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.LAURELS_OIDC:
            raise Http404()
        state = request.GET.get("state", "")
        states = request.session.get("oidc_states")
        known = isinstance(states, dict) and state in states
        if request.GET.get("error"):
            if known:
                del states[state]  # never usable again
                request.session.modified = True
            return refused(request, InstitutionLoginRefused(CANCELLED))
        if not known or not request.GET.get("code"):
            return refused(request, InstitutionLoginRefused(STALE))
        linking = request.session.pop(LINKING_SESSION_KEY, {})
        if state in linking:
            if request.user.pk != linking[state]:
                return refused(request, InstitutionLoginRefused(LINK_INVALID), status=403)
            setattr(request, LINK_TO_ATTRIBUTE, request.user)
        return self._finish(request)

    def _finish(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except DomainError as error:
            return refused(request, error)
        except requests.HTTPError as error:
            answered = error.response is not None and error.response.status_code < 500
            failure = InstitutionLoginRefused() if answered else InstitutionUnreachable()
            return refused(request, failure)
        except requests.RequestException:
            return refused(request, InstitutionUnreachable())
        except (SuspiciousOperation, jwt.PyJWTError, ValueError, KeyError, TypeError):
            return refused(request, InstitutionLoginRefused())

    def login_failure(self) -> HttpResponse:
        return refused(self.request, InstitutionLoginRefused())

    def login_success(self) -> HttpResponse:
        response = super().login_success()
        if getattr(self.request, LINK_TO_ATTRIBUTE, None) is not None:
            name = institution_name()
            messages.success(self.request, f"Your account is linked: you can log in with {name}.")
        return response


@login_required
@require_POST
def unlink(request: HttpRequest) -> HttpResponse:
    """Unlink the provider from the account (only with a password to log in with)."""
    if not settings.LAURELS_OIDC:
        raise Http404()
    try:
        services.institution_unlink(user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{institution_name()} is unlinked from your account.")
    return redirect("web:account")


app_name = "institution"
urlpatterns = [
    path("authenticate/", LoginStartView.as_view(), name="login"),
    path("link/", LinkStartView.as_view(), name="link"),
    path("callback/", CallbackView.as_view(), name="callback"),
    path("unlink/", unlink, name="unlink"),
]
