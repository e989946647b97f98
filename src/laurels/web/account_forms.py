"""Forms of the account settings pages (`web.account_views`); the rules themselves are
`accounts.services`' (names' length, addresses), whose errors the views add to these."""

from __future__ import annotations

from django import forms

from laurels.accounts.services import NAME_MAX_LENGTH


class Described(forms.Form):
    """Ties each input to its help and its errors (`aria-describedby`), which
    web/account_field.html shows under the ids `<id>-help` and `<id>-errors`."""

    def __getitem__(self, name: str) -> forms.BoundField:
        bound = super().__getitem__(name)
        ids = [f"{bound.auto_id}-help"] if bound.help_text else []
        if bound.errors:
            ids.append(f"{bound.auto_id}-errors")
            bound.field.widget.attrs["aria-invalid"] = "true"
        if ids:
            bound.field.widget.attrs["aria-describedby"] = " ".join(ids)
        return bound


class NameForm(Described):
    first_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )


class EmailAddForm(Described):
    email = forms.EmailField(
        label="New email address",
        max_length=254,
        help_text="We email a link to it; the address is yours once you follow the link.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class EmailChoiceForm(forms.Form):
    """Which of the account's addresses a button acts on (`make primary`, `remove`...)."""

    email = forms.CharField(max_length=254)
    action = forms.ChoiceField(choices=[(a, a) for a in ("primary", "remove", "resend")])
