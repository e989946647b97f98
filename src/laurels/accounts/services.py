"""Every change to users and email addresses goes through these functions."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.accounts.signals import email_address_verified, password_changed
from laurels.core.errors import Conflict, DomainError
from laurels.core.ratelimit import Limit, address_key, enforce_limits, within_limits

logger = logging.getLogger(__name__)

EMAIL_VERIFICATION_SALT = "laurels.accounts.email-verification"
NAME_MAX_LENGTH = 150


class EmailAddressTaken(Conflict):
    default_message = "An account with this email address already exists."


class VerificationLinkInvalid(DomainError):
    default_message = "This verification link is invalid or has expired."


class VerificationNeedsPassword(DomainError):
    """The address was signed up for by more than one account, so the link alone does not
    say whose sign-up it confirms: its owner must show they chose that account's password
    (whoever reads the inbox gets every claimant's link, the attacker's included)."""

    default_message = (
        "More than one account was signed up with this address. Enter the password you "
        "chose when you signed up, to confirm that this account is yours."
    )


def _clean_email(email: str) -> str:
    address = normalize_email_address(email or "")
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": ["Enter a valid email address."]}) from None
    return address


def _clean_name(field: str, value: str) -> str:
    value = (value or "").strip()
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError({field: [f"At most {NAME_MAX_LENGTH} characters."]})
    return value


def _check_password(password: str | None, user: User) -> None:
    if password is None:
        return
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    verified: bool = False,
    is_admin: bool = False,
) -> User:
    """Create a user and their primary email address.

    `password=None` makes an account that cannot log in with a password (until reset).
    `verified=True` is for admins and scripts that vouch for the address themselves; it
    takes the address from any account that only claimed it. An unverified account may
    claim an address others claim too (see `accounts.models`), but not one already proven.
    """
    address = _clean_email(email)
    user = User(
        email=address,
        first_name=_clean_name("first_name", first_name),
        last_name=_clean_name("last_name", last_name),
        is_staff=is_admin,
        is_superuser=is_admin,
    )
    _check_password(password, user)
    if EmailAddress.objects.filter(email=address, verified=True).exists():
        raise EmailAddressTaken()
    user.set_password(password)
    user.save()
    claim = EmailAddress.objects.create(user=user, email=address, primary=True)
    if verified:
        _email_address_prove(claim)
    return user


@transaction.atomic
def user_signup(*, email: str, password: str, first_name: str = "", last_name: str = "") -> None:
    """Register a new account and email its verification link.

    The answer is the same whether or not the address already belongs to an account, so
    that sign-up cannot be used to learn who has one; the owner of an existing account is
    told by email instead. An address somebody signed up with but never proved stays
    open: this sign-up claims it beside theirs, every claimant's link keeps working, and
    whoever proves the address first gets it (`email_address_verify`).
    """
    address = _clean_email(email)
    holder = EmailAddress.objects.select_related("user").filter(email=address, verified=True)
    if (existing := holder.first()) is not None:
        email_send_on_commit(
            address,
            "accounts/email/account_exists",
            {"user": existing.user, "reset_url": _absolute(reverse("accounts:password_reset"))},
        )
        return
    user = user_create(email=address, password=password, first_name=first_name, last_name=last_name)
    email_verification_send(email_address=user.email_addresses.get(email=address))


def email_verification_token(email_address: EmailAddress) -> str:
    """A signed, timestamped token naming the address; no database row is needed."""
    return signing.dumps(
        {"id": email_address.pk, "email": email_address.email}, salt=EMAIL_VERIFICATION_SALT
    )


def email_verification_send(*, email_address: EmailAddress) -> None:
    token = email_verification_token(email_address)
    link = _absolute(reverse("accounts:verify_email", kwargs={"token": token}))
    email_send_on_commit(
        email_address.email,
        "accounts/email/verify_email",
        {
            "user": email_address.user,
            "verify_url": link,
            "valid_hours": settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE // 3600,
        },
    )


def email_verification_resend(*, email: str, client_ip: str | None) -> None:
    """Send a fresh link if the address is waiting for verification; silent otherwise."""
    login_rate_check(email=email, client_ip=client_ip, scope="verification-resend")
    address = normalize_email_address(email)
    pending = EmailAddress.objects.select_related("user").filter(email=address, verified=False)
    for email_address in pending:
        email_verification_send(email_address=email_address)


def email_address_verify(*, token: str, password: str | None = None) -> EmailAddress:
    """Verify the address the emailed link names, for the account that claimed it.

    When other accounts claim the same address, the link's owner must also give this
    account's password (`VerificationNeedsPassword`): every claimant's link lands in the
    same inbox, and opening the wrong one must not hand the address to somebody else.
    """
    claim = _verification_claim(token)
    email_address = (
        EmailAddress.objects.select_related("user")
        .filter(pk=claim.get("id"), email=claim.get("email"))
        .first()
    )
    if email_address is None:
        raise VerificationLinkInvalid()
    if email_address.verified:
        return email_address
    contested = (
        EmailAddress.objects.filter(email=email_address.email)
        .exclude(user_id=email_address.user_id)
        .exists()
    )
    if contested and not (password and email_address.user.check_password(password)):
        raise VerificationNeedsPassword()
    return _email_address_prove(email_address)


def _verification_claim(token: str) -> dict:
    try:
        claim = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.BadSignature:  # includes SignatureExpired
        raise VerificationLinkInvalid() from None
    if not isinstance(claim, dict):
        raise VerificationLinkInvalid()
    return claim


@transaction.atomic
def _email_address_prove(email_address: EmailAddress) -> EmailAddress:
    """Make `email_address` its account's verified address and withdraw every other
    account's claim to it; tell the apps that wait for the proof (`email_address_verified`).

    Every claim to the address is locked first, so of two accounts proving the same
    address at once one wins and the other's claim is gone (its link then fails).
    """
    claims = {
        claim.pk: claim
        for claim in EmailAddress.objects.select_for_update()
        .select_related("user")
        .filter(email=email_address.email)
    }
    proven = claims.pop(email_address.pk, None)
    if proven is None or any(claim.verified for claim in claims.values()):
        raise VerificationLinkInvalid()
    if not proven.verified:
        proven.verified = True
        proven.verified_at = timezone.now()
        proven.save(update_fields=["verified", "verified_at"])
    for claim in claims.values():
        _claim_withdraw(claim)
    email_address_verified.send(sender=EmailAddress, email_address=proven)
    return proven


def _claim_withdraw(claim: EmailAddress) -> None:
    """Remove an unproven claim to an address another account has just proven.

    An account that was nothing but this claim (no other address, never logged in) was
    only ever a sign-up for the address and goes with it. Any other account keeps its
    other addresses, one of which becomes primary if this one was.
    """
    user = claim.user
    others = user.email_addresses.exclude(pk=claim.pk)
    if user.last_login is None and not others.exists():
        user.delete()
        return
    claim.delete()
    if claim.primary and (successor := others.order_by("-verified", "created_at").first()):
        successor.primary = True
        successor.save(update_fields=["primary"])
        user_primary_email_sync(user=user)


def user_profile_update(
    *, user: User, first_name: str | None = None, last_name: str | None = None
) -> User:
    """Change the names given; a name left as None stays as it is."""
    changed = []
    if first_name is not None:
        user.first_name = _clean_name("first_name", first_name)
        changed.append("first_name")
    if last_name is not None:
        user.last_name = _clean_name("last_name", last_name)
        changed.append("last_name")
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    return user


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    keep_access_token_id: int | None = None,
) -> None:
    """Change the password of a logged-in user who proves they know the current one (a
    stolen session or token alone must not lock the owner out). See `password_set`."""
    if not user.check_password(current_password or ""):
        raise ValidationError({"current_password": ["This is not your current password."]})
    password_set(user=user, password=new_password, keep_access_token_id=keep_access_token_id)


@transaction.atomic
def password_set(*, user: User, password: str, keep_access_token_id: int | None = None) -> None:
    """Give `user` a new password and end every credential made with the old one.

    Sessions end because Django derives each session's hash from the password hash (the
    session the change was made in, if any, is renewed by its view with
    `update_session_auth_hash`). OAuth tokens end through `password_changed`, in this
    transaction: all of them but the access token `keep_access_token_id` (the one the
    change was made with) and its refresh token. The owner is told by email, so that a
    change they did not make does not go unnoticed.
    """
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    password_changed.send(sender=User, user=user, keep_access_token_id=keep_access_token_id)
    email_send_on_commit(
        user.email,
        "accounts/email/password_changed",
        {"user": user, "reset_url": _absolute(reverse("accounts:password_reset"))},
    )


def login_rate_check(*, email: str, client_ip: str | None, scope: str = "login") -> None:
    """Count a log-in attempt and refuse it beyond the per-account or per-client limit.

    The log-in page and the password grant at /o/token count in the same "login"
    counters, so neither is a way around the other's limit.
    """
    window = settings.LAURELS_LOGIN_RATE_WINDOW
    enforce_limits(
        Limit(
            f"{scope}:account",
            normalize_email_address(email or ""),
            settings.LAURELS_LOGIN_RATE_PER_ACCOUNT,
            window,
        ),
        Limit(f"{scope}:ip", address_key(client_ip), settings.LAURELS_LOGIN_RATE_PER_IP, window),
        message="Too many attempts. Try again in {wait}.",
    )


def password_reset_allowed(*, email: str, client_ip: str | None) -> bool:
    """Count a password-reset request; False beyond the per-address or per-client limit.

    The caller then sends no mail but answers as it always does, so the limit neither
    floods an inbox nor tells whether the address has an account.
    """
    window = settings.LAURELS_PASSWORD_RESET_RATE_WINDOW
    verdict = within_limits(
        Limit(
            "password-reset:account",
            normalize_email_address(email or ""),
            settings.LAURELS_PASSWORD_RESET_RATE_PER_ACCOUNT,
            window,
        ),
        Limit(
            "password-reset:ip",
            address_key(client_ip),
            settings.LAURELS_PASSWORD_RESET_RATE_PER_IP,
            window,
        ),
    )
    return verdict.allowed


def signup_rate_check(*, client_ip: str | None) -> None:
    """Count a sign-up from `client_ip`; refuse it beyond the per-client limit (each one
    is an account and a mail). Call it before `user_signup`, outside its transaction."""
    enforce_limits(
        Limit(
            "signup:ip",
            address_key(client_ip),
            settings.LAURELS_SIGNUP_RATE_PER_IP,
            settings.LAURELS_SIGNUP_RATE_WINDOW,
        ),
        message="Too many sign-ups from your address. Try again in {wait}.",
    )


def _absolute(path: str) -> str:
    return f"{settings.LAURELS_BASE_URL}{path}"


def email_send_on_commit(to: str, template: str, context: dict) -> None:
    """Render now, send after commit: a rolled-back sign-up sends nothing.

    The one way Laurels' own emails leave (accounts, staff invitations): `template` names
    a pair of templates, `<template>_subject.txt` and `<template>.txt`."""
    context = {**context, "base_url": settings.LAURELS_BASE_URL}
    # One line whatever the names in it hold: a line break in a subject is refused by
    # Django's mail (BadHeaderError) after the commit.
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}.txt", context)

    def send() -> None:
        try:
            send_mail(subject, body, None, [to])
        except OSError:
            logger.exception("Could not send %s to %s", template, to)

    transaction.on_commit(send)


def user_primary_email_sync(*, user: User) -> User:
    """Make `User.email` mirror the primary address after addresses were edited directly."""
    primary = user.email_addresses.filter(primary=True).first()
    if primary is not None and primary.email != user.email:
        user.email = primary.email
        user.save(update_fields=["email", "updated_at"])
    return user
