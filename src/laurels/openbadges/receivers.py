"""What a change of an issuer's or badge class's origin moves on (`laurels.core.versions`).

Lists of awards show the Open Badges ids of each award's badge class and issuer
(`laurels.core.public.url_of`), which follow those rows' `hosted_origin`: an issuer's
award list (`/v2/issuers/{id}/assertions`) and every backpack (the catalog) are kept
under versions that a badge class's or issuer's save does not otherwise move. Hosted
documents need nothing here: they are kept under the origins themselves
(`services.document_versions`).
"""

from __future__ import annotations

from laurels.core import versions
from laurels.core.versions import version_name
from laurels.issuing.models import BadgeClass, Issuer

OLD_ORIGIN = "_laurels_old_hosted_origin"


def origin_remember(sender, instance: BadgeClass | Issuer, update_fields=None, **kwargs) -> None:
    """Before a saved badge class or issuer is written, remember its stored origin."""
    if instance.pk is None or (update_fields is not None and "hosted_origin" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("hosted_origin", flat=True)
    setattr(instance, OLD_ORIGIN, stored.first())


def origin_changed(sender, instance: BadgeClass | Issuer, created: bool = False, **kwargs) -> None:
    """A moved origin moves the issuer's award list and the backpacks on, last in the
    save's transaction (row locks before version locks)."""
    old = instance.__dict__.pop(OLD_ORIGIN, None)
    if created or old is None or old == instance.hosted_origin:
        return
    issuer_id = instance.pk if sender is Issuer else instance.issuer_id
    versions.versions_bump(
        [version_name(versions.ISSUER_AWARDS, issuer_id), version_name(versions.CATALOG)]
    )


def awards_changed(sender, detail: dict, **kwargs) -> None:
    """Awards made or revoked: their hosted documents are rendered and kept once the
    change commits (`laurels.openbadges.kept`; the task is queued in its transaction)."""
    from laurels.openbadges.kept import documents_queue

    documents_queue(detail.get("assertions") or [detail["assertion"]])
