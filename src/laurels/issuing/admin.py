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
from laurels.core.public import url_of
from laurels.issuing import services
from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff, IssuerVerification


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
    list_display = ["name", "entity_id", "email", "verified", "created_at"]
    list_filter = [("verified_at", admin.EmptyFieldListFilter), "verified_by"]
    search_fields = ["name", "url", "entity_id", "email"]
    actions = ["verify", "unverify"]
    fields = [
        "entity_id",
        "name",
        "url",
        "email",
        "description",
        "image",
        "verified_at",
        "verified_by",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "entity_id",
        "image",
        "verified_at",
        "verified_by",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [IssuerStaffInline]

    def view_on_site(self, obj):
        return url_of("issuers", obj)

    @admin.display(description="Verified", boolean=True, ordering="verified_at")
    def verified(self, obj: Issuer) -> bool:
        return obj.verified_at is not None

    def has_verify_permission(self, request):
        return request.user.has_perm("issuing.change_issuer")

    @admin.action(description="Mark verified", permissions=["verify"])
    def verify(self, request, queryset):
        """An administrator vouches for the selected issuers (`services.issuer_verify`)."""
        for issuer in queryset:
            services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN, actor=request.user)
        self.message_user(request, f"Verified {len(queryset)} issuer(s).", messages.SUCCESS)

    @admin.action(description="Remove verification", permissions=["verify"])
    def unverify(self, request, queryset):
        for issuer in queryset.exclude(verified_at=None):
            services.issuer_unverify(issuer=issuer, actor=request.user)
        self.message_user(request, "Verification removed.", messages.SUCCESS)

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

    def view_on_site(self, obj):
        return url_of("badges", obj)

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

    def view_on_site(self, obj):
        return url_of("assertions", obj)

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
