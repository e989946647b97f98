"""Log-in by any of a user's email addresses."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from laurels.accounts.models import EmailAddress, User, normalize_email_address


class EmailAddressBackend(ModelBackend):
    """Authenticate with any address the user holds, verified or not.

    Whether an unverified user may proceed is the log-in form's decision, so that it can
    tell them to verify rather than claim the password was wrong.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        address = email or username or kwargs.get(User.USERNAME_FIELD)
        if not address or password is None:
            return None
        found = (
            EmailAddress.objects.select_related("user")
            .filter(email=normalize_email_address(address))
            .first()
        )
        if found is None:
            # Spend the same time as a real check so timing does not reveal unknown addresses.
            User().set_password(password)
            return None
        user = found.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
