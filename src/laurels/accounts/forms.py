from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from laurels.accounts import services
from laurels.accounts.models import EmailAddress, normalize_email_address
from laurels.jobs.mail import mail_send


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
    """Only a verified address logs in (`accounts.backends`). A refusal never says
    whether the address was signed up for, so it always says how to verify."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def get_invalid_login_error(self) -> ValidationError:
        return ValidationError(
            format_html(
                "That email address and password do not match an account. If you have just "
                'signed up, please verify your email address first (<a href="{}">send the link '
                "again</a>).",
                reverse("accounts:resend_verification"),
            ),
            code="invalid_login",
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

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        """Through the outbox like every mail Laurels sends (`laurels.jobs.mail`): the
        templates are the pair `<name>_subject.txt` and `<name>.txt`."""
        name = email_template_name.removesuffix(".txt")
        if subject_template_name != f"{name}_subject.txt":
            raise ValueError("The reset mail's templates must be a pair.")
        mail_send(to_email, name, context)


def _password_field(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": autocomplete})
    )


class PasswordChangeForm(forms.Form):
    """The change-password page; the view hands the values to `services.password_change`,
    which checks the current password and the new one."""

    current_password = _password_field("Current password", "current-password")
    password1 = _password_field("New password", "new-password")
    password2 = _password_field("New password again", "new-password")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class PasswordResetSetForm(auth_forms.SetPasswordForm):
    """Django's form behind an emailed reset link, saving through `services.password_set`
    so that a reset ends every session and token of the account."""

    def save(self, commit: bool = True):
        services.password_set(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class VerifyWithPasswordForm(forms.Form):
    """Confirms whose sign-up a verification link is for (`services.VerificationNeedsPassword`)."""

    password = _password_field("The password you chose when you signed up", "current-password")
