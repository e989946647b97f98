"""Account pages: sign-up, email verification, log-in, log-out, password reset and change.

Plain server-rendered forms; every write goes through `accounts.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from laurels.accounts import services, signals
from laurels.accounts.backends import LOGIN_REFUSED_ATTRIBUTE
from laurels.accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetSetForm,
    ResendVerificationForm,
    SignupForm,
    VerifyWithPasswordForm,
)
from laurels.core.clients import client_address
from laurels.core.errors import DomainError, RateLimited
from laurels.core.ratelimit import raise_if_refused


def _too_many(
    request: HttpRequest, template: str, context: dict, error: RateLimited
) -> HttpResponse:
    """A page refused by a rate limit: 429 (503 when the limits cannot be counted), saying
    when to come back (Retry-After)."""
    response = render(request, template, context, status=error.status)
    response["Retry-After"] = str(error.retry_after)
    return response


def _login_refused(request: HttpRequest) -> RateLimited | None:
    """The refusal of a log-in the authentication backend would not even try (a limit was
    reached while this request was on its way), if it was refused."""
    verdict = getattr(request, LOGIN_REFUSED_ATTRIBUTE, None)
    if verdict is None:
        return None
    try:
        raise_if_refused(verdict, message=services.LOGIN_REFUSED)
    except RateLimited as error:
        return error
    return None


def _add_service_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        target = {"password": "password1"}.get(field, field)
        for message in messages_:
            form.add_error(target if target in form.fields else None, message)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.LAURELS_SIGNUP_ENABLED:
        return render(request, "accounts/signup_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.signup_rate_check(client_ip=client_address(request))
        except RateLimited as error:
            form.add_error(None, error.message)
            return _too_many(request, "accounts/signup.html", {"form": form}, error)
        try:
            services.user_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            return render(
                request, "accounts/signup_done.html", {"email": form.cleaned_data["email"]}
            )
    status = 400 if form.errors else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link asks for the password chosen at sign-up (POST), then verifies the
    address for that sign-up: the link proves the inbox, the password whose sign-up."""
    form = VerifyWithPasswordForm(request.POST or None)
    password = form.cleaned_data["password"] if form.is_valid() else None
    context = {"form": form, "message": services.VerificationNeedsPassword.default_message}
    try:
        email_address = services.email_address_verify(
            token=token, password=password, client_ip=client_address(request)
        )
    except services.VerificationNeedsPassword:
        status = 400 if request.method == "POST" else 200
        return render(request, "accounts/verify_password.html", context, status=status)
    except services.VerificationPasswordWrong as error:
        form.add_error("password", error.message)
        return render(request, "accounts/verify_password.html", context, status=400)
    except RateLimited as error:
        form.add_error(None, error.message)
        return _too_many(request, "accounts/verify_password.html", context, error)
    except DomainError as error:
        return render(
            request, "accounts/verify_failed.html", {"message": error.message}, status=400
        )
    return render(request, "accounts/verify_done.html", {"email_address": email_address})


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = ResendVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_verification_resend(
                email=form.cleaned_data["email"], client_ip=client_address(request)
            )
        except RateLimited as error:
            form.add_error(None, error.message)
            return _too_many(request, "accounts/resend_verification.html", {"form": form}, error)
        messages.info(
            request, "If that address is waiting for verification, a new link is on its way."
        )
        return redirect("accounts:login")
    return render(request, "accounts/resend_verification.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's log-in view with a rate limit per account and per client address."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        """Django puts the request's host in `site_name` (no sites framework here), which
        would hide the configured name the context processor gives every other page."""
        return {**super().get_context_data(**kwargs), "site_name": settings.LAURELS_SITE_NAME}

    def post(self, request, *args, **kwargs):
        try:
            services.login_rate_check(
                email=request.POST.get("username", ""), client_ip=client_address(request)
            )
        except RateLimited as error:
            return self._refused(self.get_form(), error)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if (error := _login_refused(self.request)) is not None:
            return self._refused(form, error)
        if services.moved_accounts_may_be_here():
            form.add_error(None, services.PASSWORD_RESET_SENT)  # for every failure alike
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def _refused(self, form, error: RateLimited) -> HttpResponse:
        """429 (503 when the limits cannot be counted), even for the right password."""
        form.errors.clear()
        form.add_error(None, error.message)
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = error.status
        response["Retry-After"] = str(error.retry_after)
        return response

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        signals.login_page_shown.send(
            sender=type(self), response=response, next_url=self.get_redirect_url()
        )
        return response


def _plain_refusal(error: RateLimited) -> HttpResponse:
    response = HttpResponse(error.message, status=error.status, content_type="text/plain")
    response["Retry-After"] = str(error.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's own log-in page, counted in the same log-in limits as every other
    way in (it would otherwise be a way around them)."""
    if request.method == "POST":
        try:
            services.login_rate_check(
                email=request.POST.get("username", ""), client_ip=client_address(request)
            )
        except RateLimited as error:
            return _plain_refusal(error)
    response = admin.site.login(request)
    if (error := _login_refused(request)) is not None:
        return _plain_refusal(error)
    return response


@require_http_methods(["GET", "POST"])
def admin_password_change(request: HttpRequest) -> HttpResponse:
    """The admin's own change-password page is the account's: one page, whose guesses of
    the current password count in the log-in limits and which ends every other session
    and token (Django's admin page counted nothing)."""
    return redirect("accounts:password_change")


_reset_context = {"extra_email_context": {"base_url": settings.LAURELS_BASE_URL}}


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page, with a limit per address and per client: beyond it no mail
    goes out, and the answer is the same, so it tells nothing about the address."""

    def form_valid(self, form):
        if services.password_reset_allowed(
            email=form.cleaned_data["email"], client_ip=client_address(self.request)
        ):
            return super().form_valid(form)
        return HttpResponseRedirect(self.get_success_url())


password_reset = PasswordResetView.as_view(
    form_class=PasswordResetForm,
    template_name="accounts/password_reset.html",
    email_template_name="accounts/email/password_reset.txt",
    subject_template_name="accounts/email/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
    **_reset_context,
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    form_class=PasswordResetSetForm,
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Change the password: every other session and every app token of the account ends
    (`services.password_set`); this session goes on."""
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["password1"],
                client_ip=client_address(request),
            )
        except RateLimited as error:
            form.add_error(None, error.message)
            return _too_many(request, "accounts/password_change.html", {"form": form}, error)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(
                request, "Your password is changed. You are logged out everywhere else."
            )
            return redirect("web:account")
    status = 400 if form.errors else 200
    return render(request, "accounts/password_change.html", {"form": form}, status=status)
