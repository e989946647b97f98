"""Log-in by any of a user's verified email addresses.

Every way into Laurels authenticates here: the log-in page (and so the authorization-code
flow, which sends people to it), Badgr's password grant at `/o/token` (the toolkit's
`validate_user` calls `authenticate()`), the admin's log-in, and every request of a
logged-in session (`get_user`). So the rule that only a proven address lets anybody in
is kept in this one place.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef

from laurels.accounts.models import EmailAddress, User, normalize_email_address


def with_verified_address(users):
    """The users among `users` who hold at least one verified address: nobody else may
    act as an account (see `accounts.models` on unverified claims)."""
    verified = EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)
    return users.filter(Exists(verified))


def user_may_act(user: User) -> bool:
    """Whether `user` may still act as an account (active, with a verified address):
    for credentials issued earlier, such as refresh tokens, checked again when used."""
    return with_verified_address(User._default_manager.filter(pk=user.pk, is_active=True)).exists()


class EmailAddressBackend(ModelBackend):
    """Authenticate with a verified address and the password.

    An address nobody has verified names no account, whoever claimed it: several
    sign-ups may claim it, and a sign-up that was never proven must get no token, no
    session and no issuer. The log-in page says how to verify (`LoginForm`) without
    saying whether the address was signed up for.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        address = email or username or kwargs.get(User.USERNAME_FIELD)
        if not address or password is None:
            return None
        found = (
            EmailAddress.objects.select_related("user")
            .filter(email=normalize_email_address(address), verified=True)
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

    def get_user(self, user_id):
        """The session's user, while they may still act: active, with a verified address
        (one query, on every request of a logged-in session)."""
        users = User._default_manager.filter(pk=user_id, is_active=True)
        return with_verified_address(users).first()
