"""What `accounts` itself does when one of its signals (`accounts.signals`) is sent.

Connected in `AccountsConfig.ready`, beside the other apps' receivers.
"""

from __future__ import annotations

from laurels.accounts import services
from laurels.core.versions import BACKPACK, version_name, versions_bump


def tell_owner_password_changed(sender, *, user, **kwargs) -> None:
    """Every new password is told to the account's owner, by whatever path it was set."""
    services.password_changed_notify(user=user)


PREVIOUS_OWNER = "_laurels_previous_owner"


def address_owner_remember(sender, instance, **kwargs) -> None:
    """Before an address is saved, remember whose it was: an edit (the admin's) may hand
    it to another account, and the backpack that loses it moves on too."""
    if instance.pk is not None:
        previous = type(instance).objects.filter(pk=instance.pk).values_list("user_id").first()
        setattr(instance, PREVIOUS_OWNER, previous[0] if previous else None)


def address_owners_backpacks_move_on(sender, instance, **kwargs) -> None:
    """A user's verified addresses decide which awards their backpack lists: any change
    to one of their addresses (verified, withdrawn, handed over, deleted with the
    account) moves their backpack's version on (`laurels.core.versions`), in the
    change's transaction."""
    owners = {instance.user_id, getattr(instance, PREVIOUS_OWNER, None)} - {None}
    versions_bump(version_name(BACKPACK, owner) for owner in owners)
