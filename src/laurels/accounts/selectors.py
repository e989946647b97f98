"""Reads of users that depend on who is asking."""

from __future__ import annotations

from laurels.accounts.models import User


def user_profile(*, viewer: User) -> User:
    """The viewer's own account with its email addresses loaded (one extra query)."""
    return User.objects.prefetch_related("email_addresses").get(pk=viewer.pk)
