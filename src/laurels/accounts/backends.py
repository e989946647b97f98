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

from laurels.accounts import services
from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.clients import client_address

# Set on a request whose log-in was refused by a limit (its `Verdict`), for the page.
LOGIN_REFUSED_ATTRIBUTE = "laurels_login_refused"


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

    Every attempt counts in the log-in limits (`accounts.services.login_attempt_count`):
    counted before the password is tried, so that no worker tries more than the limit,
    and taken back when it was right, so that only failures count. An attempt beyond a
    limit is refused without trying the password, and the request is marked
    (`LOGIN_REFUSED_ATTRIBUTE`) for a page to answer 429.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        address = email or username or kwargs.get(User.USERNAME_FIELD)
        if not address or password is None:
            return None
        address = normalize_email_address(address)
        found = (
            EmailAddress.objects.select_related("user").filter(email=address, verified=True).first()
        )
        attempt = services.login_attempt_count(
            account=f"user:{found.user_id}" if found else f"address:{address}",
            client_ip=client_address(request) if request is not None else None,
        )
        if not attempt.allowed:
            if request is not None:
                setattr(request, LOGIN_REFUSED_ATTRIBUTE, attempt.verdict)
            return None
        if found is None:
            # Spend the same time as a real check so timing does not reveal unknown
            # addresses (an unusable password does the same inside check_password).
            User().set_password(password)
            return None
        user = found.user
        if user.check_password(password) and self.user_can_authenticate(user):
            attempt.take_back()
            return user
        if services.password_reset_due(user) and self.user_can_authenticate(user):
            # Moved from another server with a hash no hasher here verifies. The request
            # is not marked: the page answers every failed log-in alike, so that it never
            # tells which addresses were moved here (`services.PASSWORD_RESET_SENT`).
            client_ip = client_address(request) if request is not None else None
            services.password_reset_on_login(user=user, email=address, client_ip=client_ip)
        return None

    def get_user(self, user_id):
        """The session's user, while they may still act: active, with a verified address
        (one query, on every request of a logged-in session)."""
        users = User._default_manager.filter(pk=user_id, is_active=True)
        return with_verified_address(users).first()
