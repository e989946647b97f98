"""Two-factor log-in settings (`/account/two-factor/`): turn it on with an authenticator
app, get recovery codes, renew them, turn it off.

Plain form POSTs with `action` = start | confirm | renew | off; every write goes through
`accounts.services` (docs/accounts.md, "Two-factor log-in"). Confirming (turning it on),
turning it off and new recovery codes ask for the password, which an account without a
usable one (institutional log-in) does not have to give. Recovery codes are shown once,
in the answer to the POST that made them, never again. Who has it and who must:
`accounts.two_factor`.
"""

from __future__ import annotations

from urllib.parse import quote

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from laurels.accounts import services, two_factor
from laurels.core.clients import client_address
from laurels.core.errors import DomainError, RateLimited
from laurels.web.account_forms import Described

TEMPLATE = "web/account_two_factor.html"
QR_LABEL = "QR code of the secret for your authenticator app"


class CodeForm(Described):
    code = forms.CharField(
        label="Code from your app",
        max_length=16,
        help_text="The six digits your authenticator app shows for this account now.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class PasswordForm(Described):
    current_password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ConfirmForm(CodeForm, PasswordForm):
    """The code from the app and the password, which a stolen session alone lacks; no
    password field for an account without a usable one (`for_user`)."""

    field_order = ["code", "current_password"]

    @classmethod
    def for_user(cls, user, data=None) -> ConfirmForm:
        form = cls(data)
        if not user.has_usable_password():
            del form.fields["current_password"]
        return form


def qr_svg(url: str) -> str:
    """The QR code of an `otpauth://` URL as inline SVG: paths and attributes only, no
    style attribute or script, so the strict CSP has nothing to refuse."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=4, border=4, dark="#000", light="#fff", svgclass="qr-code")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{QR_LABEL}" ', 1)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    """The page in its state (off, being set up, on); a POST's `action` changes it."""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    handler = ACTIONS.get(action)
    if request.method == "POST" and handler is None:
        return _page(request, status=400, error="Choose one of the page's buttons.")
    return handler(request) if handler else _page(request)


def _start(request: HttpRequest) -> HttpResponse:
    try:
        services.two_factor_start(user=request.user)
    except ValidationError as error:
        return _page(request, status=400, error=" ".join(error.messages))
    return redirect("web:two_factor")


def _confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm.for_user(request.user, request.POST)
    if form.is_valid():
        try:
            _, codes = services.two_factor_confirm(
                user=request.user,
                code=form.cleaned_data["code"],
                current_password=form.cleaned_data.get("current_password", ""),
                client_ip=client_address(request),
            )
        except ValidationError as error:
            _add_errors(form, error)
        except RateLimited as error:
            form.add_error(None, error.message)
            return _page(request, code_form=form, status=error.status)
        else:
            # Every other session has ended; this one goes on, having given its code.
            two_factor.session_verified(request)
            return _codes_page(request, codes, "Two-factor log-in is on.")
    return _page(request, code_form=form, status=400)


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def _renew(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.POST, prefix="renew")
    if form.is_valid():
        try:
            codes = services.recovery_codes_renew(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                client_ip=client_address(request),
            )
        except ValidationError as error:
            form.add_error("current_password", error.messages)
        except RateLimited as error:
            form.add_error(None, error.message)
            return _page(request, renew_form=form, status=error.status)
        else:
            return _codes_page(
                request, codes, "Your new recovery codes; the old ones no longer work."
            )
    return _page(request, renew_form=form, status=400)


def _off(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.POST, prefix="off")
    if form.is_valid():
        try:
            services.two_factor_disable(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                client_ip=client_address(request),
            )
        except ValidationError as error:
            form.add_error("current_password", error.messages)
        except RateLimited as error:
            form.add_error(None, error.message)
            return _page(request, off_form=form, status=error.status)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Two-factor log-in is off: your password alone logs you in.")
            return redirect("web:two_factor")
    return _page(request, off_form=form, status=400)


ACTIONS = {"start": _start, "confirm": _confirm, "renew": _renew, "off": _off}


def _page(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    """The page in the account's current state, with any form given in `context`."""
    user = request.user
    device = two_factor.totp_device(user)
    pending = None if device else two_factor.totp_device(user, confirmed=False)
    recovery = two_factor.recovery_device(user) if device else None
    context = {
        "device": device,
        "pending": pending,
        "required": two_factor.two_factor_required(user),
        "codes_left": recovery.token_set.count() if recovery else 0,
        "code_form": ConfirmForm.for_user(user),
        "renew_form": PasswordForm(prefix="renew"),
        "off_form": PasswordForm(prefix="off"),
        **context,
    }
    if pending is not None:
        context["qr_svg"] = mark_safe(qr_svg(pending.config_url))  # noqa: S308 (segno's own SVG)
        context["secret"] = two_factor.secret_text(pending)
    return render(request, TEMPLATE, context, status=status)


def _codes_page(request: HttpRequest, codes: list[str], headline: str) -> HttpResponse:
    """The recovery codes, this once, with a download of them as text."""
    text = "\r\n".join(codes) + "\r\n"
    context = {
        "codes": codes,
        "headline": headline,
        "download_href": "data:text/plain;charset=utf-8," + quote(text),
    }
    return render(request, TEMPLATE, context)
