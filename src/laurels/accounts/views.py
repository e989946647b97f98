"""Account pages: sign-up, email verification, log-in, log-out and password reset.

Plain server-rendered forms; every write goes through `accounts.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from laurels.accounts import services
from laurels.accounts.forms import LoginForm, PasswordResetForm, ResendVerificationForm, SignupForm
from laurels.connect.views import allow_redirect_after_login
from laurels.core.errors import DomainError, RateLimited


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


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


@require_http_methods(["GET"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        email_address = services.email_address_verify(token=token)
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
                email=form.cleaned_data["email"], client_ip=client_ip(request)
            )
        except RateLimited as error:
            form.add_error(None, error.message)
            return render(request, "accounts/resend_verification.html", {"form": form}, status=429)
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

    def post(self, request, *args, **kwargs):
        try:
            services.login_rate_check(
                email=request.POST.get("username", ""), client_ip=client_ip(request)
            )
        except RateLimited as error:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, error.message)
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(error.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        return allow_redirect_after_login(response, self.get_redirect_url())


_reset_context = {"extra_email_context": {"base_url": settings.LAURELS_BASE_URL}}

password_reset = auth_views.PasswordResetView.as_view(
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
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
