"""What every app's admin pages share: their writes go through the app's services, and a
refusal by a service shows as a message.

Django's admin saves models directly; Laurels' admin classes instead call services from
`save_model`, `save_formset` and `delete_model`. A service refuses with a DomainError or a
ValidationError for what the admin's forms do not check (a conflict with another row, a
rule of the domain); that must roll back everything the page was saving and read as a
message, never as a server error.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect

from laurels.core.errors import DomainError


class RefusalsShown(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes run in one transaction, rolled back and told
    as an error message when a service refuses them."""

    def changeform_view(self, request, *args, **kwargs):
        return self._refusals_shown(request, super().changeform_view, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._refusals_shown(request, super().delete_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._refusals_shown(request, super().changelist_view, *args, **kwargs)

    def _refusals_shown(self, request, view, *args, **kwargs):
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except (DomainError, ValidationError) as error:
            self.message_user(request, refusal_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class NoWrites:
    """For an admin class or inline whose rows are shown and never written there: nobody
    adds, edits or deletes them (audit rows, consents, awards, staff places, whose
    changes go through services, actions or pages of their own)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnly(NoWrites, admin.ModelAdmin):
    """A ModelAdmin that only shows its rows (`NoWrites`)."""


def refusal_text(error: DomainError | ValidationError) -> str:
    """What a service's refusal says, in one line."""
    return error.message if isinstance(error, DomainError) else " ".join(error.messages)
