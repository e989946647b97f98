"""Reads of users that depend on who is asking."""

from __future__ import annotations

from django.db.models import prefetch_related_objects

from laurels.accounts.models import User


def user_profile(*, viewer: User, reload: bool = True) -> User:
    """The viewer's own account with its email addresses loaded (one extra query).
    With `reload=False` the viewer as this request loaded it is used, and only the
    addresses are read (a read-only request: nothing changed it since)."""
    if not reload:
        prefetch_related_objects([viewer], "email_addresses")
        return viewer
    return User.objects.prefetch_related("email_addresses").get(pk=viewer.pk)
