from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from laurels.core.admin import RefusalsShown, ViewOnly, refusal_text
from laurels.core.errors import DomainError
from laurels.lti import services
from laurels.lti.models import TOOL_SETTINGS, PlatformKey, ToolRegistration


@dataclass(frozen=True)
class SecretShown:
    """A tool's LTI 1.1 consumer key and its new shared secret, for the one page showing it."""

    registration: ToolRegistration
    consumer_key: str
    secret: str

    @classmethod
    def of(cls, registration: ToolRegistration, secret: str) -> SecretShown:
        registration.refresh_from_db()
        return cls(registration, registration.lti11_consumer_key, secret)


@admin.register(ToolRegistration)
class ToolRegistrationAdmin(RefusalsShown):
    """Tool registrations, and the one place LTI 1.1 is switched on (through the actions,
    which show a new shared secret once, on their own answer page)."""

    list_display = ["__str__", "application", "client_id", "enabled", "lti11_enabled", "created_at"]
    list_filter = ["enabled", "lti11_enabled"]
    search_fields = ["client_id", "application__name", "application__client_id"]
    raw_id_fields = ["application"]
    readonly_fields = [
        "client_id",
        "deployment_id",
        "lti11_enabled",
        "lti11_consumer_key",
        "created_at",
        "updated_at",
    ]
    fields = [
        "application",
        "client_id",
        "deployment_id",
        *TOOL_SETTINGS,
        "lti11_enabled",
        "lti11_consumer_key",
        "created_at",
        "updated_at",
    ]
    actions = ["lti11_enable", "lti11_rotate_secret", "lti11_disable"]
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}
    }

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        """The app is chosen once: `registration_save` keys a registration by its app, so
        another app on the change page would register that one too and leave this one."""
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "application"] if obj is not None else list(readonly)

    def save_model(self, request, obj, form, change) -> None:
        saved = services.registration_save(
            application=obj.application,
            actor=request.user,
            login_url=obj.login_url,
            launch_url=obj.launch_url,
            jwks_url=obj.jwks_url,
            public_key=obj.public_key,
            locations=obj.locations,
            title=obj.title,
            icon_url=obj.icon_url,
            custom=obj.custom,
            enabled=obj.enabled,
        )
        obj.pk, obj.client_id, obj.deployment_id = saved.pk, saved.client_id, saved.deployment_id

    def delete_model(self, request, obj) -> None:
        services.registration_delete(application=obj.application, actor=request.user)

    @admin.action(description="Enable LTI 1.1 (shows the new shared secret once)")
    def lti11_enable(self, request, queryset) -> TemplateResponse | None:
        shown = []
        for registration in queryset:
            secret = services.lti11_set(registration=registration, enabled=True, actor=request.user)
            if secret:
                shown.append(SecretShown.of(registration, secret))
        return self._secrets_page(request, shown)

    @admin.action(description="New LTI 1.1 shared secret (shown once)")
    def lti11_rotate_secret(self, request, queryset) -> TemplateResponse | None:
        shown = []
        for registration in queryset:
            try:
                secret = services.lti11_secret_rotate(registration=registration, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{registration}: {refusal_text(error)}", messages.ERROR)
                continue
            shown.append(SecretShown.of(registration, secret))
        return self._secrets_page(request, shown)

    @admin.action(description="Disable LTI 1.1")
    def lti11_disable(self, request, queryset) -> None:
        for registration in queryset:
            services.lti11_set(registration=registration, enabled=False, actor=request.user)
        self.message_user(request, "LTI 1.1 is off for the chosen tools.")

    def _secrets_page(self, request, shown: list[SecretShown]) -> TemplateResponse | None:
        """The action's own answer showing new secrets, never a message: Django keeps
        messages in a cookie that is signed, not encrypted (or in the session), and a
        secret must not outlive this page. None (back to the list) when nothing is new."""
        if not shown:
            self.message_user(request, "LTI 1.1 was on already for the chosen tools.")
            return None
        response = TemplateResponse(
            request,
            "admin/lti/toolregistration/lti11_secrets.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "LTI 1.1 shared secrets",
                "secrets": shown,
            },
        )
        add_never_cache_headers(response)
        return response

    def delete_queryset(self, request, queryset) -> None:
        for registration in queryset:
            self.delete_model(request, registration)


@admin.register(PlatformKey)
class PlatformKeyAdmin(ViewOnly):
    """The keys that sign launches (`laurels lti rotate-key` makes a new one)."""

    list_display = ["kid", "created_at", "retired_at"]
    fields = ["kid", "public_jwk", "created_at", "retired_at"]
