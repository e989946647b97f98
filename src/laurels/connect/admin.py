from django import forms
from django.contrib import admin, messages
from django.db import models
from oauth2_provider.models import get_application_model

from laurels.connect import services
from laurels.connect.models import AppConsent, Application, AuditEvent
from laurels.connect.names import impersonation_problem

# The toolkit registers its own admin for the application model; ours replaces it.
if admin.site.is_registered(get_application_model()):
    admin.site.unregister(get_application_model())


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "client_id",
        "client_type",
        "review",
        "enabled",
        "testing",
        "first_party",
        "created",
    ]
    list_filter = [
        "review",
        "enabled",
        "client_type",
        "testing",
        "first_party",
        "registration_source",
    ]
    search_fields = ["name", "client_id", "website_url"]
    readonly_fields = ["client_id", "registration_source", "created", "updated"]
    fields = [
        "name",
        "client_id",
        "client_type",
        "authorization_grant_type",
        "redirect_uris",
        "allowed_scopes",
        "website_url",
        "logo_url",
        "terms_url",
        "privacy_url",
        "testing",
        "first_party",
        "enabled",
        "review",
        "algorithm",
        "registration_source",
        "created",
        "updated",
    ]
    actions = ["approve", "disable"]
    # A URL typed without a scheme means https (Django 6's default, chosen now).
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}
    }

    def save_model(self, request, obj, form, change):
        """The admin may name an app anything, but hears when the name would be refused
        to a self-registered app (connect.names)."""
        super().save_model(request, obj, form, change)
        problem = impersonation_problem(obj.name)
        if problem:
            messages.warning(request, f"A self-registered app could not use this name: {problem}")

    @admin.action(description="Approve the selected apps (pending review)")
    def approve(self, request, queryset):
        count = queryset.update(review=Application.Review.APPROVED)
        for application in queryset:
            services.audit_record(
                "app_changed",
                application=application,
                detail={"review": "approved", "by": request.user.email},
            )
        messages.success(request, f"Approved {count} app(s).")

    @admin.action(description="Disable the selected apps")
    def disable(self, request, queryset):
        for application in queryset:
            services.application_set_enabled(application=application, enabled=False)


@admin.register(AppConsent)
class AppConsentAdmin(admin.ModelAdmin):
    list_display = ["user", "application", "scopes", "created_at", "last_used_at"]
    search_fields = ["user__email", "application__name", "application__client_id"]
    raw_id_fields = ["user", "application"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "client_id", "ip_address"]
    list_filter = ["kind"]
    search_fields = ["user__email", "client_id", "ip_address"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
