"""Issuers, badge classes and awards in the admin: every change goes through
`issuing.services`, as from the API and the pages, so that it is checked, audited and
seen at once by kept answers and hosted documents.

Awards are read-only here: they are revoked (an action, with a reason), never edited or
deleted. Staff change through the issuer's owners (invitations), so the staff list is
shown only. Issuers and badge classes are made on the site or through the API, where
their images are checked.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import models, transaction

from laurels.core.admin import NoWrites, RefusalsShown, ViewOnly
from laurels.core.errors import DomainError
from laurels.issuing import services
from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff


class ServiceBacked(RefusalsShown):
    """A refusal by the service (a check the form does not make, a conflict) rolls the
    admin's transaction back and is shown as a message, not as a server error
    (`laurels.core.admin`)."""

    # A URL typed without a scheme means https (Django 6's default, chosen now).
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}
    }


class IssuerStaffInline(NoWrites, admin.TabularInline):
    model = IssuerStaff
    extra = 0
    fields = ["user", "role"]
    readonly_fields = ["user", "role"]


@admin.register(Issuer)
class IssuerAdmin(ServiceBacked):
    list_display = ["name", "entity_id", "email", "created_at"]
    search_fields = ["name", "entity_id", "email"]
    fields = [
        "entity_id",
        "name",
        "url",
        "email",
        "description",
        "image",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["entity_id", "image", "created_by", "created_at", "updated_at"]
    inlines = [IssuerStaffInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.issuer_update(issuer=obj, actor=request.user, **changes)

    def delete_model(self, request, obj):
        services.issuer_delete(issuer=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for issuer in queryset:
            services.issuer_delete(issuer=issuer, actor=request.user)


@admin.register(BadgeClass)
class BadgeClassAdmin(ServiceBacked):
    list_display = ["name", "issuer", "entity_id", "created_at"]
    search_fields = ["name", "entity_id", "issuer__name"]
    list_select_related = ["issuer"]
    fields = [
        "entity_id",
        "issuer",
        "name",
        "description",
        "image",
        "criteria_url",
        "criteria_narrative",
        "alignments",
        "tags",
        "expires_amount",
        "expires_duration",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["entity_id", "issuer", "image", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if {"expires_amount", "expires_duration"} & set(changes):
            changes["expires_amount"] = form.cleaned_data["expires_amount"]
            changes["expires_duration"] = form.cleaned_data["expires_duration"]
        services.badge_class_update(badge_class=obj, **changes)

    def delete_model(self, request, obj):
        services.badge_class_delete(badge_class=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for badge_class in queryset.select_related("issuer"):
            services.badge_class_delete(badge_class=badge_class, actor=request.user)


class RevokeForm(ActionForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason (shown to verifiers)",
        widget=forms.TextInput(attrs={"size": 40}),
    )


@admin.register(Assertion)
class AssertionAdmin(ViewOnly):
    list_display = ["entity_id", "badge_class", "recipient_plaintext", "issued_on", "revoked"]
    list_filter = ["revoked", "recipient_type", "acceptance"]
    search_fields = ["entity_id", "recipient_plaintext", "badge_class__name"]
    list_select_related = ["badge_class", "issuer"]
    action_form = RevokeForm
    actions = ["revoke"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("issuing.change_assertion")

    @admin.action(description="Revoke the selected awards", permissions=["revoke"])
    def revoke(self, request, queryset):
        """Each award is revoked on its own (`services.assertion_revoke`); those already
        revoked are left as they are."""
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to revoke awards.", messages.ERROR)
            return
        revoked, refused = 0, []
        for assertion in queryset.select_related("badge_class", "issuer"):
            try:
                services.assertion_revoke(assertion=assertion, reason=reason, actor=request.user)
                revoked += 1
            except (DomainError, ValidationError):
                refused.append(assertion.entity_id)
        self.message_user(request, f"Revoked {revoked} award(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Already revoked: {', '.join(refused)}.", messages.WARNING)
