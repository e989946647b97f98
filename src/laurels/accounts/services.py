"""Every change to users and email addresses goes through these functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import identify_hasher, is_password_usable
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.errors import Conflict, DomainError
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


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete an account and what is only theirs (addresses, tokens, imported badges,
    staff places); awards they made stay, no longer naming them. One transaction, so the
    receivers that move kept answers on (issuing, backpack) run inside it."""
    User.objects.select_for_update().filter(pk=user.pk).exists()
    user.delete()


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
