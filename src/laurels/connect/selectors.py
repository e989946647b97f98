"""Reads about connected apps that depend on who is asking."""

from __future__ import annotations

from django.db.models import QuerySet

from laurels.accounts.models import User
from laurels.connect.models import AppConsent


def user_connected_apps(*, viewer: User) -> QuerySet[AppConsent]:
    """The apps the viewer has approved, newest first, with each app loaded (one query)."""
    return (
        AppConsent.objects.filter(user=viewer).select_related("application").order_by("-created_at")
    )
