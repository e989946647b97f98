"""Forms of the account pages that belong to no other app."""

from __future__ import annotations

from django import forms

from laurels.connect.scopes import scope_description
from laurels.connect.services import LEGACY_KEY_SCOPES, PERSONAL_TOKEN_SCOPES


class PersonalTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. the script or the server that uses it.",
    )
    scope = forms.MultipleChoiceField(
        label="Permissions",
        choices=[
            (scope, f"{scope_description(scope)} ({scope})") for scope in PERSONAL_TOKEN_SCOPES
        ],
        initial=LEGACY_KEY_SCOPES.split(),
        widget=forms.CheckboxSelectMultiple,
    )
