"""What the backpack's rows move on when they change (`laurels.core.versions`).

Connected in `BackpackConfig.ready`: every save or delete of an imported badge (an
import, a re-verification, a removal, a deleted account) moves its owner's backpack
version on, in the same transaction; bulk updates bump in their own code.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.dispatch import receiver

from laurels.accounts.signals import account_deleting
from laurels.backpack.models import Collection, ImportedBadge
from laurels.core.versions import BACKPACK, version_name, versions_bump


def imported_badge_owner_backpack_moves_on(sender, instance, **kwargs) -> None:
    """The owner of an imported badge that is saved or deleted sees it in their backpack."""
    versions_bump([version_name(BACKPACK, instance.user_id)])


@receiver(account_deleting, dispatch_uid="backpack-account-deleting")
def backpack_goes_with_account(sender, *, user, **kwargs) -> None:
    """A deleted account's backpack goes: its collections (their share pages answer 404
    at once) and its imported badges, whose image files are removed once the deletion
    commits. Awards made here to the person are the issuers' and stay (the backpack only
    finds them by the person's addresses)."""
    Collection.objects.filter(user=user).delete()
    imported = ImportedBadge.objects.filter(user=user)
    images = [name for name in imported.values_list("image", flat=True) if name]
    imported.delete()
    transaction.on_commit(lambda: _images_delete(images))


def _images_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
