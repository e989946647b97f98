"""Every change to users and email addresses goes through these functions."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import django_otp
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import identify_hasher, is_password_usable
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from laurels.accounts import signals, two_factor
from laurels.accounts.models import (
    EmailAddress,
    InstitutionLink,
    User,
    normalize_email_address,
)
from laurels.accounts.signals import account_deleting, account_deletion_blockers
from laurels.core.errors import Conflict, DomainError, PermissionDenied
from laurels.core.ratelimit import (
    CountedAttempt,
    Limit,
    address_key,
    attempt_count,
    enforce_limits,
    limits_reached,
    raise_if_refused,
    within_limits,
)
from laurels.jobs.mail import mail_send
from laurels.jobs.models import OutboxMail

EMAIL_VERIFICATION_SALT = "laurels.accounts.email-verification"
NAME_MAX_LENGTH = 150
# Sign-ups that may wait for proof of one address at a time; a new one drops the oldest,
# so that sign-ups cannot pile up rows (and their links, mail) for somebody's address.
PENDING_CLAIMS_PER_ADDRESS = 3
LOGIN_REFUSED = "Too many attempts. Try again in {wait}."


class EmailAddressTaken(Conflict):
    default_message = "An account with this email address already exists."


class VerificationLinkInvalid(DomainError):
    default_message = "This verification link is invalid or has expired."


class AddressAlreadyVerified(VerificationLinkInvalid):
    """The link's address is proven already (by this sign-up or another): it proves
    nothing more, and says nothing about whose it is."""

    default_message = (
        "This address is verified already. If it is yours, log in with it, or reset "
        "the password if you cannot."
    )


class VerificationNeedsPassword(DomainError):
    """A verification link proves that its opener reads mail at the address, not whose
    sign-up it is: anyone may sign up with anyone's address, and one click on a link
    they did not expect must not hand that sign-up the address (pre-hijacking). So the
    link always asks for the password chosen at the sign-up it confirms."""

    default_message = (
        "Enter the password you chose when you signed up, to confirm that this sign-up is yours."
    )


class VerificationPasswordWrong(DomainError):
    default_message = (
        "This is not the password of a sign-up waiting for this address. If you signed up "
        "a while ago, your sign-up may have expired: sign up again."
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
        mail_send(
            address,
            "accounts/email/account_exists",
            {"user": existing.user, "reset_url": _absolute(reverse("accounts:password_reset"))},
        )
        return
    user_create(email=address, password=password, first_name=first_name, last_name=last_name)
    _pending_claims_trim(address)
    email_verification_send(address=address)


def _pending_claims(address: str, *, by_accounts: bool) -> QuerySet[EmailAddress]:
    """The claims waiting for proof of `address`, newest first: those of sign-ups (whose
    account holds no verified address yet) or, `by_accounts`, those of existing accounts
    adding it (PUT /v2/users/self). The two are kept apart, so that neither kind can push
    the other's claims out of `_pending_claims_trim` or `email_address_verify`."""
    has_verified = Exists(EmailAddress.objects.filter(user=OuterRef("user"), verified=True))
    pending = EmailAddress.objects.select_related("user").filter(email=address, verified=False)
    pending = pending.filter(has_verified) if by_accounts else pending.exclude(has_verified)
    return pending.order_by("-created_at", "-pk")


def _pending_claims_trim(address: str) -> None:
    """Keep the newest `PENDING_CLAIMS_PER_ADDRESS` sign-ups waiting for proof of `address`
    and withdraw the older ones, so that sign-ups (and their links, mail) cannot pile up.
    Only a sign-up (counted by `signup_rate_check`) trims, and only sign-ups: a claim an
    existing account makes never withdraws anybody's (`_address_claim`)."""
    for dropped in _pending_claims(address, by_accounts=False)[PENDING_CLAIMS_PER_ADDRESS:]:
        _claim_withdraw(dropped)


def email_verification_token(address: str) -> str:
    """A signed, timestamped token naming the address; no database row is needed. It
    proves that whoever opens it reads mail there, and serves every sign-up waiting for
    the address: the password given with it says whose (`email_address_verify`)."""
    return signing.dumps({"email": address}, salt=EMAIL_VERIFICATION_SALT)


def email_verification_send(*, address: str) -> None:
    """Mail one verification link for `address`; the claims waiting for it live on until
    that link expires (`unverified_claims_expire`). The mail names no sign-up, so that
    nobody's sign-up can put words of theirs in somebody else's inbox."""
    EmailAddress.objects.filter(email=address, verified=False).update(
        verification_sent_at=timezone.now()
    )
    token = email_verification_token(address)
    link = _absolute(reverse("accounts:verify_email", kwargs={"token": token}))
    mail_send(
        address,
        "accounts/email/verify_email",
        {"verify_url": link, "valid_hours": settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE // 3600},
    )


def email_verification_resend(*, email: str, client_ip: str | None) -> None:
    """Send one fresh link if the address is waiting for verification (however many
    sign-ups wait for it); silent otherwise. RateLimited beyond the resend limits."""
    address = normalize_email_address(email)
    enforce_limits(
        *_verification_mail_limits(address, client_ip),
        message="Too many requests for a new link. Try again in {wait}.",
    )
    with transaction.atomic():
        if EmailAddress.objects.filter(email=address, verified=False).exists():
            email_verification_send(address=address)


def _verification_mail_limits(address: str, client_ip: str | None) -> tuple[Limit, ...]:
    """How many verification mails an address, and a client address, may cause: whether
    asked for again (`email_verification_resend`) or by adding the address to an account
    (`email_addresses_replace`), which share these counters."""
    window = settings.LAURELS_VERIFICATION_RESEND_RATE_WINDOW
    return (
        Limit(
            "verification-resend:account",
            address,
            settings.LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT,
            window,
        ),
        Limit(
            "verification-resend:ip",
            address_key(client_ip),
            settings.LAURELS_VERIFICATION_RESEND_RATE_PER_IP,
            window,
        ),
    )


def email_address_verify(
    *, token: str, password: str | None, client_ip: str | None = None
) -> EmailAddress:
    """Verify the address the emailed link names, for the sign-up whose password is given.

    The link alone proves only that its opener reads the inbox; the password says which
    sign-up they made (`VerificationNeedsPassword` without one). A wrong password counts
    as a failed log-in of the address from `client_ip` (RateLimited beyond the limits),
    and is `VerificationPasswordWrong`. A link to an address proven already is
    `AddressAlreadyVerified`, whoever proved it.
    """
    address = _verification_address(token)
    if EmailAddress.objects.filter(email=address, verified=True).exists():
        raise AddressAlreadyVerified()
    claims = [
        *_pending_claims(address, by_accounts=False)[:PENDING_CLAIMS_PER_ADDRESS],
        *_pending_claims(address, by_accounts=True)[:PENDING_CLAIMS_PER_ADDRESS],
    ]
    if not claims:
        raise VerificationLinkInvalid()
    if not password:
        raise VerificationNeedsPassword()
    attempt = _login_attempt(account=login_account_key(address), client_ip=client_ip)
    for claim in claims:
        if claim.user.check_password(password):
            attempt.take_back()
            return _email_address_prove(claim)
    raise VerificationPasswordWrong()


def _verification_address(token: str) -> str:
    try:
        claim = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.BadSignature:  # includes SignatureExpired
        raise VerificationLinkInvalid() from None
    if not isinstance(claim, dict) or not isinstance(claim.get("email"), str):
        raise VerificationLinkInvalid()
    return claim["email"]


@transaction.atomic
def _email_address_prove(email_address: EmailAddress) -> EmailAddress:
    """Make `email_address` its account's verified address and withdraw every other
    account's claim to it.

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
    return proven


def _claim_withdraw(claim: EmailAddress) -> None:
    """Remove an unproven claim to an address another account has just proven.

    An account that was nothing but this claim (no other address, never logged in) was
    only ever a sign-up for the address and goes with it. Any other account keeps its
    other addresses, one of which becomes primary if this one was.
    """
    user = claim.user
    if user.last_login is None and not user.email_addresses.exclude(pk=claim.pk).exists():
        user.delete()
        return
    _address_remove(claim)


def _address_remove(email_address: EmailAddress) -> None:
    """Delete an address of an account that keeps others; if it was the primary one, the
    oldest remaining address (a verified one first) becomes primary, and `User.email`
    follows."""
    email_address.delete()
    others = EmailAddress.objects.filter(user_id=email_address.user_id)
    if email_address.primary and (successor := others.order_by("-verified", "created_at").first()):
        successor.primary = True
        successor.save(update_fields=["primary"])
        user_primary_email_sync(user=successor.user)


def unverified_claims_expire() -> int:
    """Delete the claims nobody proved whose last verification link has expired, with
    their accounts when that claim was all they were (`_claim_withdraw`); how many.
    A periodic job (`laurels.jobs.periodic`): unproven sign-ups must not pile up."""
    cutoff = timezone.now() - timedelta(seconds=settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE)
    expired = EmailAddress.objects.filter(verified=False, verification_sent_at__lt=cutoff)
    count = 0
    for claim_id in expired.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            claim = (
                EmailAddress.objects.select_for_update()
                .select_related("user")
                .filter(pk=claim_id, verified=False, verification_sent_at__lt=cutoff)
                .first()
            )
            if claim is not None:
                _claim_withdraw(claim)
                count += 1
    return count


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


# --- what people change on their own account (PUT /v2/users/self) --------------------------

# Addresses one account may hold when it chooses them itself: each new one is a mail.
ADDRESSES_PER_ACCOUNT = 20


@dataclass(frozen=True)
class AddressWanted:
    """One item of Badgr's `emails` list: an address the account is to hold."""

    email: str
    primary: bool = False


@dataclass(frozen=True)
class PasswordChange:
    current: str
    new: str
    keep_access_token_id: int | None = None


def own_account_update(
    *,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    emails: Sequence[AddressWanted] | None = None,
    password: PasswordChange | None = None,
    client_ip: str | None = None,
) -> User:
    """A person's own change to their account, all of it or none (one transaction): names
    (None keeps one), the list of addresses (`email_addresses_replace`; None keeps them)
    and the password (`password_change`). The current password is checked, and a wrong
    one counted as a failed log-in, before the transaction: a refusal of the rest must
    not take back the count."""
    if password is not None:
        password_current_check(user=user, current_password=password.current, client_ip=client_ip)
    with transaction.atomic():
        if password is not None:
            password_set(
                user=user, password=password.new, keep_access_token_id=password.keep_access_token_id
            )
        user_profile_update(user=user, first_name=first_name, last_name=last_name)
        if emails is not None:
            email_addresses_replace(user=user, wanted=emails, client_ip=client_ip)
    return user


def _wanted_addresses(wanted: Sequence[AddressWanted]) -> tuple[dict[str, bool], str]:
    """The addresses asked for (normalized, each once) with their primary flag, and the
    primary one. As in Badgr: at least one, and exactly one primary (ValidationError)."""
    addresses: dict[str, bool] = {}
    for item in wanted:
        try:
            address = _clean_email(item.email)
        except ValidationError:
            raise ValidationError(
                {"emails": [f"Not a valid email address: {item.email}"]}
            ) from None
        addresses[address] = addresses.get(address, False) or item.primary
    if not addresses:
        raise ValidationError({"emails": ["Give at least one email address."]})
    if len(addresses) > ADDRESSES_PER_ACCOUNT:
        raise ValidationError({"emails": [f"At most {ADDRESSES_PER_ACCOUNT} addresses."]})
    primaries = [address for address, primary in addresses.items() if primary]
    if len(primaries) != 1:
        raise ValidationError({"emails": ["Mark exactly one address as primary."]})
    return addresses, primaries[0]


def email_addresses_unchanged(*, user: User, wanted: Sequence[AddressWanted]) -> bool:
    """Whether `wanted` is what the account holds already (the same addresses, the same
    primary one): a client sending back the profile it read changes nothing."""
    try:
        addresses, _ = _wanted_addresses(wanted)
    except ValidationError:
        return False
    return addresses == dict(user.email_addresses.values_list("email", "primary"))


@transaction.atomic
def email_addresses_replace(
    *, user: User, wanted: Sequence[AddressWanted], client_ip: str | None
) -> None:
    """Badgr's `emails` in PUT /v2/users/self: the account's addresses become `wanted`.

    New addresses are added unverified, each a claim like a sign-up's, and a verification
    link goes to it (which asks for this account's password); addresses left out are
    removed. An address another account holds verified is added and mailed exactly the
    same way, so the answer never tells whether somebody has it: its link can never prove
    it, and the claim expires with the link (`unverified_claims_expire`). Mails count in
    the resend limits; beyond them the address is added without one. Refused
    (ValidationError on `emails`): a primary address that is not verified yet (Badgr
    allowed it; mail would then go to an unproven address), and so a list that keeps no
    verified address.
    """
    addresses, primary = _wanted_addresses(wanted)
    # The account's row first: two changes at once then run one after the other, and the
    # second reads the addresses the first added (locking only the existing ones would not).
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    current = {row.email: row for row in EmailAddress.objects.select_for_update().filter(user=user)}
    if not any(current[a].verified for a in addresses if a in current):
        raise ValidationError({"emails": ["Keep at least one of your verified addresses."]})
    if primary not in current or not current[primary].verified:
        raise ValidationError(
            {"emails": ["The primary address must be verified: follow its link first."]}
        )
    for address in [a for a in addresses if a not in current]:
        _address_claim(user, address, client_ip)
    if not current[primary].primary:
        email_address_make_primary(email_address=current[primary])
        for row in current.values():
            row.primary = row.email == primary  # what `_address_remove` reads below
    for address in [a for a in current if a not in addresses]:
        _address_remove(current[address])


def _address_claim(user: User, address: str, client_ip: str | None) -> None:
    """Add `address` to `user` unverified and mail its link, within the mail limits.

    Nobody else's claim is withdrawn: a few accounts adding somebody's address again and
    again must not evict that person's sign-up (`_pending_claims` keeps the kinds apart).
    An account holds at most ADDRESSES_PER_ACCOUNT, so its claims cannot pile up."""
    EmailAddress.objects.create(user=user, email=address)
    if within_limits(*_verification_mail_limits(address, client_ip)).allowed:
        email_verification_send(address=address)


# --- one address at a time (the account pages, `/account/emails/`) ------------------------
#
# Each is the `emails` list of PUT /v2/users/self with one change, handed to
# `email_addresses_replace`: the same rules, limits and mails, whichever way a person
# changes their addresses.


def _addresses_held(user: User) -> list[AddressWanted]:
    """The account's addresses as an `emails` list, after locking the account's row (so
    that the list handed on is still the account's when `email_addresses_replace` runs)."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    rows = user.email_addresses.order_by("created_at", "pk").values_list("email", "primary")
    return [AddressWanted(email, primary) for email, primary in rows]


def _held_address(held: list[AddressWanted], email: str) -> str:
    """`email` normalized, if the account holds it; else ValidationError, which says the
    same whoever else holds the address."""
    address = normalize_email_address(email or "")
    if all(item.email != address for item in held):
        raise ValidationError({"email": ["This is not one of your addresses."]})
    return address


@transaction.atomic
def own_email_address_add(*, user: User, email: str, client_ip: str | None) -> None:
    """Add an address, unverified, and mail its link (`email_addresses_replace`)."""
    address = _clean_email(email)
    held = _addresses_held(user)
    if any(item.email == address for item in held):
        raise ValidationError({"email": ["This address is on your account already."]})
    email_addresses_replace(user=user, wanted=[*held, AddressWanted(address)], client_ip=client_ip)


@transaction.atomic
def own_email_address_make_primary(*, user: User, email: str) -> None:
    """Make a verified address of the account its primary one (an unverified one is
    refused, ValidationError, as in `email_addresses_replace`)."""
    held = _addresses_held(user)
    address = _held_address(held, email)
    wanted = [AddressWanted(item.email, item.email == address) for item in held]
    email_addresses_replace(user=user, wanted=wanted, client_ip=None)


@transaction.atomic
def own_email_address_remove(*, user: User, email: str) -> None:
    """Remove an address; not the primary one (make another primary first, as Badgr
    asked) nor the last verified one (ValidationError)."""
    held = _addresses_held(user)
    address = _held_address(held, email)
    if any(item.email == address and item.primary for item in held):
        raise ValidationError(
            {"email": ["This is your primary address: make another one primary first."]}
        )
    wanted = [item for item in held if item.email != address]
    email_addresses_replace(user=user, wanted=wanted, client_ip=None)


def own_email_verification_resend(*, user: User, email: str, client_ip: str | None) -> None:
    """Mail a fresh link for an unverified address of the account, within the resend
    limits (RateLimited beyond them); ValidationError for any other address."""
    address = normalize_email_address(email or "")
    if not user.email_addresses.filter(email=address, verified=False).exists():
        raise ValidationError(
            {"email": ["This is not one of your addresses waiting for its link."]}
        )
    email_verification_resend(email=address, client_ip=client_ip)


# --- what administrators change (the admin site) ------------------------------------------


def user_access_set(
    *,
    user: User,
    is_active: bool | None = None,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
) -> User:
    """An administrator's say on what the account may do: anything at all (an inactive
    account's sessions and tokens stop working at their next request, `accounts.backends`,
    `connect`), use the admin site, hold every permission. None leaves a flag as it is."""
    flags = {"is_active": is_active, "is_staff": is_staff, "is_superuser": is_superuser}
    changed = [name for name, value in flags.items() if value is not None]
    for name in changed:
        setattr(user, name, flags[name])
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    return user


def user_delete(*, user: User) -> None:
    """An administrator deletes an account (the admin site, `laurels users delete`): as
    when its owner does, without their password (`user_account_remove`); refused while
    they are the last owner of an issuer (AccountDeletionBlocked)."""
    user_account_remove(user=user)


@transaction.atomic
def email_address_add(
    *, user: User, email: str, verified: bool = False, primary: bool = False
) -> EmailAddress:
    """An administrator adds an address to an account.

    Verified, the administrator vouches for it (`email_address_vouch`): it is taken from
    every account that only claimed it. Unverified, it is a claim like a sign-up's: a
    link goes to the address (it asks for the account's password), and the claim expires
    with the link unless proven. EmailAddressTaken when another account holds it verified.
    """
    address = _clean_email(email)
    if user.email_addresses.filter(email=address).exists():
        raise EmailAddressTaken("This account has this address already.")
    if EmailAddress.objects.filter(email=address, verified=True).exists():
        raise EmailAddressTaken()
    claim = EmailAddress.objects.create(user=user, email=address)
    if verified:
        claim = email_address_vouch(email_address=claim)
    else:
        email_verification_send(address=address)
    if primary:
        email_address_make_primary(email_address=claim)
    return claim


def email_address_update(
    *, email_address: EmailAddress, verified: bool | None = None, primary: bool | None = None
) -> EmailAddress:
    """An administrator's edit of an address: vouch for it, make it primary. A verified
    address stays verified (delete it to take it from the account) and a primary one
    stays primary until another is made primary: both refused (ValidationError)."""
    current = EmailAddress.objects.select_related("user").get(pk=email_address.pk)
    if verified is False and current.verified:
        raise ValidationError(
            {"verified": ["A verified address stays verified: delete it to take it away."]}
        )
    if primary is False and current.primary:
        raise ValidationError(
            {"primary": ["An account always has a primary address: make another one primary."]}
        )
    with transaction.atomic():
        if verified and not current.verified:
            current = email_address_vouch(email_address=current)
        if primary and not current.primary:
            email_address_make_primary(email_address=current)
    return current


def email_address_vouch(*, email_address: EmailAddress) -> EmailAddress:
    """An administrator vouches for an address: it becomes verified for its account, and
    every other account's claim to it is withdrawn, exactly as when its owner proves it
    (`_email_address_prove`). EmailAddressTaken when another account holds it verified
    (the database would refuse a second verified owner)."""
    try:
        return _email_address_prove(email_address)
    except VerificationLinkInvalid:
        raise EmailAddressTaken() from None


@transaction.atomic
def email_address_make_primary(*, email_address: EmailAddress) -> EmailAddress:
    """Make the address its account's primary one, the one `User.email` mirrors and mail
    goes to; the account's other addresses stop being primary first (one per account)."""
    addresses = EmailAddress.objects.filter(user_id=email_address.user_id)
    list(addresses.select_for_update().values_list("pk"))
    addresses.filter(primary=True).exclude(pk=email_address.pk).update(primary=False)
    addresses.filter(pk=email_address.pk).update(primary=True)
    email_address.primary = True
    user_primary_email_sync(user=User.objects.get(pk=email_address.user_id))
    return email_address


@transaction.atomic
def email_address_delete(*, email_address: EmailAddress) -> None:
    """An administrator takes an address from its account. The account keeps at least one
    (delete the account instead: refused, ValidationError); if it was the primary one,
    another becomes primary (`_address_remove`)."""
    current = EmailAddress.objects.select_for_update().get(pk=email_address.pk)
    if not EmailAddress.objects.filter(user_id=current.user_id).exclude(pk=current.pk).exists():
        raise ValidationError("An account keeps at least one address: delete the account instead.")
    _address_remove(current)


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    client_ip: str | None,
    keep_access_token_id: int | None = None,
) -> None:
    """Change the password of a logged-in user who proves they know the current one (a
    stolen session or token alone must not lock the owner out). See `password_set`.

    A wrong current password is a failed log-in of the account from `client_ip`, in the
    log-in counters: a stolen session is no way around the log-in's limit on guessing.
    RateLimited beyond them."""
    password_current_check(user=user, current_password=current_password, client_ip=client_ip)
    password_set(user=user, password=new_password, keep_access_token_id=keep_access_token_id)


def password_current_check(*, user: User, current_password: str, client_ip: str | None) -> None:
    """ValidationError on `current_password` unless it is the user's password; a wrong one
    is a failed log-in of the account from `client_ip` (RateLimited beyond the limits)."""
    attempt = _login_attempt(account=f"user:{user.pk}", client_ip=client_ip)
    if not user.check_password(current_password or ""):
        raise ValidationError({"current_password": ["This is not your current password."]})
    attempt.take_back()


def password_set(*, user: User, password: str, keep_access_token_id: int | None = None) -> None:
    """Give `user` a new password, which ends every credential made with the old one.

    `User.save` sends `password_changed` (for this path and every other, such as the
    admin's form): OAuth tokens end in the same transaction, all of them but the access
    token `keep_access_token_id` (the one the change was made with) and its refresh
    token, and the owner is told by email (`password_changed_notify`). Sessions end
    because Django derives each session's hash from the password hash (the session the
    change was made in, if any, is renewed by its view with `update_session_auth_hash`).
    """
    _check_password(password, user)
    user.set_password(password, keep_access_token_id=keep_access_token_id)
    user.save(update_fields=["password", "updated_at"])


def password_changed_notify(*, user: User) -> None:
    """Tell the owner their password changed, so that a change they did not make does
    not go unnoticed (sent after the change commits)."""
    mail_send(
        user.email,
        "accounts/email/password_changed",
        {"user": user, "reset_url": _absolute(reverse("accounts:password_reset"))},
    )


# --- log-in limits ----------------------------------------------------------------------
#
# Only failures count, and a guesser must not lock the owner out: the strict limit is per
# account *and* client address, the account alone has a much higher one, and the client
# address one of its own whatever the account. Every way in counts in these counters
# (the log-in page, the admin's, the password grant at /o/token: all authenticate
# through `EmailAddressBackend`, which counts), and so do guesses of the current password
# on the change-password page and API, and of a sign-up's password on a verification link.


def login_account_key(email: str) -> str:
    """The account the per-account log-in counters count: by id when a verified address
    names one (all its addresses, and its password changes, share them), else the
    address itself."""
    address = normalize_email_address(email or "")
    user_id = (
        EmailAddress.objects.filter(email=address, verified=True)
        .values_list("user_id", flat=True)
        .first()
    )
    return f"user:{user_id}" if user_id is not None else f"address:{address}"


def _login_limits(*, account: str, client_ip: str | None) -> tuple[Limit, ...]:
    """In the order they are checked: the client address's own limit first, so that an
    attempt it refuses is never counted against the account."""
    window = settings.LAURELS_LOGIN_RATE_WINDOW
    client = address_key(client_ip)
    return (
        Limit("login:ip", client, settings.LAURELS_LOGIN_RATE_PER_IP, window),
        Limit("login:account", account, settings.LAURELS_LOGIN_RATE_PER_ACCOUNT, window),
        Limit(
            "login:account-ip",
            f"{account}\0{client}",
            settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP,
            window,
        ),
    )


def login_rate_check(*, email: str, client_ip: str | None) -> None:
    """Refuse (RateLimited, with Retry-After) a log-in whose counters are used up, without
    counting it: the check a log-in page or the token endpoint makes before it tries the
    password. The attempt itself is counted by the authentication backend."""
    limits = _login_limits(account=login_account_key(email), client_ip=client_ip)
    raise_if_refused(limits_reached(*limits), message=LOGIN_REFUSED)


def login_attempt_count(*, account: str, client_ip: str | None) -> CountedAttempt:
    """Count a password attempt ahead of its outcome, exactly across workers: the caller
    takes it back when the password was right (`CountedAttempt.take_back`). A refused
    attempt counts nowhere, and the caller must not try the password."""
    return attempt_count(*_login_limits(account=account, client_ip=client_ip))


def _login_attempt(*, account: str, client_ip: str | None) -> CountedAttempt:
    """`login_attempt_count`, raising RateLimited (503 when the store is down) if refused."""
    attempt = login_attempt_count(account=account, client_ip=client_ip)
    raise_if_refused(attempt.verdict, message=LOGIN_REFUSED)
    return attempt


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


def user_primary_email_sync(*, user: User) -> User:
    """Make `User.email` mirror the primary address, after the primary one changed."""
    primary = user.email_addresses.filter(primary=True).first()
    if primary is not None and primary.email != user.email:
        user.email = primary.email
        user.save(update_fields=["email", "updated_at"])
    return user


# --- accounts moved here from another server (`laurels import-badgr`) ----------------------
#
# An old server's password hash is kept when a hasher in PASSWORD_HASHERS decodes it and
# its cost is in range (`imported_password_hash`): its owner logs in as before, and Django
# re-hashes it with the preferred hasher then. Any other (bcrypt, SHA-1, malformed, an
# unusable password) is replaced by PASSWORD_RESET_ON_LOGIN: no hasher is named so, so it
# matches no password; it is not Django's unusable prefix, so the reset page mails its
# owner; and a log-in attempt with it mails the reset link at once
# (`password_reset_on_login`), which the log-in page hints at for every failed log-in alike.

PASSWORD_RESET_ON_LOGIN = "reset-on-login$"  # noqa: S105 (no hasher is named so)
# Added to every failed log-in on a server that may hold moved accounts
# (`moved_accounts_may_be_here`), whatever the account: a sentence only moved accounts
# got would tell anybody which addresses were moved here.
PASSWORD_RESET_SENT = (
    "If your account was moved here from another server, we have emailed you a link "  # noqa: S105
    "to set a password."
)


# The costs of an old server's hash that are kept, by hasher: a hash that cheap is too weak
# to keep (every Django since 1.4 made at least 10,000 PBKDF2 iterations), one that dear
# would tie up a worker at every log-in (Django 5.2 makes 1,000,000; Argon2's costs are
# bounded likewise: iterations, KiB of memory, lanes).
IMPORTED_HASH_COSTS: dict[str, dict[str, tuple[int, int]]] = {
    "pbkdf2_sha256": {"iterations": (10_000, 2_000_000)},
    "pbkdf2_sha1": {"iterations": (10_000, 2_000_000)},
    "argon2": {"time_cost": (1, 10), "memory_cost": (512, 256 * 1024), "parallelism": (1, 16)},
}


def imported_password_hash(encoded: str | None) -> str:
    """What to store for an old server's hash `encoded`: itself when a hasher here decodes
    it and its costs are within IMPORTED_HASH_COSTS, else PASSWORD_RESET_ON_LOGIN. A hash
    only named right (`pbkdf2_sha256$x`) would make every log-in to the account an error,
    and one of two billion iterations would hold a worker per attempt."""
    if not encoded or not is_password_usable(encoded):
        return PASSWORD_RESET_ON_LOGIN
    try:
        hasher = identify_hasher(encoded)
        decoded = hasher.decode(encoded)
    except (ValueError, AssertionError, TypeError, IndexError):  # not a hash it made
        return PASSWORD_RESET_ON_LOGIN
    costs = IMPORTED_HASH_COSTS.get(hasher.algorithm)
    if costs is None or not decoded.get("hash") or not decoded.get("salt"):
        return PASSWORD_RESET_ON_LOGIN
    for name, (low, high) in costs.items():
        if not low <= decoded[name] <= high:
            return PASSWORD_RESET_ON_LOGIN
    return encoded


def moved_accounts_may_be_here() -> bool:
    """Whether this server took over a Badgr server's accounts: `laurels import-badgr`
    runs only with LAURELS_BADGR_ORIGIN set. Read from the settings, not the accounts, so
    that a failed log-in costs no query and says the same before and after any import."""
    return bool(settings.LAURELS_BADGR_ORIGIN)


def password_reset_due(user: User) -> bool:
    """Whether `user` was moved here with a password hash no hasher here verifies."""
    return user.password == PASSWORD_RESET_ON_LOGIN


@transaction.atomic
def user_import(
    *,
    addresses: list[str],
    password_hash: str | None,
    first_name: str = "",
    last_name: str = "",
    is_active: bool = True,
    date_joined=None,
    entity_id: str | None = None,
) -> User:
    """An account moved from another server, with its verified `addresses` (the first
    primary) and its old password hash (`imported_password_hash`). Its `entity_id` is
    kept when free. EmailAddressTaken when an account here holds an address verified."""
    primary, *others = addresses
    user = user_create(
        email=primary, password=None, first_name=first_name, last_name=last_name, verified=True
    )
    user.password = imported_password_hash(password_hash)
    user.is_active = is_active
    user.date_joined = date_joined or user.date_joined
    if entity_id and not User.objects.filter(entity_id=entity_id).exists():
        user.entity_id = entity_id
    user.save()  # the hash is set as a field, not a new password: `password_changed` is not sent
    for address in others:
        email_address_add(user=user, email=address, verified=True)
    return user


@transaction.atomic
def user_import_update(
    *,
    user: User,
    new_addresses: list[str],
    password_hash: str | None,
    first_name: str | None = None,
    last_name: str | None = None,
    deactivate: bool = False,
) -> User:
    """An account moved earlier, brought up to date with what changed on the old server
    since: names given (None keeps one), `new_addresses` added there since (verified;
    EmailAddressTaken when another account holds one), a deactivation there, and its old
    hash while it has chosen no password here (`password_reset_due`). Never more: an
    account deactivated here stays so, and an address removed here is not added back,
    whatever the old server says (the caller passes only its changes)."""
    user_profile_update(user=user, first_name=first_name, last_name=last_name)
    if deactivate and user.is_active:
        user_access_set(user=user, is_active=False)
    if password_reset_due(user):
        user.password = imported_password_hash(password_hash)
        user.save(update_fields=["password", "updated_at"])
    held = set(user.email_addresses.filter(verified=True).values_list("email", flat=True))
    for address in map(normalize_email_address, new_addresses):
        if address in held:
            continue
        claim = user.email_addresses.filter(email=address).first()
        if claim is not None:
            email_address_vouch(email_address=claim)
        else:
            email_address_add(user=user, email=address, verified=True)
    return user


def password_reset_on_login(*, user: User, email: str, client_ip: str | None) -> None:
    """Mail the reset link to `email` (a verified address of `user`, whose password must
    be reset, `password_reset_due`), within the reset limits of the reset page."""
    if not password_reset_allowed(email=email, client_ip=client_ip):
        return
    mail_send(
        email,
        "accounts/email/password_reset",
        {
            "user": user,
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
            "base_url": settings.LAURELS_BASE_URL,
        },
    )


# --- Deleting an account -------------------------------------------------------------------
#
# The person's data goes; what others made stays. `accounts` is the lowest domain app, so
# it deletes only its own rows (the user and their addresses) and asks every app above,
# through `signals.account_deleting` sent inside the one transaction, to remove or detach
# what it holds of the person. Awards made to them stay the issuers' (they name the
# recipient's identity, not the account), and so do awards and badge classes they made
# as staff. What the audit trail said of them is kept under a pseudonym.

DELETED_USER_PREFIX = "deleted-user-"


@dataclass(frozen=True)
class DeletionBlocker:
    """One thing that stops an account's deletion (the apps above answer them,
    `signals.account_deletion_blockers`): what it is, its public page, what to do."""

    name: str
    url: str
    advice: str


class AccountDeletionBlocked(Conflict):
    """The account holds what nobody else would (the last owner of an issuer): it must be
    handed over or deleted first. Nothing was deleted."""

    def __init__(self, blockers: Sequence[DeletionBlocker]) -> None:
        names = ", ".join(blocker.name for blocker in blockers)
        super().__init__(f"Hand these over or delete them first: {names}.")
        self.blockers = list(blockers)


class AdminAccountNotSelfDeleted(PermissionDenied):
    """An administrator does not delete their own account: the admin log's entries they
    made would go with it (`LogEntry.user` cascades, Django's own). Another administrator
    deletes it in the admin site, and the admin log records who did."""

    default_message = (
        "This is an administrator's account: another administrator deletes it in the admin "
        "site, and the admin log records who did. Ask one of them."
    )


def account_is_admin(user: User) -> bool:
    """Whether the account may use the admin site (and so is not deleted by its owner)."""
    return bool(user.is_staff or user.is_superuser)


def values_pseudonymised(value, names: Sequence[str], pseudonym: str):
    """`value` (JSON: dicts, lists, strings) with every string equal to one of `names`,
    ignoring case, replaced by `pseudonym`, however deep. Equality, never a substring: a
    deleted ada@example.org must not turn somebody else's nada@example.org into
    "ndeleted-user-…"."""
    folded = {name.casefold() for name in names}
    if isinstance(value, str):
        return pseudonym if value.casefold() in folded else value
    if isinstance(value, list):
        return [values_pseudonymised(item, names, pseudonym) for item in value]
    if isinstance(value, dict):
        return {key: values_pseudonymised(item, names, pseudonym) for key, item in value.items()}
    return value


def account_pseudonym(user_id: int) -> str:
    """What the audit trail calls a deleted account: the same for every row of one
    account, and not to be turned back into the account by anyone without SECRET_KEY
    (an HMAC of its id, which a plain hash of a small number would not be)."""
    message = f"laurels.accounts.deleted-user:{user_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return f"{DELETED_USER_PREFIX}{digest[:12]}"


def account_deletion_blockers_for(*, user: User) -> list[DeletionBlocker]:
    """What stops `user`'s account from being deleted now, as the apps above say; empty
    when nothing does. For the page to show before anyone asks: `account_delete` checks
    again, under locks."""
    return [
        blocker
        for _receiver, answer in account_deletion_blockers.send(sender=User, user=user)
        for blocker in answer or ()
    ]


def account_delete(
    *, user: User, password: str = "", confirmation: str = "", client_ip: str | None = None
) -> str:
    """The person deletes their own account, proving it is them: their current password
    (a stolen session alone must not erase anyone; a wrong one counts as a failed log-in,
    `password_current_check`), and their primary address typed as `confirmation`, so it
    is not done by a slip. An account without a usable password (institutional log-in)
    confirms with the address alone. ValidationError (fields `current_password`,
    `confirmation`), AccountDeletionBlocked, or AdminAccountNotSelfDeleted for an
    administrator's account; nothing is deleted then. The pseudonym the audit trail
    keeps for them."""
    if account_is_admin(user):
        raise AdminAccountNotSelfDeleted()
    errors: dict[str, list[str]] = {}
    if normalize_email_address(confirmation or "") != normalize_email_address(user.email):
        errors["confirmation"] = ["Type your primary email address exactly as shown."]
    if user.has_usable_password():
        try:
            password_current_check(user=user, current_password=password, client_ip=client_ip)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return user_account_remove(user=user)


@transaction.atomic
def user_account_remove(*, user: User) -> str:
    """Delete the account and what is only the person's, in one transaction: every app
    above does its part (`signals.account_deleting`) or refuses the whole of it
    (AccountDeletionBlocked). Unsent mail to their addresses goes too, and so do their
    log-in sessions once this commits. The audit trail's pseudonym for them."""
    User.objects.select_for_update().filter(pk=user.pk).exists()
    pseudonym = account_pseudonym(user.pk)
    addresses = list(user.email_addresses.values_list("email", flat=True))
    account_deleting.send(sender=User, user=user, pseudonym=pseudonym)
    OutboxMail.objects.filter(to__in=addresses).delete()
    _admin_log_pseudonymise(user, [user.entity_id, *addresses], pseudonym)
    user_id = user.pk
    user.delete()
    transaction.on_commit(lambda: _sessions_end(user_id))
    return pseudonym


def _admin_log_pseudonymise(user: User, names: list[str], pseudonym: str) -> None:
    """The admin log's entries about the account and its address rows name the person:
    `object_repr` is the user's (or address's) text, and `change_message` names inline
    addresses added or changed. Both get the pseudonym; the entries stay."""
    about_user = Q(content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk))
    address_ids = [str(pk) for pk in user.email_addresses.values_list("pk", flat=True)]
    about_addresses = Q(
        content_type=ContentType.objects.get_for_model(EmailAddress), object_id__in=address_ids
    )
    for entry in LogEntry.objects.filter(about_user | about_addresses):
        try:
            said = json.loads(entry.change_message)
            message = json.dumps(values_pseudonymised(said, names, pseudonym))
        except ValueError:  # not the JSON Django writes: nothing to keep of it
            message = ""
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=pseudonym, change_message=message)


def _sessions_end(user_id: int) -> None:
    """Delete the deleted account's sessions (stored in the database, keyed by session,
    not by user: each live session is decoded, so the cost grows with every session on
    the server, after the commit; nothing tracks sessions per user, and a password change
    needs no such list, since Django derives each session's hash from the password).
    Harmless before this runs: a session naming a user id that no longer exists is
    anonymous, and ids are never reused."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return
    live = Session.objects.filter(expire_date__gt=timezone.now())
    ended = [s.pk for s in live.iterator() if s.get_decoded().get(SESSION_KEY) == str(user_id)]
    Session.objects.filter(pk__in=ended).delete()


# --- Institution log-in -------------------------------------------------------------------
#
# Which account a person of the institution's OpenID Connect provider logs in to, and the
# links (`InstitutionLink`: issuer and subject) that find it again; `accounts.institution`
# (discovery, the ID-token checks, the authentication backend) calls these with claims it
# has checked. The owner is mailed each time an identity is linked to, or unlinked from,
# an existing account: a link is a way in that a password change does not end.

institution_logger = logging.getLogger("laurels.accounts.institution")


class InstitutionLoginRefused(DomainError):
    """The provider answered, but this log-in cannot go on (the message says why)."""

    status = 400
    default_message = "{name} did not confirm who you are, so you are not logged in. Start again."


class UnverifiedEmailTaken(Conflict):
    default_message = (
        "An account here already uses the email address {name} gave, but {name} does not say "
        "that the address is verified, so the two are not joined. Log in with your email "
        "address and password, then link {name} from your account settings."
    )


class InstitutionLinkedElsewhere(Conflict):
    default_message = (
        "This {name} account is linked to another account here. Log in with {name} to use "
        "that account, or unlink it there first."
    )


class AccountsNotCreated(PermissionDenied):
    default_message = (
        "There is no account here for you yet, and this server does not create accounts on "
        "a first log-in with {name}. Ask its administrator for one."
    )


class NoUsableEmail(InstitutionLoginRefused):
    default_message = (
        "{name} did not share a valid email address, which a new account here needs. Ask "
        "{name} to release your email address to this server, or sign up with a password."
    )


# Why an account without a usable password may neither link nor unlink.
INSTITUTION_UNLINK_REFUSED = (
    "Set a password first (“Forgot your password?” on the log-in page mails a link to your "
    "verified address): without one you could not log in again."
)
INSTITUTION_LINK_REFUSED = (
    "Set a password first (“Forgot your password?” on the log-in page mails a link to your "
    "verified address): linking asks for it, so that nobody else can link an account to yours."
)


def _email_verified(claims: dict) -> bool:
    """`email_verified: true`; some providers send the string "true"."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _institution_mail(user: User, template: str) -> None:
    """Tell the owner an identity was linked or unlinked (after the commit)."""
    context = {
        "user": user,
        "name": settings.LAURELS_OIDC.name if settings.LAURELS_OIDC else "your institution",
        "account_url": _absolute(reverse("web:account")),
        "reset_url": _absolute(reverse("accounts:password_reset")),
    }
    mail_send(user.email, template, context)


def _institution_link_make(user: User, issuer: str, subject: str, *, logged_in: bool) -> None:
    """Link an existing account to the provider's subject, and tell its owner."""
    used = timezone.now() if logged_in else None
    InstitutionLink.objects.create(user=user, issuer=issuer, subject=subject, last_login_at=used)
    _institution_mail(user, "accounts/email/institution_linked")


def _institution_new_account(claims: dict, address: str, verified: bool) -> User:
    if not settings.LAURELS_OIDC_CREATE_ACCOUNTS:
        raise AccountsNotCreated()
    try:
        return user_create(
            email=address,
            password=None,
            first_name=str(claims.get("given_name") or "")[:NAME_MAX_LENGTH],
            last_name=str(claims.get("family_name") or "")[:NAME_MAX_LENGTH],
            verified=verified,
        )
    except ValidationError:
        raise NoUsableEmail() from None


def _institution_link_to(
    user: User, issuer: str, subject: str, existing: InstitutionLink | None
) -> User:
    """Link the signed-in `user` (who gave their password on the account page) to this
    subject."""
    if existing is not None and existing.user_id != user.pk:
        raise InstitutionLinkedElsewhere()
    if existing is None:
        if InstitutionLink.objects.filter(user=user, issuer=issuer).exists():
            raise InstitutionLinkedElsewhere(
                "Your account is linked to another {name} account. Unlink it first."
            )
        _institution_link_make(user, issuer, subject, logged_in=False)
    return user


def _institution_account_for(
    claims: dict, issuer: str, subject: str, existing: InstitutionLink | None
) -> tuple[User, str]:
    """(the account, how it was found) for a log-in that is not a linking."""
    if existing is not None:
        existing.last_login_at = timezone.now()
        existing.save(update_fields=["last_login_at"])
        return existing.user, "link"
    address = normalize_email_address(str(claims.get("email") or ""))
    address = "" if "\x00" in address else address  # PostgreSQL refuses NUL in text
    verified = _email_verified(claims)
    holder = EmailAddress.objects.select_related("user").filter(email=address, verified=True)
    if address and (held := holder.first()) is not None:
        if not verified:
            raise UnverifiedEmailTaken()
        if InstitutionLink.objects.filter(user=held.user, issuer=issuer).exists():
            raise InstitutionLinkedElsewhere(
                "The account here with your address is linked to another {name} account. "
                "Log in with that one, or with your email address and password."
            )
        _institution_link_make(held.user, issuer, subject, logged_in=True)
        return held.user, "verified email"
    if not address:
        raise NoUsableEmail()
    # A new account: nobody else's way in to tell about, so no mail.
    user = _institution_new_account(claims, address, verified)
    InstitutionLink.objects.create(
        user=user, issuer=issuer, subject=subject, last_login_at=timezone.now()
    )
    return user, "new account"


def institution_user_for_claims(*, claims: dict, link_to: User | None = None) -> User:
    """The account the provider's person (`claims`, checked) logs in to: a stored link
    first; else the account holding the address verified, only when the provider says
    `email_verified` too (an address it did not verify never opens an existing account:
    whoever controls the upstream profile could type anybody's into it); else a new
    account. `link_to`: the signed-in account that asked to be linked."""
    issuer = settings.LAURELS_OIDC.issuer
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255 or "\x00" in subject:
        raise InstitutionLoginRefused()
    try:
        with transaction.atomic():
            existing = (
                InstitutionLink.objects.select_related("user")
                .filter(issuer=issuer, subject=subject)
                .first()
            )
            if link_to is not None:
                user = _institution_link_to(link_to, issuer, subject, existing)
                how = "linked from settings"
            else:
                user, how = _institution_account_for(claims, issuer, subject, existing)
    except IntegrityError:
        # The same person's first log-in twice at once: the other one made the link.
        raise InstitutionLoginRefused("Two log-ins with {name} crossed. Start again.") from None
    institution_logger.info(
        "institution log-in: account %s through %s subject %s (%s)",
        user.entity_id,
        issuer,
        subject,
        how,
    )
    return user


def institution_link_authorize(*, user: User, current_password: str, client_ip: str | None) -> None:
    """Before the signed-in account is sent to the provider to be linked: its current
    password, so that a stolen session alone cannot add a way in that outlives a password
    change (a wrong one counts as a failed log-in; RateLimited beyond the limits). An
    account without a usable password cannot link. ValidationError on `current_password`."""
    if not user.has_usable_password():
        raise ValidationError({"current_password": [INSTITUTION_LINK_REFUSED]})
    password_current_check(user=user, current_password=current_password, client_ip=client_ip)


@transaction.atomic
def institution_unlink(*, user: User) -> int:
    """Remove the account's links to the provider, and tell the owner. Refused
    (ValidationError) when the account has no usable password: it could not log in
    again."""
    if not user.has_usable_password():
        raise ValidationError(INSTITUTION_UNLINK_REFUSED)
    removed, _ = InstitutionLink.objects.filter(user=user).delete()
    if removed:
        _institution_mail(user, "accounts/email/institution_unlinked")
    institution_logger.info("institution log-in: account %s unlinked", user.entity_id)
    return removed


# --- Two-factor log-in ------------------------------------------------------------------
#
# An authenticator app (django-otp's TOTP device) and ten single-use recovery codes (its
# static device). Turning it on takes a code from the app, so that nobody is locked out by
# a secret their app never took, and the password (a stolen session alone must not put an
# attacker's app on the account); so do turning it off and new recovery codes. An account
# without a usable password (institutional log-in) has none to give: the code alone. A
# changed password keeps the device. Every change is sent as `signals.two_factor_changed`
# in its transaction (`connect` audits it, and ends the account's tokens when it is turned
# on) and mailed to the owner. Who has it and who must: `accounts.two_factor`.

RECOVERY_CODE_COUNT = 10
TWO_FACTOR_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
CODE_WRONG = "This code is not right, or was used already. Check the time on your device."
CODE_LIMITED = "Too many wrong codes. Try again in {wait}."
# What a code looks like: six digits from the app, or a recovery code (8 base32
# characters, `StaticToken.random_token`). Each shape is tried on its own device only.
TOTP_CODE_SHAPE = re.compile(r"[0-9]{6}")
RECOVERY_CODE_SHAPE = re.compile(r"[a-z2-7]{8}")


class TwoFactorRequired(DomainError):
    default_message = "Your administrators require two-factor log-in for your account."


def _two_factor_announce(user: User, change: str, actor: User | None = None) -> None:
    """Tell the apps above (`connect` audits it) and the owner, by mail once the change
    commits: a change they did not make must not go unnoticed."""
    signals.two_factor_changed.send(sender=User, user=user, change=change, actor=actor or user)
    mail_send(
        user.email,
        "accounts/email/two_factor_changed",
        {
            "user": user,
            "change": change,
            "settings_url": _absolute(reverse("web:two_factor")),
            "reset_url": _absolute(reverse("accounts:password_reset")),
        },
    )


@transaction.atomic
def two_factor_start(*, user: User) -> TOTPDevice:
    """A new secret for the user's authenticator app, unconfirmed (so not yet asked at
    log-in) until `two_factor_confirm` gets a code made from it; one made earlier and
    never confirmed is replaced. ValidationError while it is on (turn it off first: that
    takes the password, which a new secret would otherwise get around)."""
    if two_factor.two_factor_on(user):
        raise ValidationError("Two-factor log-in is on already.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TWO_FACTOR_DEVICE_NAME, confirmed=False)


def two_factor_confirm(
    *, user: User, code: str, current_password: str = "", client_ip: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor log-in on with the password (`password_current_check`, skipped for
    an account without a usable password) and the first code of the secret
    `two_factor_start` made: the device and the recovery codes, shown this once.
    ValidationError on `current_password` or `code` otherwise.

    Every session of the account ends (`_sessions_end`), and every token (`connect`, on
    `two_factor_changed`), as a new password ends them: whatever got in with the password
    alone is out. The view saves the session it was made in anew, verified
    (`two_factor.session_verified`)."""
    device = two_factor.totp_device(user, confirmed=False)
    if device is None:
        raise ValidationError({"code": ["Start again: this set-up has ended."]})
    if user.has_usable_password():
        password_current_check(user=user, current_password=current_password, client_ip=client_ip)
    if django_otp.verify_token(user, device.persistent_id, _code_clean(code)) is None:
        raise ValidationError({"code": [CODE_WRONG]})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_make(user)
        _two_factor_announce(user, "turned_on")
        _sessions_end(user.pk)
    return device, codes


def two_factor_disable(*, user: User, current_password: str, client_ip: str | None) -> None:
    """Turn two-factor log-in off, with the password (`password_current_check`: a wrong
    one counts as a failed log-in). TwoFactorRequired when the configuration asks this
    account for it."""
    if two_factor.two_factor_required(user):
        raise TwoFactorRequired()
    password_current_check(user=user, current_password=current_password, client_ip=client_ip)
    with transaction.atomic():
        _two_factor_delete(user)
        _two_factor_announce(user, "turned_off")


def two_factor_reset(*, user: User, actor: User | None) -> None:
    """An administrator takes the user's two-factor log-in away (a lost phone and lost
    codes): they log in with the password alone, and set it up again if it is required."""
    with transaction.atomic():
        _two_factor_delete(user)
        _two_factor_announce(user, "reset", actor)


def recovery_codes_renew(*, user: User, current_password: str, client_ip: str | None) -> list[str]:
    """New recovery codes for an account with two-factor log-in, with the password; the
    old ones stop working. ValidationError when two-factor log-in is off."""
    password_current_check(user=user, current_password=current_password, client_ip=client_ip)
    with transaction.atomic():
        if not two_factor.two_factor_on(user):
            raise ValidationError("Two-factor log-in is off: there are no recovery codes.")
        codes = _recovery_codes_make(user)
        _two_factor_announce(user, "recovery_codes_renewed")
    return codes


def two_factor_login_verify(*, user: User, code: str, client_ip: str | None) -> Device:
    """The device that accepts `code` for a session logged in with the password: six digits
    are tried on the authenticator app only, a recovery code's shape on the recovery codes
    only (and used up). ValidationError on `code` otherwise.

    Wrong codes are limited per account and client address, and per client address
    (`_code_limits`; RateLimited beyond them, saying how long to wait), never per account
    alone: somebody holding the password must not be able to lock the owner out from
    their own address. django-otp's own growing delays are off (OTP_*_THROTTLE_FACTOR=0):
    they were per device, so anyone with the password could stretch them for ever."""
    code = _code_clean(code)
    attempt = attempt_count(*_code_limits(user, client_ip))
    raise_if_refused(attempt.verdict, message=CODE_LIMITED)
    if TOTP_CODE_SHAPE.fullmatch(code):
        device = two_factor.totp_device(user)
    elif RECOVERY_CODE_SHAPE.fullmatch(code):
        device = two_factor.recovery_device(user)
    else:
        device = None
    if device is not None and django_otp.verify_token(user, device.persistent_id, code):
        attempt.take_back()
        return device
    raise ValidationError({"code": [CODE_WRONG]})


def _code_limits(user: User, client_ip: str | None) -> tuple[Limit, ...]:
    """The code page's limits, with the log-in's numbers (LAURELS_LOGIN_RATE_*): the client
    address's own first (an attempt it refuses counts nowhere), then the account's from
    that address."""
    window = settings.LAURELS_LOGIN_RATE_WINDOW
    client = address_key(client_ip)
    return (
        Limit("two-factor:ip", client, settings.LAURELS_LOGIN_RATE_PER_IP, window),
        Limit(
            "two-factor:account-ip",
            f"user:{user.pk}\0{client}",
            settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP,
            window,
        ),
    )


def _code_clean(code: str) -> str:
    """What was typed, without the spaces and dashes people copy with codes."""
    return "".join(ch for ch in (code or "")[:64] if ch not in " -\t").lower()


def _recovery_codes_make(user: User) -> list[str]:
    """RECOVERY_CODE_COUNT fresh codes replacing any the user had."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _two_factor_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
