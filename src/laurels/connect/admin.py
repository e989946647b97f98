from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from oauth2_provider.models import get_application_model

from laurels.connect import services
from laurels.connect.models import AppConsent, Application, AuditEvent
from laurels.connect.names import impersonation_problem
from laurels.core.admin import ViewOnly

# The toolkit registers its own admin for the application model; ours replaces it.
if admin.site.is_registered(get_application_model()):
    admin.site.unregister(get_application_model())


# Who the app's client credentials may act as (Badgr's server-to-server pattern).
OWNER_FIELDS = ("user", "acts_as_owner")


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
        "acts_as_owner",
        "created",
    ]
    list_filter = [
        "review",
        "enabled",
        "client_type",
        "testing",
        "first_party",
        "acts_as_owner",
        "registration_source",
    ]
    search_fields = ["name", "client_id", "website_url", "user__email"]
    # Review and enabling change through the actions, which call their services.
    readonly_fields = [
        "client_id",
        "review",
        "enabled",
        "registration_source",
        "software_id",
        "software_version",
        "created",
        "updated",
    ]
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
        "user",
        "acts_as_owner",
        "enabled",
        "review",
        "algorithm",
        "registration_source",
        "software_id",
        "software_version",
        "created",
        "updated",
    ]
    raw_id_fields = ["user"]
    actions = ["approve", "reject", "disable", "enable"]
    # A URL typed without a scheme means https (Django 6's default, chosen now).
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}
    }

    def get_urls(self):
        """`review/`: the review queue, the apps pending review with the actions
        Approve and Reject (linked from the admin's index page)."""
        queue = path(
            "review/",
            self.admin_site.admin_view(self.review_queue),
            name="connect_application_review",
        )
        return [queue, *super().get_urls()]

    def review_queue(self, request):
        changelist = reverse("admin:connect_application_changelist")
        return HttpResponseRedirect(f"{changelist}?review__exact={Application.Review.PENDING}")

    def save_model(self, request, obj, form, change):
        """The admin may name an app anything, but hears when the name would be refused
        to a self-registered app (connect.names)."""
        owner, acts_as_owner = obj.user, obj.acts_as_owner
        current = Application.objects.filter(pk=obj.pk).first() if change else None
        obj.user = current.user if current else None
        obj.acts_as_owner = current.acts_as_owner if current else False
        services.application_admin_save(
            application=obj,
            actor=request.user,
            changed=[name for name in form.changed_data if name not in OWNER_FIELDS],
            created=not change,
        )
        # The owner and the switch change through their service, which ends the tokens
        # acting as the owner when it must and audits the switch.
        services.application_set_acts_as_owner(
            application=obj, acts_as_owner=acts_as_owner, owner=owner, actor=request.user
        )
        problem = impersonation_problem(obj.name)
        if problem:
            messages.warning(request, f"A self-registered app could not use this name: {problem}")

    @admin.action(description="Approve the selected apps (pending review)")
    def approve(self, request, queryset):
        self._review(request, queryset, Application.Review.APPROVED)

    @admin.action(description="Reject the selected apps")
    def reject(self, request, queryset):
        self._review(request, queryset, Application.Review.REJECTED)

    def _review(self, request, queryset, review: str) -> None:
        decided = services.applications_review_set(
            applications=list(queryset), review=review, actor=request.user
        )
        messages.success(request, f"{Application.Review(review).label}: {decided} app(s).")

    @admin.action(description="Disable the selected apps")
    def disable(self, request, queryset):
        services.applications_set_enabled(
            applications=list(queryset), enabled=False, actor=request.user
        )

    @admin.action(description="Enable the selected apps")
    def enable(self, request, queryset):
        services.applications_set_enabled(
            applications=list(queryset), enabled=True, actor=request.user
        )


@admin.register(AppConsent)
class AppConsentAdmin(ViewOnly):
    """Shown only: a person revokes an app on their Connected apps page, which ends its
    tokens with the consent (`services.app_access_revoke`)."""

    list_display = ["user", "application", "scopes", "created_at", "last_used_at"]
    search_fields = ["user__email", "application__name", "application__client_id"]


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnly):
    """The audit trail is shown only: nobody adds, edits or deletes its rows here."""

    list_display = ["created_at", "kind", "user", "client_id", "ip_address"]
    list_filter = ["kind", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["user__email", "client_id", "ip_address"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


# The index page links to the review queue of pending apps (`ApplicationAdmin.get_urls`)
# and says how many wait, so that an admin sees at once whether there is work.
admin.site.index_template = "admin/laurels_index.html"
_site_index = admin.site.index


def _index_with_review_count(request, extra_context=None):
    pending = Application.objects.filter(review=Application.Review.PENDING).count()
    return _site_index(request, {**(extra_context or {}), "apps_pending_review": pending})


admin.site.index = _index_with_review_count
