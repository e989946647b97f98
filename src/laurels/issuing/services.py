"""Every change to issuers, staff, badge classes and awards goes through these functions.

Callers (API, CLI, pages) check permissions first through `connect.permissions`; these
functions validate input, keep multi-step writes atomic and queue emails after commit.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import EmailValidator, URLValidator
from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.errors import Conflict, NotFound
from laurels.core.ids import new_entity_id
from laurels.core.images import CheckedImage
from laurels.core.ratelimit import Limit, enforce_limits, within_limits
from laurels.core.sql import loaded_instance
from laurels.core.versions import versions_bump
from laurels.issuing import selectors, signals
from laurels.issuing.models import (
    EXPIRY_LIMITS,
    LATEST_INSTANT,
    Acceptance,
    Assertion,
    AwardBatch,
    AwardBatchStatus,
    BadgeClass,
    ExpiryUnit,
    Issuer,
    IssuerStaff,
    IssuerVerification,
    RecipientType,
    Role,
    StaffInvitation,
    instant_in_range,
)
from laurels.issuing.receivers import award_versions
from laurels.jobs.mail import Mail, mail_render, mail_send, mails_send
from laurels.jobs.services import job_enqueue

TELEPHONE = re.compile(r"^\+?[0-9]{6,15}$")
MAX_BATCH = 10_000
# The longest address a mail can be sent to (RFC 5321: a 256-octet path, less <>); the
# outbox's `to` holds no more.
MAX_EMAIL_LENGTH = 254
STAFF_INVITATION_LIFETIME = timedelta(days=14)
# The longest issuer name an invitation mail quotes (the rest is cut off).
ISSUER_NAME_IN_MAIL_MAX = 60


class BadgeClassHasAwards(Conflict):
    default_message = (
        "This badge class has live awards; revoke them (or let them expire) before deleting it."
    )


class IssuerHasAwards(Conflict):
    default_message = (
        "This issuer has live awards; revoke them (or let them expire) before deleting it."
    )


class DuplicateAward(Conflict):
    default_message = "This recipient already holds a live award of this badge."


# --- recipients ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A recipient as given: identity, its type, whether to hash it, and a display name."""

    identity: str
    type: str = RecipientType.EMAIL
    hashed: bool | None = None  # None: Badgr's default, see `recipient_hashed`
    name: str = ""


def recipient_hashed(recipient: Recipient) -> bool:
    """Whether the identity is published hashed: as asked, else as Badgr did, hashed for
    an email address (the earner's privacy) and plain for a URL, telephone number or id,
    which verifiers and profiles match as they are."""
    if recipient.hashed is not None:
        return recipient.hashed
    return recipient.type == RecipientType.EMAIL


@dataclass
class AwardInput:
    recipient: Recipient
    narrative: str = ""
    evidence: list[dict] = field(default_factory=list)
    expires: datetime | None = None
    issued_on: datetime | None = None
    extensions: dict | None = None


class _EmailAddressCheck(EmailValidator):
    """Django's email address check with its patterns compiled when Laurels starts.
    Django keeps them behind lazy proxies, and each match through a proxy costs more
    than the match: a twentieth of a 10,000-recipient batch award."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(
        EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags
    )
    literal_regex = re.compile(
        EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags
    )


validate_email = _EmailAddressCheck()


def recipient_normalized(recipient: Recipient, *, field_name: str = "recipient") -> str:
    """The identity in canonical form for its type; ValidationError when it is not one."""
    identity = (recipient.identity or "").strip()
    kind = recipient.type
    try:
        if kind == RecipientType.EMAIL:
            identity = normalize_email_address(identity)
            if len(identity) > MAX_EMAIL_LENGTH:
                raise ValidationError(
                    {field_name: [f"An email address is at most {MAX_EMAIL_LENGTH} characters."]}
                )
            validate_email(identity)
        elif kind == RecipientType.URL:
            URLValidator(schemes=["http", "https"])(identity)
        elif kind == RecipientType.TELEPHONE:
            identity = re.sub(r"[\s().-]", "", identity)
            if not TELEPHONE.match(identity):
                raise ValidationError("invalid")
        elif kind == RecipientType.ID:
            if ":" not in identity or len(identity) > 500:
                raise ValidationError("invalid")
        else:
            raise ValidationError({field_name: [f"Unknown recipient type {kind!r}."]})
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise
        raise ValidationError(
            {field_name: [f"{identity or '(empty)'} is not a valid {kind} identity."]}
        ) from None
    return identity


def recipient_identity_hash(identity: str, salt: str) -> str:
    """The OB 2.0 hashed identity: `sha256$` + hex(sha256(identity + salt))."""
    return "sha256$" + hashlib.sha256((identity + salt).encode()).hexdigest()


# --- dates -----------------------------------------------------------------------------------


def checked_instant(value: datetime, field_name: str) -> datetime:
    """`value` in UTC, or a ValidationError on `field_name` when it has no offset or is
    outside the years Laurels keeps (`issuing.models.instant_in_range`)."""
    try:
        return instant_in_range(value)
    except ValueError as error:
        raise ValidationError({field_name: [str(error)]}) from None


def award_expiry(issued_on: datetime, badge_class: BadgeClass, field_name: str) -> datetime:
    """When an award made at `issued_on` expires under its badge class's rule; a
    ValidationError on `field_name` when that would fall after 9999."""
    try:
        expires = add_expiry(issued_on, badge_class.expires_amount, badge_class.expires_duration)
    except (OverflowError, ValueError):
        expires = None
    if expires is None or expires > LATEST_INSTANT:
        raise ValidationError(
            {field_name: ["The badge class's expiry would end this award after 9999-12-31."]}
        )
    return expires


def add_expiry(start: datetime, amount: int, unit: str) -> datetime:
    if unit == ExpiryUnit.DAYS:
        return start + timedelta(days=amount)
    if unit == ExpiryUnit.WEEKS:
        return start + timedelta(weeks=amount)
    months = amount * (12 if unit == ExpiryUnit.YEARS else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


# --- issuers ---------------------------------------------------------------------------------


def _store_image(instance, image: CheckedImage | None) -> None:
    if image is not None:
        instance.image.save(
            f"{instance.entity_id}.{image.extension}", ContentFile(image.content), save=False
        )


def _full_clean(instance, exclude: Iterable[str] = ()) -> None:
    instance.full_clean(exclude=["image", *exclude], validate_unique=False)


@transaction.atomic
def issuer_create(
    *,
    actor: User,
    name: str,
    url: str,
    email: str,
    description: str = "",
    image: CheckedImage | None = None,
    extensions: dict | None = None,
) -> Issuer:
    """A new issuer; the user who makes it is its first owner."""
    issuer = Issuer(
        name=(name or "").strip(),
        url=(url or "").strip(),
        email=normalize_email_address(email or ""),
        description=description or "",
        extensions=extensions or {},
        created_by=actor,
    )
    _full_clean(issuer, exclude=["created_by"])
    _store_image(issuer, image)
    issuer.save()
    IssuerStaff.objects.create(issuer=issuer, user=actor, role=Role.OWNER)
    return issuer


def issuer_update(
    *,
    issuer: Issuer,
    image: CheckedImage | None = None,
    staff: list[tuple[str, str]] | None = None,
    actor: User | None = None,
    **fields,
) -> Issuer:
    """Change an issuer's details and, when `staff` is given, replace its staff as
    `issuer_staff_set` does. Everything is checked before anything is written, and the
    writes commit together: a bad staff list leaves the details unchanged too. A new
    name or website clears the issuer's verification, which was about them (compared
    with the stored row: a caller such as the admin's form may have set them already)."""
    before = (issuer.name, issuer.url)
    if issuer.verified_at is not None and issuer.pk is not None:
        before = Issuer.objects.values_list("name", "url").get(pk=issuer.pk)
    for name in ("name", "url", "description"):
        if fields.get(name) is not None:
            setattr(issuer, name, fields[name].strip() if name != "description" else fields[name])
    if fields.get("email") is not None:
        issuer.email = normalize_email_address(fields["email"])
    if fields.get("extensions") is not None:
        issuer.extensions = fields["extensions"]
    _full_clean(issuer, exclude=["created_by"])
    plan = _staff_plan(issuer, staff, actor=actor) if staff is not None else None
    with transaction.atomic():
        if plan is not None:
            _staff_apply(issuer, plan, actor=actor)
        _store_image(issuer, image)
        if issuer.verified_at is not None and (issuer.name, issuer.url) != before:
            _verification_set(issuer, by="", actor=actor)
        issuer.save()  # last: its receiver moves versions on (`laurels.core.versions`)
    return issuer


def _live_awards(awards: models.QuerySet) -> models.QuerySet:
    """Awards neither revoked nor expired: what stops a deletion."""
    return awards.filter(revoked=False).exclude(expires__lte=timezone.now())


@transaction.atomic
def issuer_delete(*, issuer: Issuer, actor: User | None = None) -> None:
    """As in Badgr, an issuer whose awards are all revoked or expired may be deleted,
    and those awards go with it (their documents answer 404 then). The issuer's row is
    locked first, so that no award is made meanwhile and the deleted awards' versions
    move on after every row this change writes is locked (`laurels.core.versions`)."""
    Issuer.objects.select_for_update().filter(pk=issuer.pk).first()
    if _live_awards(Assertion.objects.filter(issuer=issuer)).exists():
        raise IssuerHasAwards()
    list(BadgeClass.objects.select_for_update().filter(issuer=issuer).values_list("pk"))
    signals.issuer_deleted.send(
        sender=Issuer, actor=actor, detail={"issuer": issuer.entity_id, "name": issuer.name}
    )
    Assertion.objects.filter(issuer=issuer).delete()
    issuer.delete()


def issuer_staff_set(
    *, issuer: Issuer, staff: list[tuple[str, str]], actor: User | None = None
) -> list[IssuerStaff]:
    """Replace the staff list with `(person, role)` pairs, where a person is an email
    address or a user's entityId. An issuer always keeps at least one owner.

    A member, named by entityId or by an address their account holds verified, takes
    the role given, and members left out leave. Any other address is invited
    (`staff_invite`), in the same way whether or not an account holds it, so that the
    answer does not tell who has an account and nobody joins without accepting. Pending
    invitations stay (they are listed and cancelled on their own), but those of an owner
    who leaves or is demoted end (`_invitations_of_former_owners_end`).
    """
    plan = _staff_plan(issuer, staff, actor=actor)
    with transaction.atomic():
        _staff_apply(issuer, plan, actor=actor)
        return list(IssuerStaff.objects.filter(issuer=issuer).select_related("user"))


@dataclass(frozen=True)
class StaffPlan:
    """A checked staff list: members' new roles by user id, addresses to invite with
    their roles, and which of those may be mailed (`_staff_invitations_count`)."""

    members: dict[int, str]
    invited: dict[str, str]
    mailed: set[str]


def _staff_plan(issuer: Issuer, staff: list[tuple[str, str]], *, actor: User | None) -> StaffPlan:
    """Check a whole staff list before anything is written (ValidationError naming every
    problem), then count its invitations, which happens outside any transaction."""
    members: dict[int, str] = {}
    invited: dict[str, str] = {}
    errors: list[str] = []
    for person, role in staff:
        if role not in Role.values:
            errors.append(f"{role!r} is not a role; use owner, editor or staff.")
            continue
        member_id = _member_id(issuer, person)
        if member_id is not None:
            members[member_id] = role
        elif "@" in person and (address := _staff_address(person)):
            invited[address] = role
        else:
            errors.append(_not_a_member(person))
    if errors:
        raise ValidationError({"staff": errors})
    if Role.OWNER not in members.values():
        raise ValidationError({"staff": ["An issuer needs at least one owner."]})
    mailed = _staff_invitations_count(actor=actor, addresses=list(invited))
    return StaffPlan(members, invited, mailed)


def _staff_apply(issuer: Issuer, plan: StaffPlan, *, actor: User | None) -> None:
    """Write a checked staff list, inside the caller's transaction."""
    _lock(issuer)
    IssuerStaff.objects.filter(issuer=issuer).exclude(user_id__in=plan.members).delete()
    for user_id, role in plan.members.items():
        IssuerStaff.objects.update_or_create(
            issuer=issuer, user_id=user_id, defaults={"role": role}
        )
    _invitations_of_former_owners_end(issuer)
    for address, role in plan.invited.items():
        _staff_invitation_make(
            issuer=issuer, email=address, role=role, actor=actor, mail=address in plan.mailed
        )
    _staff_changed(issuer, actor=actor, detail={"invited": sorted(plan.invited)})


def issuer_staff_add(*, issuer: Issuer, person: str, role: str, actor: User) -> None:
    """Invite one person by email address, or give a member (named by address or
    entityId) a new role.

    Any address that is not a member's is invited (`staff_invite`), whether or not an
    account holds it: the caller is answered the same either way, and the person joins
    only by accepting. A member's new role applies at once; an owner demoted so loses
    their pending invitations.
    """
    if role not in Role.values:
        raise ValidationError({"role": [f"{role!r} is not a role; use owner, editor or staff."]})
    person = (person or "").strip()
    member_id = _member_id(issuer, person)
    if member_id is None:
        if "@" not in person:
            raise ValidationError({"user": [_not_a_member(person)]})
        if (address := _staff_address(person)) is None:
            raise ValidationError({"email": ["Enter a valid email address."]})
        staff_invite(issuer=issuer, email=address, role=role, actor=actor)
        return
    _member_change(issuer, member_id, role=role, actor=actor)


def issuer_staff_role_set(*, issuer: Issuer, person: str, role: str, actor: User) -> IssuerStaff:
    """Give the member `person` names (address or entityId) a new role, at once.

    Unlike `issuer_staff_add` this never invites: Badgr's v1 `modify` changes a member
    or is refused, and an owner may list the staff, so the refusal tells nothing new."""
    if role not in Role.values:
        raise ValidationError({"role": [f"{role!r} is not a role; use owner, editor or staff."]})
    member_id = _member_id(issuer, person)
    if member_id is None:
        raise ValidationError({"user": [_not_a_member(person)]})
    _member_change(issuer, member_id, role=role, actor=actor)
    return IssuerStaff.objects.select_related("user").get(issuer=issuer, user_id=member_id)


def issuer_staff_remove(*, issuer: Issuer, person: str, actor: User) -> bool:
    """Take the member `person` names off the staff; False when they were not on it
    (removing is idempotent, as in Badgr). An issuer keeps at least one owner."""
    member_id = _member_id(issuer, person)
    if member_id is None:
        return False
    _member_change(issuer, member_id, role=None, actor=actor)
    return True


def _member_change(issuer: Issuer, member_id: int, *, role: str | None, actor: User) -> None:
    """Set a member's role, or remove them (`role` None), in one transaction that keeps
    an owner; an owner demoted or removed so loses their pending invitations."""
    with transaction.atomic():
        _lock(issuer)
        member = IssuerStaff.objects.filter(issuer=issuer, user_id=member_id)
        if role is None:
            member.delete()
        else:
            member.update(role=role)
        if not IssuerStaff.objects.filter(issuer=issuer, role=Role.OWNER).exists():
            raise ValidationError({"role": ["An issuer needs at least one owner."]})
        _invitations_of_former_owners_end(issuer)
        _staff_changed(issuer, actor=actor)


def staff_invite(*, issuer: Issuer, email: str, role: str, actor: User | None) -> StaffInvitation:
    """Invite `email` to the staff as `role`: emailed now, accepted by a logged-in
    account holding the address verified (`staff_invitation_accept`), void after
    STAFF_INVITATION_LIFETIME. Inviting the same address again renews the invitation with
    the new role. RateLimited beyond the inviter's limit; beyond the address's, the
    invitation is made without a mail (`_staff_invitations_count`)."""
    mailed = _staff_invitations_count(actor=actor, addresses=[email])
    with transaction.atomic():
        return _staff_invitation_make(
            issuer=issuer, email=email, role=role, actor=actor, mail=email in mailed
        )


def _staff_invitations_count(*, actor: User | None, addresses: list[str]) -> set[str]:
    """Count invitations to `addresses` before they are made (outside any transaction):
    each against the inviter's limit (RateLimited beyond it: anyone may make an issuer,
    so owners are anyone) and against its address's mail limit. The addresses that may
    be mailed: an inbox gets a few invitations a window, however many owners send them."""
    window = settings.LAURELS_STAFF_INVITATION_RATE_WINDOW
    mailed = set()
    for address in addresses:
        if actor is not None:
            enforce_limits(
                Limit(
                    "staff-invitation:user",
                    f"user:{actor.pk}",
                    settings.LAURELS_STAFF_INVITATION_RATE_PER_USER,
                    window,
                ),
                message="You have sent too many staff invitations. Try again in {wait}.",
            )
        per_address = Limit(
            "staff-invitation:address",
            address,
            settings.LAURELS_STAFF_INVITATION_RATE_PER_ADDRESS,
            window,
        )
        if within_limits(per_address).allowed:
            mailed.add(address)
    return mailed


def _staff_invitation_make(
    *, issuer: Issuer, email: str, role: str, actor: User | None, mail: bool
) -> StaffInvitation:
    invitation, _ = StaffInvitation.objects.update_or_create(
        issuer=issuer,
        email=email,
        defaults={
            "role": role,
            "invited_by": actor,
            "expires_at": timezone.now() + STAFF_INVITATION_LIFETIME,
        },
    )
    if mail:
        base_url = settings.LAURELS_BASE_URL
        mail_send(
            email,
            "issuing/email/staff_invitation",
            {
                "issuer_name": _name_for_mail(issuer.name),
                "role": Role(role).label,
                "invited_by": actor,
                "invitations_url": f"{base_url}{reverse('web:staff_invitations')}",
                "signup_url": f"{base_url}{reverse('accounts:signup')}",
                "expires_at": invitation.expires_at,
            },
        )
    return invitation


def _name_for_mail(name: str) -> str:
    """An issuer's name as a mail quotes it: its owner typed it, so one line (no line of
    its own that could pass for ours) and short (no paragraph of instructions)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    return Truncator(line).chars(ISSUER_NAME_IN_MAIL_MAX)


@transaction.atomic
def staff_invitation_accept(*, user: User, entity_id: str) -> IssuerStaff:
    """`user`, logged in, accepts a live invitation sent to one of their verified
    addresses: they join with its role (an existing member keeps theirs). Single use.
    NotFound for any other invitation, whoever it was for."""
    invitation = _invitation_for(user=user, entity_id=entity_id)
    member, _ = IssuerStaff.objects.get_or_create(
        issuer=invitation.issuer, user=user, defaults={"role": invitation.role}
    )
    invitation.delete()
    invited_by = invitation.invited_by.entity_id if invitation.invited_by else None
    _staff_changed(invitation.issuer, actor=user, detail={"accepted_invitation_of": invited_by})
    return member


@transaction.atomic
def staff_invitation_decline(*, user: User, entity_id: str) -> None:
    _invitation_for(user=user, entity_id=entity_id).delete()


def _invitation_for(*, user: User, entity_id: str) -> StaffInvitation:
    addresses = EmailAddress.objects.filter(user=user, verified=True).values("email")
    invitation = (
        StaffInvitation.objects.select_for_update()
        .select_related("issuer")
        .filter(entity_id=entity_id, email__in=addresses, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        raise NotFound("You have no such invitation; it may have expired or been cancelled.")
    return invitation


@transaction.atomic
def staff_invitation_cancel(*, issuer: Issuer, entity_id: str) -> None:
    deleted, _ = StaffInvitation.objects.filter(issuer=issuer, entity_id=entity_id).delete()
    if not deleted:
        raise NotFound("This issuer has no such invitation.")


def _invitations_of_former_owners_end(issuer: Issuer) -> None:
    """An invitation speaks for its inviter as an owner: it ends when they leave the staff
    or are demoted (when their account goes, it goes with it: `invited_by` cascades)."""
    owners = IssuerStaff.objects.filter(issuer=issuer, role=Role.OWNER).values("user_id")
    StaffInvitation.objects.filter(issuer=issuer, invited_by__isnull=False).exclude(
        invited_by__in=owners
    ).delete()


def _lock(issuer: Issuer) -> None:
    """Lock the issuer's row until the transaction ends: staff changes take turns, so
    that two owners demoting each other at once cannot leave the issuer without one."""
    Issuer.objects.select_for_update().filter(pk=issuer.pk).values_list("pk").first()


def _staff_changed(issuer: Issuer, *, actor: User | None, detail: dict | None = None) -> None:
    """The issuer's change feed shows staff changes, and the audit trail records the
    staff as it now is (`signals.issuer_staff_changed`)."""
    Issuer.objects.filter(pk=issuer.pk).update(updated_at=timezone.now())
    staff = IssuerStaff.objects.filter(issuer=issuer).order_by("user_id")
    signals.issuer_staff_changed.send(
        sender=Issuer,
        actor=actor,
        detail={
            "issuer": issuer.entity_id,
            "staff": [list(member) for member in staff.values_list("user__entity_id", "role")],
            **(detail or {}),
        },
    )


def _member_id(issuer: Issuer, person: str) -> int | None:
    """The user id of the member `person` names: by entityId, or by an address their
    account holds verified (`selectors.staff_member`)."""
    member = selectors.staff_member(issuer=issuer, person=person)
    return member.user_id if member is not None else None


def _not_a_member(person: str) -> str:
    return f"{person} is not on the staff; invite new staff by email address."


def _staff_address(person: str) -> str | None:
    """`person` as a normalized email address, or None when it is not one."""
    address = normalize_email_address(person or "")
    try:
        validate_email(address)
    except ValidationError:
        return None
    return address


# --- badge classes ---------------------------------------------------------------------------


def _clean_expiry(amount: int | None, unit: str | None) -> tuple[int | None, str]:
    if amount in (None, 0) and not unit:
        return None, ""
    if not amount or amount < 1 or unit not in ExpiryUnit.values:
        raise ValidationError(
            {
                "expires": [
                    "Give an amount of at least 1 and a duration of days, weeks, months or years."
                ]
            }
        )
    if amount > EXPIRY_LIMITS[unit]:
        raise ValidationError(
            {"expires": [f"An expiry is at most 100 years ({EXPIRY_LIMITS[unit]} {unit})."]}
        )
    return amount, unit


@transaction.atomic
def badge_class_create(
    *,
    issuer: Issuer,
    actor: User,
    name: str,
    description: str,
    image: CheckedImage | None,
    criteria_url: str = "",
    criteria_narrative: str = "",
    alignments: list | None = None,
    tags: list[str] | None = None,
    expires_amount: int | None = None,
    expires_duration: str | None = None,
    extensions: dict | None = None,
) -> BadgeClass:
    """Criteria are optional, as in Badgr: without them the badge class's public page
    is its Open Badges criteria (`openbadges.documents`)."""
    if image is None:
        raise ValidationError({"image": ["A badge class needs an image (PNG or SVG)."]})
    amount, unit = _clean_expiry(expires_amount, expires_duration)
    badge_class = BadgeClass(
        issuer=issuer,
        name=(name or "").strip(),
        description=description or "",
        criteria_url=criteria_url or "",
        criteria_narrative=criteria_narrative or "",
        alignments=alignments or [],
        tags=[t.strip() for t in tags or [] if t.strip()],
        expires_amount=amount,
        expires_duration=unit,
        extensions=extensions or {},
        hosted_origin=issuer.hosted_origin,  # where its issuer's ids live, as its awards
        created_by=actor,
    )
    _full_clean(badge_class, exclude=["issuer", "created_by"])
    _store_image(badge_class, image)
    badge_class.save()
    Issuer.objects.filter(pk=issuer.pk).update(updated_at=timezone.now())
    return badge_class


@transaction.atomic
def badge_class_update(
    *, badge_class: BadgeClass, image: CheckedImage | None = None, **fields
) -> BadgeClass:
    for name in ("name", "description", "criteria_url", "criteria_narrative", "alignments"):
        if fields.get(name) is not None:
            setattr(badge_class, name, fields[name])
    if fields.get("tags") is not None:
        badge_class.tags = [t.strip() for t in fields["tags"] if t.strip()]
    if fields.get("extensions") is not None:
        badge_class.extensions = fields["extensions"]
    if "expires_amount" in fields or "expires_duration" in fields:
        badge_class.expires_amount, badge_class.expires_duration = _clean_expiry(
            fields.get("expires_amount"), fields.get("expires_duration")
        )
    _full_clean(badge_class, exclude=["issuer", "created_by"])
    _store_image(badge_class, image)
    badge_class.save()
    return badge_class


@transaction.atomic
def badge_class_delete(*, badge_class: BadgeClass, actor: User | None = None) -> None:
    """As `issuer_delete`: allowed once every award is revoked or expired, which go too."""
    BadgeClass.objects.select_for_update().filter(pk=badge_class.pk).first()
    if _live_awards(Assertion.objects.filter(badge_class=badge_class)).exists():
        raise BadgeClassHasAwards()
    signals.badge_class_deleted.send(
        sender=BadgeClass,
        actor=actor,
        detail={
            "issuer": badge_class.issuer.entity_id,
            "badge_class": badge_class.entity_id,
            "name": badge_class.name,
        },
    )
    Assertion.objects.filter(badge_class=badge_class).delete()
    badge_class.delete()


# --- awards ----------------------------------------------------------------------------------


def clean_evidence(evidence: list[dict], field_name: str) -> list[dict]:
    """Evidence as it is kept: each item a `url` (http or https only: pages link it) or a
    `narrative` or both, trimmed; ValidationError under `field_name` otherwise. Public
    because every way an award is written checks it alike (the API, `badgr.services`)."""
    cleaned = []
    for item in evidence or []:
        url = (item.get("url") or "").strip()
        narrative = (item.get("narrative") or "").strip()
        if not url and not narrative:
            raise ValidationError({field_name: ["Each evidence item needs a url or a narrative."]})
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                raise ValidationError({field_name: [f"{url} is not a valid URL."]}) from None
        cleaned.append({k: v for k, v in (("url", url), ("narrative", narrative)) if v})
    return cleaned


def _award_row(
    badge_class: BadgeClass, award: AwardInput, actor_id: int | None, now: datetime, prefix: str
) -> dict:
    """One validated award as the column values of its row (by attribute name)."""
    recipient = award.recipient
    identity = recipient_normalized(recipient, field_name=f"{prefix}recipient")
    hashed = recipient_hashed(recipient)
    salt = secrets.token_hex(16) if hashed else ""
    issued_on = checked_instant(award.issued_on or now, f"{prefix}issued_on")
    expires = award.expires
    if expires is not None:
        expires = checked_instant(expires, f"{prefix}expires")
    elif badge_class.expires_amount:
        expires = award_expiry(issued_on, badge_class, f"{prefix}expires")
    if expires is not None and expires <= issued_on:
        raise ValidationError({f"{prefix}expires": ["The expiry must come after the award."]})
    return {
        "entity_id": new_entity_id(),
        "badge_class_id": badge_class.pk,
        "issuer_id": badge_class.issuer_id,
        "recipient_type": str(recipient.type),
        "recipient_plaintext": identity,
        "recipient_identity": recipient_identity_hash(identity, salt) if hashed else identity,
        "recipient_hashed": hashed,
        "recipient_salt": salt,
        "recipient_name": (recipient.name or "").strip()[:255],
        "narrative": award.narrative or "",
        "evidence": clean_evidence(award.evidence, f"{prefix}evidence"),
        "issued_on": issued_on,
        "expires": expires,
        "revoked": False,
        "revocation_reason": "",
        "acceptance": Acceptance.UNACCEPTED.value,
        "extensions": award.extensions or {},
        # Where its issuer's ids live (`laurels.core.public.url_of`): a verifier accepts a
        # hosted award only on its issuer id's host, which a Badgr issuer brought over keeps.
        "hosted_origin": badge_class.issuer.hosted_origin,
        "created_by_id": actor_id,
        "created_at": now,
        "updated_at": now,
    }


def assertions_award(
    *,
    badge_class: BadgeClass,
    awards: list[AwardInput],
    actor: User | None,
    notify: bool = False,
    allow_duplicate_awards: bool = True,
) -> list[Assertion]:
    """Award `badge_class` to every recipient in one transaction: all or none.

    Every recipient is validated before anything is written; the rows are inserted in
    bulk. `allow_duplicate_awards=False` refuses recipients who already hold a live award
    of this badge (or appear twice in the batch). The awards come back as saved, with
    their badge class, issuer and creator loaded.
    """
    if not awards:
        raise ValidationError({"assertions": ["Give at least one recipient."]})
    if len(awards) > MAX_BATCH:
        raise ValidationError({"assertions": [f"At most {MAX_BATCH} recipients per request."]})
    now = timezone.now()
    actor_id = actor.pk if actor is not None else None
    batch = len(awards) > 1
    errors: dict[str, list[str]] = {}
    rows: list[dict] = []
    for index, award in enumerate(awards):
        prefix = f"assertions.{index}." if batch else ""
        try:
            rows.append(_award_row(badge_class, award, actor_id, now, prefix))
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    # Rendered before the transaction (a mail needs no id the insert makes): 10,000 of
    # them take seconds, which no lock should wait for.
    mails = _award_mails(badge_class, rows) if notify else []
    with transaction.atomic():
        if not allow_duplicate_awards:
            _refuse_duplicates(badge_class, rows)
        created = _insert_assertions(rows)
        mails_send(mails)
        BadgeClass.objects.filter(pk=badge_class.pk).update(updated_at=now)
        signals.assertions_awarded.send(
            sender=Assertion,
            actor=actor,
            detail={
                "issuer": badge_class.issuer.entity_id,
                "badge_class": badge_class.entity_id,
                "assertions": [award.entity_id for award in created],
            },
        )
        # The bulk insert sends no signals: move the lists that show the awards on here,
        # last (`laurels.core.versions`: row locks before version locks).
        versions_bump(
            award_versions(
                issuer_id=badge_class.issuer_id,
                recipients=[(row["recipient_type"], row["recipient_plaintext"]) for row in rows],
            )
        )
    related = {"badge_class": badge_class, "issuer": badge_class.issuer, "created_by": actor}
    for name, value in related.items():
        relation = Assertion._meta.get_field(name)
        for assertion in created:
            relation.set_cached_value(assertion, value)
    return created


INSERT_CHUNK = 1000


def _insert_assertions(rows: list[dict]) -> list[Assertion]:
    """Insert validated award rows with one prepared statement per chunk, and return
    them as saved model instances.

    `bulk_create` spends most of a 10,000-award batch building model instances through
    their field defaults and related descriptors, then preparing every field of every row;
    the values here are already clean, so each row is adapted once, with the backend's
    own adapters for dates and JSON, and made an instance the way a query result is.
    """
    fields = Assertion._meta.concrete_fields
    inserted = [column for column in fields if not column.primary_key]
    columns = [column.attname for column in inserted]
    if set(columns) != set(rows[0]):
        raise ValueError(
            f"Award rows must name every column: {sorted(set(columns) ^ set(rows[0]))}"
        )
    ops = connection.ops
    adapters: list[tuple[int, Callable]] = []  # (position, adapter) of columns needing one
    for position, column in enumerate(inserted):
        if isinstance(column, models.DateTimeField):
            # A batch shares a handful of moments (now, its issue date): adapt each once.
            adapters.append((position, lru_cache(maxsize=64)(ops.adapt_datetimefield_value)))
        elif isinstance(column, models.JSONField):
            adapters.append((position, _json_adapter(ops, column.encoder)))
    table = ops.quote_name(Assertion._meta.db_table)
    insert = (
        f"INSERT INTO {table} ({', '.join(ops.quote_name(column) for column in columns)}) "  # noqa: S608 (names are ours)
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    values = []
    for row in rows:
        adapted = [row[column] for column in columns]
        for position, adapt in adapters:
            adapted[position] = adapt(adapted[position])
        values.append(adapted)
    pk_of: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(values), INSERT_CHUNK):
            cursor.executemany(insert, values[start : start + INSERT_CHUNK])
            chunk = [row["entity_id"] for row in rows[start : start + INSERT_CHUNK]]
            cursor.execute(
                f"SELECT entity_id, id FROM {table} "  # noqa: S608 (names are ours)
                f"WHERE entity_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            pk_of.update(cursor.fetchall())
    return [loaded_instance(Assertion, {"id": pk_of[row["entity_id"]], **row}) for row in rows]


def _json_adapter(ops, encoder) -> Callable:
    """The backend's JSON adapter, with the empty list and object (most awards' evidence
    and extensions) made once."""
    empty_list = ops.adapt_json_value([], encoder)
    empty_object = ops.adapt_json_value({}, encoder)

    def adapt(value):
        if value == []:
            return empty_list
        if value == {}:
            return empty_object
        return ops.adapt_json_value(value, encoder)

    return adapt


def assertion_award(
    *,
    badge_class: BadgeClass,
    award: AwardInput,
    actor: User | None,
    notify: bool = False,
    allow_duplicate_awards: bool = True,
) -> Assertion:
    return assertions_award(
        badge_class=badge_class,
        awards=[award],
        actor=actor,
        notify=notify,
        allow_duplicate_awards=allow_duplicate_awards,
    )[0]


def _refuse_duplicates(badge_class: BadgeClass, rows: list[dict]) -> None:
    """DuplicateAward when a recipient already holds a live award of `badge_class`.

    Called inside the award's transaction. The badge class row is locked first, so two
    awards that check at once take turns: the second checks after the first committed
    and sees its award (a bare check-then-insert lets both insert on PostgreSQL)."""
    keys = [(row["recipient_type"], row["recipient_plaintext"]) for row in rows]
    if len(set(keys)) != len(keys):
        raise DuplicateAward("The same recipient appears more than once.")
    BadgeClass.objects.select_for_update().filter(pk=badge_class.pk).values_list("pk").first()
    held = Assertion.objects.filter(
        badge_class=badge_class,
        revoked=False,
        recipient_plaintext__in=[identity for _, identity in keys],
    ).exists()
    if held:
        raise DuplicateAward()


def _award_mails(badge_class: BadgeClass, rows: list[dict]) -> list[Mail]:
    """The award mails of validated award rows (`_award_row`), one per email
    recipient; written to the outbox in the awards' own transaction, so the jobs runner
    sends them once it commits, never the request (`laurels.jobs.mail`)."""
    context = {"badge_class": badge_class, "issuer": badge_class.issuer}
    return [
        mail_render(
            row["recipient_plaintext"], "issuing/email/awarded", {**context, "assertion": row}
        )
        for row in rows
        if row["recipient_type"] == RecipientType.EMAIL
    ]


@transaction.atomic
def assertion_update(
    *,
    assertion: Assertion,
    narrative: str | None = None,
    evidence: list[dict] | None = None,
    expires: datetime | None = None,
    clear_expiry: bool = False,
    extensions: dict | None = None,
) -> Assertion:
    if narrative is not None:
        assertion.narrative = narrative
    if extensions is not None:
        assertion.extensions = extensions
    if evidence is not None:
        assertion.evidence = clean_evidence(evidence, "evidence")
    if clear_expiry:
        assertion.expires = None
    elif expires is not None:
        expires = checked_instant(expires, "expires")
        if expires <= assertion.issued_on:
            raise ValidationError({"expires": ["The expiry must come after the award."]})
        assertion.expires = expires
    assertion.save()
    return assertion


@transaction.atomic
def assertion_revoke(*, assertion: Assertion, reason: str, actor: User | None = None) -> Assertion:
    """Revoke an award; it stays visible, marked revoked with its reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"revocation_reason": ["Say why the award is revoked."]})
    # Read again under a row lock: of two revokes at once, the second sees the first.
    locked = Assertion.objects.select_for_update().filter(pk=assertion.pk)
    if assertion.revoked or locked.values_list("revoked", flat=True).first():
        raise Conflict("This award is already revoked.")
    assertion.revoked = True
    assertion.revocation_reason = reason[:500]
    assertion.save(update_fields=["revoked", "revocation_reason", "updated_at"])
    signals.assertion_revoked.send(
        sender=Assertion,
        actor=actor,
        detail={
            "issuer": assertion.issuer.entity_id,
            "badge_class": assertion.badge_class.entity_id,
            "assertion": assertion.entity_id,
            "reason": assertion.revocation_reason,
        },
    )
    return assertion


# --- Award batches ---------------------------------------------------------------------------
# A CSV checked row by row (`issuing.award_files`), kept as an `AwardBatch`, then awarded
# by the queued task `issuing.award_batch` in chunks (docs/issuing.md, "Award batches").

AWARD_BATCH_TASK = "issuing.award_batch"
AWARD_BATCH_CHUNK = 500
# Live awards looked up per query when a check refuses duplicates.
_DUPLICATE_LOOKUP_CHUNK = 500


def award_batch_input(row: dict) -> AwardInput:
    """The award one checked batch row (`AwardBatch.rows`) stands for."""
    evidence_url = row.get("evidence_url") or ""
    return AwardInput(
        recipient=Recipient(
            identity=row.get("identity") or "",
            type=row.get("type") or RecipientType.EMAIL,
            name=row.get("name") or "",
        ),
        narrative=row.get("narrative") or "",
        evidence=[{"url": evidence_url}] if evidence_url else [],
    )


def awards_check(
    *, badge_class: BadgeClass, awards: list[AwardInput], allow_duplicate_awards: bool = True
) -> dict[int, list[str]]:
    """Every problem of every award, by its index, as `assertions_award` would refuse
    it (the same row checks), without writing anything. With `allow_duplicate_awards`
    False, a recipient named twice, or already holding a live award of `badge_class`,
    is a problem too (checked again when the awards are written)."""
    now = timezone.now()
    problems: dict[int, list[str]] = {}
    keys: dict[int, tuple[str, str]] = {}
    for index, award in enumerate(awards):
        try:
            row = _award_row(badge_class, award, None, now, "")
        except ValidationError as error:
            problems[index] = [m for messages in error.message_dict.values() for m in messages]
        else:
            keys[index] = (row["recipient_type"], row["recipient_plaintext"])
    if allow_duplicate_awards:
        return problems
    first: dict[tuple[str, str], int] = {}
    for index, key in keys.items():
        if key in first:
            problems.setdefault(index, []).append(f"{key[1]} appears more than once in the file.")
        else:
            first[key] = index
    identities = sorted({identity for _, identity in first})
    held: set[str] = set()
    live = Assertion.objects.filter(badge_class=badge_class, revoked=False)
    for start in range(0, len(identities), _DUPLICATE_LOOKUP_CHUNK):
        chunk = identities[start : start + _DUPLICATE_LOOKUP_CHUNK]
        held.update(
            live.filter(recipient_plaintext__in=chunk).values_list("recipient_plaintext", flat=True)
        )
    for key, index in first.items():
        if key[1] in held:
            problems.setdefault(index, []).append(f"{key[1]} already holds this badge.")
    return problems


@transaction.atomic
def award_batch_create(
    *,
    badge_class: BadgeClass,
    rows: list[dict],
    actor: User | None,
    allow_duplicate_awards: bool = True,
    file_name: str = "",
) -> AwardBatch:
    """Keep checked rows (`award_files.CheckedCsv.rows`) as a batch ready to start.
    The caller has checked the rows and the actor's right to award."""
    if not rows:
        raise ValidationError({"file": ["The file has no rows to award."]})
    if len(rows) > MAX_BATCH:
        raise ValidationError({"file": [f"At most {MAX_BATCH} rows per file."]})
    return AwardBatch.objects.create(
        issuer_id=badge_class.issuer_id,
        badge_class=badge_class,
        created_by=actor,
        total=len(rows),
        rows=rows,
        allow_duplicate_awards=allow_duplicate_awards,
        file_name=(file_name or "")[:255],
    )


@transaction.atomic
def award_batch_start(*, batch: AwardBatch, notify: bool = False) -> AwardBatch:
    """Queue a ready batch's awards (once: a batch already started is a Conflict). The
    job exists exactly when this commits (`laurels.jobs.services.job_enqueue`)."""
    started = AwardBatch.objects.filter(pk=batch.pk, status=AwardBatchStatus.READY).update(
        status=AwardBatchStatus.QUEUED, notify=notify, updated_at=timezone.now()
    )
    if not started:
        raise Conflict("This batch has already been started.")
    job_enqueue(AWARD_BATCH_TASK, batch=batch.pk)
    batch.status, batch.notify = AwardBatchStatus.QUEUED, notify
    return batch


def award_batch_run(*, batch: int) -> None:
    """The task: award the batch's rows chunk by chunk until every row is done. Safe to
    run again (jobs run at least once): it goes on from the rows already done."""
    while _award_batch_step(batch):
        pass


def _award_batch_step(batch_pk: int) -> bool:
    """Award the next chunk; whether rows are left. The chunk's awards, the batch's
    `done` and its `results` commit in one transaction, taken under a lock on the
    batch's row, so that two runners never award the same rows."""
    with transaction.atomic():
        batch = (
            AwardBatch.objects.select_for_update(of=("self",))
            .select_related("badge_class__issuer", "created_by")
            .filter(pk=batch_pk)
            .first()
        )
        if batch is None or batch.status not in (
            AwardBatchStatus.QUEUED,
            AwardBatchStatus.RUNNING,
        ):
            return False
        if not _award_batch_creator_may_award(batch):
            _award_batch_refuse_rest(batch, BATCH_CREATOR_LEFT)
            batch.save(update_fields=["results", "done", "status", "updated_at"])
            return False
        chunk = batch.rows[batch.done : batch.done + AWARD_BATCH_CHUNK]
        if chunk:
            batch.results = [*batch.results, *_award_batch_chunk(batch, chunk)]
        batch.done += len(chunk)
        finished = batch.done >= batch.total or not chunk
        batch.status = AwardBatchStatus.DONE if finished else AwardBatchStatus.RUNNING
        batch.save(update_fields=["results", "done", "status", "updated_at"])
    return not finished


# A checked file nobody started is dropped after a day; a finished batch (its rows and
# results: recipients' addresses) after 90 days (docs/issuing.md, "Award batches").
UNSTARTED_BATCH_KEPT = timedelta(days=1)
FINISHED_BATCH_KEPT = timedelta(days=90)


def award_batches_prune(now: datetime | None = None) -> int:
    """The periodic task: delete batches checked but never started, and finished ones
    past their keeping time; how many went. Queued and running batches stay."""
    now = now or timezone.now()
    unstarted = models.Q(status=AwardBatchStatus.READY, updated_at__lt=now - UNSTARTED_BATCH_KEPT)
    finished = models.Q(
        status__in=(AwardBatchStatus.DONE, AwardBatchStatus.FAILED),
        updated_at__lt=now - FINISHED_BATCH_KEPT,
    )
    deleted, _ = AwardBatch.objects.filter(unstarted | finished).delete()
    return deleted


BATCH_CREATOR_LEFT = (
    "Not awarded: whoever started the batch is no longer on the issuer's staff "
    "(or their account is closed)."
)
BATCH_GAVE_UP = (
    "Not awarded: the batch stopped on an unexpected error, retried and failed again "
    "(the server's log says why). Upload the rows not awarded as a new file to try again."
)


def award_batch_gave_up(*, batch: int) -> None:
    """The task's last attempt failed: end the batch as failed, each row not yet done
    saying why, so its page stops waiting and the rows already awarded stay listed."""
    with transaction.atomic():
        found = AwardBatch.objects.select_for_update().filter(pk=batch).first()
        if found is None or found.status not in (AwardBatchStatus.QUEUED, AwardBatchStatus.RUNNING):
            return
        _award_batch_refuse_rest(found, BATCH_GAVE_UP)
        found.save(update_fields=["results", "done", "status", "updated_at"])


def _award_batch_creator_may_award(batch: AwardBatch) -> bool:
    """Whether the person who started the batch may still award: checked before every
    chunk, since a batch runs after the page that started it (staff may be removed, an
    account closed, in between). Awarding needs any role on the issuer's staff."""
    creator = batch.created_by
    if creator is None or not creator.is_active:
        return False
    return selectors.issuer_role(user=creator, issuer=batch.badge_class.issuer) is not None


def _award_batch_refuse_rest(batch: AwardBatch, reason: str) -> None:
    """End the batch as failed: each row not yet done gets `reason` in the results."""
    rest = batch.rows[batch.done :]
    batch.results = [*batch.results, *([row["line"], row["identity"], "", reason] for row in rest)]
    batch.done = batch.total
    batch.status = AwardBatchStatus.FAILED


def _award_batch_chunk(batch: AwardBatch, chunk: list[dict]) -> list[list]:
    """Award `chunk` at once; when any row is refused (a recipient awarded since the
    check, say), each row on its own, so the others are still awarded and the refused
    ones say why. One `[line, identity, award entityId, error]` per row."""
    options = {
        "badge_class": batch.badge_class,
        "actor": batch.created_by,
        "notify": batch.notify,
        "allow_duplicate_awards": batch.allow_duplicate_awards,
    }
    try:
        with transaction.atomic():
            made = assertions_award(awards=[award_batch_input(r) for r in chunk], **options)
        return [
            [r["line"], r["identity"], a.entity_id, ""] for r, a in zip(chunk, made, strict=True)
        ]
    except (ValidationError, Conflict):
        pass
    results = []
    for row in chunk:
        try:
            with transaction.atomic():
                award = assertion_award(award=award_batch_input(row), **options)
        except ValidationError as error:
            results.append([row["line"], row["identity"], "", " ".join(error.messages)])
        except Conflict as error:
            results.append([row["line"], row["identity"], "", error.message])
        else:
            results.append([row["line"], row["identity"], award.entity_id, ""])
    return results


# --- verified issuers ------------------------------------------------------------------------


@transaction.atomic
def issuer_verify(*, issuer: Issuer, by: str, actor: User | None = None) -> Issuer:
    """Show the issuer as verified: `by` is an `IssuerVerification` (an administrator's
    review, or a domain check, `issuing.verification`). Audited."""
    if by not in IssuerVerification.values:
        raise ValidationError({"verified_by": ["Unknown kind of verification."]})
    _verification_set(issuer, by=by, actor=actor)
    issuer.save()
    return issuer


@transaction.atomic
def issuer_unverify(*, issuer: Issuer, actor: User | None = None) -> Issuer:
    """Stop showing the issuer as verified. Audited."""
    _verification_set(issuer, by="", actor=actor)
    issuer.save()
    return issuer


def _verification_set(issuer: Issuer, *, by: str, actor: User | None) -> None:
    """Set (or, with `by=""`, clear) the verification in memory and record the change;
    the caller saves the issuer in the same transaction."""
    issuer.verified_at = timezone.now() if by else None
    issuer.verified_by = by
    signals.issuer_verification_changed.send(
        sender=Issuer, actor=actor, detail={"issuer": issuer.entity_id, "verified_by": by}
    )
