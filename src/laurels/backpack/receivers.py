"""What the backpack's rows move on when they change (`laurels.core.versions`).

Connected in `BackpackConfig.ready`: every save or delete of an imported badge (an
import, a re-verification, a removal, a deleted account) moves its owner's backpack
version on, in the same transaction; bulk updates bump in their own code.
"""

from __future__ import annotations

from laurels.core.versions import BACKPACK, version_name, versions_bump


def imported_badge_owner_backpack_moves_on(sender, instance, **kwargs) -> None:
    """The owner of an imported badge that is saved or deleted sees it in their backpack."""
    versions_bump([version_name(BACKPACK, instance.user_id)])
