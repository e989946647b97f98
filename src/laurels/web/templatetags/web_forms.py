"""Template helpers for the shared form include (web/form.html)."""

from __future__ import annotations

from django import template
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def password_rules() -> SafeString:
    """The configured password validators' rules as a list, shown next to a new password
    so that people meet them before the form refuses one (settings.AUTH_PASSWORD_VALIDATORS)."""
    return password_validators_help_text_html()


@register.filter
def described_by(field: BoundField, element_id: str) -> SafeString:
    """The field's widget, also described by `element_id`: Django's own aria-describedby
    (help text, errors) is kept, as passing one replaces it."""
    ids = " ".join(filter(None, (field.aria_describedby, element_id)))
    return field.as_widget(attrs={"aria-describedby": ids})
