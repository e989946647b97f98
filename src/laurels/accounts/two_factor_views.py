"""The log-in's second step (`/accounts/login/code/`): a code from the authenticator app,
or a recovery code, for a session that gave the right password.

`accounts.two_factor.TwoFactorMiddleware` sends every page of a session that owes its
code here, with `next` naming where it was going; wrong codes are limited per account and
client address (`services.two_factor_login_verify`).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from laurels.accounts import services, signals, two_factor
from laurels.core.clients import client_address
from laurels.core.errors import RateLimited

TEMPLATE = "accounts/login_code.html"


class LoginCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="Six digits from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "spellcheck": "false"}
        ),
    )


def _next_url(request: HttpRequest) -> str:
    """Where the log-in goes on to: `next` when it stays on this site, else home."""
    wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if safe else resolve_url(settings.LOGIN_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _next_url(request)
    if not user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if two_factor.step_owed(request) != two_factor.STEP_CODE:
        return redirect(next_url)
    form = LoginCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.two_factor_login_verify(
                user=user, code=form.cleaned_data["code"], client_ip=client_address(request)
            )
        except RateLimited as error:
            form.add_error(None, error.message)
            response = _render(request, form, next_url, status=error.status)
            response["Retry-After"] = str(error.retry_after)
            return response
        except ValidationError as error:
            form.add_error("code", error.message_dict["code"])
        else:
            two_factor.session_verified(request)
            return redirect(next_url)
    return _render(request, form, next_url, status=400 if form.errors else 200)


def _render(request: HttpRequest, form: LoginCodeForm, next_url: str, *, status: int):
    response = render(request, TEMPLATE, {"form": form, "next": next_url}, status=status)
    # Like the log-in page: the redirect after the code may end at an app already
    # approved, and the form's CSP must let it (`connect` opens it).
    signals.login_page_shown.send(sender=LoginCodeForm, response=response, next_url=next_url)
    return response
