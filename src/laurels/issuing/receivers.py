"""What issuing's rows move on when they change (`laurels.core.versions`).

Connected to the models' own signals in `IssuingConfig.ready`, so that every path that
saves or deletes a row (services, the admin, the shell, cascades of a deleted account)
moves the versions of the kept answers that show it, inside the same transaction.
Bulk writes that send no signals (the batch award insert) bump in their service.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.dispatch import receiver

from laurels.accounts.models import EmailAddress, User
from laurels.accounts.services import AccountDeletionBlocked, DeletionBlocker
from laurels.accounts.signals import (
    account_deleting,
    account_deletion_blockers,
    two_factor_role_asked,
)
from laurels.core import versions
from laurels.core.public import url_of
from laurels.core.versions import version_name
from laurels.issuing.models import (
    Assertion,
    BadgeClass,
    Issuer,
    IssuerStaff,
    RecipientType,
    Role,
    StaffInvitation,
)

OLD_RECIPIENT = "_laurels_old_recipient"


def award_versions(
    *, issuer_id: int, recipients: list[tuple[str, str]], assertion_ids=()
) -> list[str]:
    """The versions an award (or a batch) moves: its issuer's award list, the backpacks
    of its email recipients and the awards' hosted documents."""
    names = [version_name(versions.ISSUER_AWARDS, issuer_id)]
    names += [
        version_name(versions.AWARDS_TO, identity)
        for kind, identity in recipients
        if kind == RecipientType.EMAIL
    ]
    names += [version_name(versions.ASSERTION_DOCUMENT, pk) for pk in assertion_ids]
    return names


def assertion_recipient_remember(sender, instance: Assertion, update_fields=None, **kwargs):
    """Before an award is saved with its recipient possibly changed (the admin edits
    whole rows), remember whom it was for: that backpack loses it."""
    if instance.pk is None or (
        update_fields is not None and "recipient_plaintext" not in update_fields
    ):
        return
    old = (
        Assertion.objects.filter(pk=instance.pk)
        .values_list("recipient_type", "recipient_plaintext")
        .first()
    )
    setattr(instance, OLD_RECIPIENT, old)


def assertion_changed(sender, instance: Assertion, **kwargs) -> None:
    recipients = [(instance.recipient_type, instance.recipient_plaintext)]
    if old := getattr(instance, OLD_RECIPIENT, None):
        recipients.append(old)
    versions.versions_bump(
        award_versions(
            issuer_id=instance.issuer_id, recipients=recipients, assertion_ids=[instance.pk]
        )
    )


# What backpack lists show of badge classes and issuers (`backpack.selectors`): a change
# to any other field leaves every backpack as it was, so it leaves `catalog:` alone.
CATALOG_FIELDS = {
    BadgeClass: ("name", "description", "criteria_url", "criteria_narrative"),
    Issuer: ("name", "url"),
}
OLD_CATALOG = "_laurels_old_catalog"


def catalog_fields_remember(sender, instance, update_fields=None, **kwargs) -> None:
    """Before a badge class or issuer is saved, remember what backpacks show of it as
    stored, so that `_catalog_changed` bumps the one `catalog:` version (every backpack
    list is kept under it) only when that changed."""
    fields = CATALOG_FIELDS[sender]
    if instance.pk is None or (update_fields is not None and not set(fields) & set(update_fields)):
        return
    setattr(
        instance, OLD_CATALOG, sender.objects.filter(pk=instance.pk).values_list(*fields).first()
    )


def _catalog_changed(instance) -> bool:
    old = getattr(instance, OLD_CATALOG, None)
    if old is None:
        return False
    delattr(instance, OLD_CATALOG)
    return tuple(getattr(instance, name) for name in CATALOG_FIELDS[type(instance)]) != old


# The version of the hosted documents each catalog entry's save moves on.
DOCUMENT_VERSION = {
    BadgeClass: versions.BADGE_CLASS_DOCUMENT,
    Issuer: versions.ISSUER_DOCUMENTS,
}


def catalog_entry_changed(
    sender, instance: BadgeClass | Issuer, created: bool = False, **kwargs
) -> None:
    """A saved badge class or issuer moves its hosted documents on, and backpacks when
    what they show changed; nothing shows a new one yet. Connected to post_save only: a
    badge class or issuer is deleted only without awards (`BadgeClassHasAwards`, and the
    awards' foreign keys protect them), so no backpack showed it, and its documents are
    gone (404)."""
    if created:
        return
    names = [version_name(DOCUMENT_VERSION[sender], instance.pk)]
    if _catalog_changed(instance):
        names.append(version_name(versions.CATALOG))
    versions.versions_bump(names)


def creator_leaving(sender, instance: User, **kwargs) -> None:
    """Award lists show who made each award; the account's deletion blanks that
    (`created_by` is set null). The account's row is locked first, so no award naming it
    can commit after the issuers were read here (an insert referencing it waits)."""
    list(User._default_manager.select_for_update().filter(pk=instance.pk).values_list("pk"))
    issuer_ids = (
        Assertion.objects.filter(created_by=instance).values_list("issuer_id", flat=True).distinct()
    )
    versions.versions_bump(version_name(versions.ISSUER_AWARDS, pk) for pk in issuer_ids)


# --- an account being deleted (`accounts.signals`; connected here, when `IssuingConfig.ready`
# imports this module) ---------------------------------------------------------------------

LAST_OWNER_ADVICE = (
    "Make another member an owner, or delete the issuer once its awards are revoked or expired."
)


def issuers_only_owned_by(user: User) -> QuerySet[Issuer]:
    """The issuers `user` owns with no other owner: an issuer always keeps one, so these
    stop the account's deletion."""
    other_owners = IssuerStaff.objects.filter(issuer=OuterRef("pk"), role=Role.OWNER).exclude(
        user=user
    )
    owned = Issuer.objects.filter(staff__user=user, staff__role=Role.OWNER)
    return owned.exclude(Exists(other_owners)).order_by("name", "pk")


def _blockers(user: User) -> list[DeletionBlocker]:
    return [
        DeletionBlocker(name=issuer.name, url=url_of("issuers", issuer), advice=LAST_OWNER_ADVICE)
        for issuer in issuers_only_owned_by(user)
    ]


@receiver(account_deletion_blockers, dispatch_uid="issuing-last-owner")
def last_owner_blocks_deletion(sender, *, user: User, **kwargs) -> list[DeletionBlocker]:
    return _blockers(user)


@receiver(account_deleting, dispatch_uid="issuing-account-leaving")
def account_leaves_issuers(sender, *, user: User, **kwargs) -> None:
    """The person leaves every issuer's staff (each audited as a staff change), refused
    while they are an issuer's last owner; their invitations, sent and received, end.
    What they made as staff stays the issuer's (`created_by` is set null). The issuers
    are locked first, as every staff change does, so two owners deleting their accounts
    at once cannot leave an issuer without one."""
    from laurels.issuing import services  # here: `services` imports this module

    memberships = IssuerStaff.objects.filter(user=user).order_by("issuer_id")
    issuer_ids = list(memberships.values_list("issuer_id", flat=True))
    list(Issuer.objects.select_for_update().filter(pk__in=issuer_ids).order_by("pk").values("pk"))
    if blockers := _blockers(user):
        raise AccountDeletionBlocked(blockers)
    for issuer in Issuer.objects.filter(pk__in=issuer_ids).order_by("pk"):
        services.issuer_staff_remove(issuer=issuer, person=user.entity_id, actor=user)
    verified = EmailAddress.objects.filter(user=user, verified=True).values("email")
    StaffInvitation.objects.filter(invited_by=user).delete()
    StaffInvitation.objects.filter(email__in=verified).delete()


# --- who must use two-factor log-in (`accounts.signals`; connected here, when
# `IssuingConfig.ready` imports this module) ------------------------------------------------


@receiver(two_factor_role_asked, dispatch_uid="issuing-two-factor-staff")
def issuer_staff_needs_two_factor(sender, *, user: User, **kwargs) -> bool:
    """A role on any issuer makes issuer staff, whom LAURELS_TWO_FACTOR_REQUIRED=staff
    asks for two-factor log-in (`accounts.two_factor.two_factor_required`)."""
    return IssuerStaff.objects.filter(user=user).exists()
