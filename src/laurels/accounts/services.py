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
from laurels.core.errors import Conflict, DomainError, RateLimited
from laurels.core.ratelimit import rate_limit_hit

logger = logging.getLogger(__name__)

EMAIL_VERIFICATION_SALT = "laurels.accounts.email-verification"
NAME_MAX_LENGTH = 150


class EmailAddressTaken(Conflict):
    default_message = "An account with this email address already exists."


class VerificationLinkInvalid(DomainError):
    default_message = "This verification link is invalid or has expired."


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
    `verified=True` is for admins and scripts that vouch for the address themselves.
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
    if EmailAddress.objects.filter(email=address).exists():
        raise EmailAddressTaken()
    user.set_password(password)
    user.save()
    EmailAddress.objects.create(
        user=user,
        email=address,
        primary=True,
        verified=verified,
        verified_at=timezone.now() if verified else None,
    )
    return user


def _release_unverified_claim(address: str) -> None:
    """Free an address that somebody registered but never proved they own.

    Without this anyone could block a person from signing up by registering their
    address first. An account that has no verified address at all is removed whole.
    """
    claim = EmailAddress.objects.select_related("user").filter(email=address, verified=False)
    for email_address in claim:
        owner = email_address.user
        if not owner.email_addresses.filter(verified=True).exists():
            owner.delete()
        else:
            email_address.delete()


@transaction.atomic
def user_signup(*, email: str, password: str, first_name: str = "", last_name: str = "") -> None:
    """Register a new account and email its verification link.

    The answer is the same whether or not the address already belongs to an account, so
    that sign-up cannot be used to learn who has one; the owner of an existing account is
    told by email instead.
    """
    address = _clean_email(email)
    existing = EmailAddress.objects.select_related("user").filter(email=address).first()
    if existing is not None and existing.verified:
        _send_on_commit(
            address,
            "accounts/email/account_exists",
            {"user": existing.user, "reset_url": _absolute(reverse("accounts:password_reset"))},
        )
        return
    _release_unverified_claim(address)
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
    _send_on_commit(
        email_address.email,
        "accounts/email/verify_email",
        {
            "user": email_address.user,
            "verify_url": link,
            "valid_hours": settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE // 3600,
        },
    )


def email_verification_resend(*, email: str, client_ip: str) -> None:
    """Send a fresh link if the address is waiting for verification; silent otherwise."""
    login_rate_check(email=email, client_ip=client_ip, scope="verification-resend")
    address = normalize_email_address(email)
    pending = EmailAddress.objects.select_related("user").filter(email=address, verified=False)
    for email_address in pending:
        email_verification_send(email_address=email_address)


@transaction.atomic
def email_address_verify(*, token: str) -> EmailAddress:
    try:
        claim = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.BadSignature:  # includes SignatureExpired
        raise VerificationLinkInvalid() from None
    email_address = (
        EmailAddress.objects.select_for_update()
        .select_related("user")
        .filter(pk=claim.get("id"), email=claim.get("email"))
        .first()
    )
    if email_address is None:
        raise VerificationLinkInvalid()
    if not email_address.verified:
        email_address.verified = True
        email_address.verified_at = timezone.now()
        email_address.save(update_fields=["verified", "verified_at"])
    return email_address


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


def login_rate_check(*, email: str, client_ip: str, scope: str = "login") -> None:
    """Count a log-in attempt and refuse it beyond the per-account or per-client limit."""
    window = settings.LAURELS_LOGIN_RATE_WINDOW
    checks = [
        (
            f"{scope}:account",
            normalize_email_address(email or ""),
            settings.LAURELS_LOGIN_RATE_PER_ACCOUNT,
        ),
        (f"{scope}:ip", client_ip or "unknown", settings.LAURELS_LOGIN_RATE_PER_IP),
    ]
    for bucket, key, limit in checks:
        allowed, retry_after = rate_limit_hit(bucket, key, limit=limit, window=window)
        if not allowed:
            minutes = max(1, -(-retry_after // 60))
            raise RateLimited(
                f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                retry_after=retry_after,
            )


def _absolute(path: str) -> str:
    return f"{settings.LAURELS_BASE_URL}{path}"


def _send_on_commit(to: str, template: str, context: dict) -> None:
    """Render now, send after commit: a rolled-back sign-up sends nothing."""
    context = {**context, "base_url": settings.LAURELS_BASE_URL}
    subject = render_to_string(f"{template}_subject.txt", context).strip()
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
