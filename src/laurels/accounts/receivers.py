"""What `accounts` itself does when one of its signals (`accounts.signals`) is sent.

Connected in `AccountsConfig.ready`, beside the other apps' receivers.
"""

from __future__ import annotations

from laurels.accounts import services


def tell_owner_password_changed(sender, *, user, **kwargs) -> None:
    """Every new password is told to the account's owner, by whatever path it was set."""
    services.password_changed_notify(user=user)
