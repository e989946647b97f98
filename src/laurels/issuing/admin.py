from django.contrib import admin

from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff


class IssuerStaffInline(admin.TabularInline):
    model = IssuerStaff
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    list_display = ["name", "entity_id", "email", "created_at"]
    search_fields = ["name", "entity_id", "email"]
    readonly_fields = ["entity_id", "created_at", "updated_at"]
    inlines = [IssuerStaffInline]


@admin.register(BadgeClass)
class BadgeClassAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "entity_id", "created_at"]
    search_fields = ["name", "entity_id", "issuer__name"]
    list_select_related = ["issuer"]
    raw_id_fields = ["issuer", "created_by"]
    readonly_fields = ["entity_id", "created_at", "updated_at"]


@admin.register(Assertion)
class AssertionAdmin(admin.ModelAdmin):
    list_display = ["entity_id", "badge_class", "recipient_plaintext", "issued_on", "revoked"]
    list_filter = ["revoked", "recipient_type", "acceptance"]
    search_fields = ["entity_id", "recipient_plaintext", "badge_class__name"]
    list_select_related = ["badge_class"]
    raw_id_fields = ["badge_class", "issuer", "created_by"]
    readonly_fields = [
        "entity_id",
        "recipient_identity",
        "recipient_salt",
        "created_at",
        "updated_at",
    ]
