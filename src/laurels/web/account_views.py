"""Account settings pages (`/account/...`): name, email addresses, the way to the password
page and the other settings, and the download of all one's data. Plain form POSTs; every
write goes through `accounts.services`, every read of the account through its selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from laurels.accounts import selectors, services
from laurels.core.clients import client_address
from laurels.core.errors import RateLimited
from laurels.web import export
from laurels.web.account_forms import EmailAddForm, EmailChoiceForm, NameForm


def _add_errors(form: Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: on the field it names when the form has
    it (`email`, `first_name`...), else on the whole form (`emails`, the list's rules)."""
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


@never_cache
@require_GET
@login_required
def account_home(request: HttpRequest) -> HttpResponse:
    """The settings' start: each part with a line on what it is for."""
    profile = selectors.user_profile(viewer=request.user)
    return render(request, "web/account_home.html", {"profile": profile})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_profile(request: HttpRequest) -> HttpResponse:
    """The person's names (`services.user_profile_update`)."""
    user = request.user
    form = NameForm(
        request.POST or None, initial={"first_name": user.first_name, "last_name": user.last_name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.user_profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Your name is saved.")
            return redirect("web:account_profile")
    status = 400 if form.errors else 200
    return render(request, "web/account_profile.html", {"form": form}, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_emails(request: HttpRequest) -> HttpResponse:
    """The account's addresses: add one (POST `email`), or act on one of them (POST
    `action` = primary, remove or resend, with its `email`). A refusal shows the page
    again with a 400 (429 beyond the mail limits)."""
    add_form, choice_form = EmailAddForm(), EmailChoiceForm()
    status = 200
    if request.method == "POST":
        if "action" in request.POST:
            choice_form = EmailChoiceForm(request.POST)
            done, status = _address_change(request, choice_form)
        else:
            add_form = EmailAddForm(request.POST)
            done, status = _address_add(request, add_form)
        if done:
            return redirect("web:account_emails")
    context = {
        "profile": selectors.user_profile(viewer=request.user),
        "add_form": add_form,
        "choice_form": choice_form,
    }
    return render(request, "web/account_emails.html", context, status=status)


def _address_add(request: HttpRequest, form: EmailAddForm) -> tuple[bool, int]:
    if not form.is_valid():
        return False, 400
    try:
        services.own_email_address_add(
            user=request.user, email=form.cleaned_data["email"], client_ip=client_address(request)
        )
    except ValidationError as error:
        _add_errors(form, error)
        return False, 400
    messages.success(
        request,
        f"Added {form.cleaned_data['email']}. Follow the link we emailed to it to verify it.",
    )
    return True, 200


_DONE = {
    "primary": "{email} is now your primary address.",
    "remove": "Removed {email}.",
    "resend": "A new link is on its way to {email}.",
}


def _address_change(request: HttpRequest, form: EmailChoiceForm) -> tuple[bool, int]:
    if not form.is_valid():
        return False, 400
    email, action = form.cleaned_data["email"], form.cleaned_data["action"]
    try:
        if action == "primary":
            services.own_email_address_make_primary(user=request.user, email=email)
        elif action == "remove":
            services.own_email_address_remove(user=request.user, email=email)
        else:
            services.own_email_verification_resend(
                user=request.user, email=email, client_ip=client_address(request)
            )
    except ValidationError as error:
        _add_errors(form, error)
        return False, 400
    except RateLimited as error:
        form.add_error(None, error.message)
        return False, error.status
    messages.success(request, _DONE[action].format(email=email))
    return True, 200


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_export(request: HttpRequest) -> HttpResponse:
    """The "Your data" page says what the zip holds; its button (a POST, so that no other
    site can make a browser build one) answers the zip (`web.export`)."""
    if request.method == "POST":
        try:
            return export.export_response(request.user)
        except (export.ExportTooLarge, RateLimited) as error:
            return render(
                request, "web/account_export.html", {"error": error.message}, status=error.status
            )
    return render(request, "web/account_export.html")
