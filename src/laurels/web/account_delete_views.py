"""Deleting one's own account (`/account/delete/`, issue 17): the page says what goes and
what stays, lists what must be handed over first (an issuer the person alone owns), and
asks for the current password and the primary address typed out. The deletion itself is
`accounts.services.account_delete`; then the person is logged out and told it is done."""

from __future__ import annotations

from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from laurels.accounts import services
from laurels.core.clients import client_address
from laurels.core.errors import RateLimited
from laurels.web.account_forms import Described
from laurels.web.account_views import _add_errors


class AccountDeleteForm(Described):
    """The proof `services.account_delete` asks for. An account without a usable
    password (institutional log-in) has no password field: its address alone confirms."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirmation = forms.CharField(
        label="Your email address",
        max_length=254,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, email: str, needs_password: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirmation"].help_text = f"Type {email}, your primary address, to confirm."
        if not needs_password:
            del self.fields["current_password"]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    """GET: what goes, what stays, what blocks; POST: delete (400 with the errors when the
    proof is wrong, 409 when an issuer still needs the person, 403 for an administrator's
    account, which another administrator deletes, 429 beyond the log-in limits), then log
    out and show the goodbye page."""
    user = request.user
    form = AccountDeleteForm(
        request.POST or None, email=user.email, needs_password=user.has_usable_password()
    )
    blockers = services.account_deletion_blockers_for(user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.account_delete(
                    user=user,
                    password=form.cleaned_data.get("current_password", ""),
                    confirmation=form.cleaned_data["confirmation"],
                    client_ip=client_address(request),
                )
            except ValidationError as error:
                _add_errors(form, error)
            except services.AccountDeletionBlocked as error:
                blockers, status = error.blockers, error.status
            except services.AdminAccountNotSelfDeleted as error:
                status = error.status
            except RateLimited as error:
                form.add_error(None, error.message)
                status = error.status
            else:
                logout(request)
                return redirect("web:account_deleted")
    admin_refusal = (
        services.AdminAccountNotSelfDeleted().message if services.account_is_admin(user) else ""
    )
    context = {"form": form, "blockers": blockers, "admin_refusal": admin_refusal}
    return render(request, "web/account_delete.html", context, status=status)


@never_cache
@require_GET
def account_deleted(request: HttpRequest) -> HttpResponse:
    """Where a deletion ends: nobody is logged in any more, so the page is public (it
    says nothing about anyone)."""
    return render(request, "web/account_deleted.html")
