from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.accounts.selectors import user_has_verified_email


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class LoginForm(auth_forms.AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account.",
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not user_has_verified_email(user):
            raise ValidationError(
                format_html(
                    'Please verify your email address first. <a href="{}">Send the link again</a>.',
                    reverse("accounts:resend_verification"),
                ),
                code="unverified",
            )


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(max_length=254)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Send reset links to any verified address of an account, not only the primary."""

    def get_users(self, email: str):
        found = EmailAddress.objects.select_related("user").filter(
            email=normalize_email_address(email), verified=True, user__is_active=True
        )
        for email_address in found:
            if email_address.user.has_usable_password():
                yield email_address.user
