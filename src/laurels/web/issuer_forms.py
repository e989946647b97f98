"""Forms of the issuer workspace (`web.issuer_views`). They bound and shape what is typed;
the rules themselves (a valid website, an image that is a safe PNG or SVG, who may be
staff, the last owner) are `issuing.services`' and `core.images`', whose errors the views
put on these forms' fields."""

from __future__ import annotations

from django import forms

from laurels.accounts.models import EmailAddress, User
from laurels.issuing.models import Issuer, Role
from laurels.web.account_forms import Described
from laurels.web.workspace import ImageUploadField

DESCRIPTION_MAX_LENGTH = 5000
ROLE_HELP = (
    "Staff see the issuer and award its badges; editors also define badge classes, edit "
    "the issuer and revoke awards; owners also manage the staff and may delete the issuer."
)


def verified_addresses(user: User) -> list[str]:
    """The account's verified addresses, primary first (the order of `EmailAddress`)."""
    return list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )


class IssuerForm(Described):
    """An issuer's details. The contact address is one of the person's verified ones
    (plus, when editing, the address the issuer has now, which another owner may have
    chosen); the image is optional, and checked as the API checks one."""

    name = forms.CharField(max_length=Issuer._meta.get_field("name").max_length)
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Who you are and what your badges stand for; shown on your public page.",
    )
    url = forms.URLField(
        label="Website",
        max_length=Issuer._meta.get_field("url").max_length,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "url"}),
        help_text="Your organisation's website, e.g. https://example.org.",
    )
    email = forms.ChoiceField(
        label="Contact email",
        help_text="Earners and verifiers see it. Only your verified addresses can be chosen.",
    )
    image = ImageUploadField(
        preview="issuer-image-preview", label="Image (PNG or SVG)", required=False
    )

    def __init__(self, *args, user: User, current_email: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = verified_addresses(user)
        if current_email and current_email not in choices:
            choices.insert(0, current_email)
        self.fields["email"].choices = [(address, address) for address in choices]
        if current_email:
            self.fields["image"].help_text += " Leave it empty to keep the current one."


ROLE_CHOICES = [(role.value, role.label) for role in (Role.STAFF, Role.EDITOR, Role.OWNER)]


class InviteForm(Described):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="We email them an invitation; they join once they accept it, signed in "
        "with this address verified.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.EDITOR, help_text=ROLE_HELP)


class MemberForm(forms.Form):
    """Which member a Change role or Remove button is about (their entityId)."""

    member = forms.CharField(max_length=64)
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)


class InvitationForm(forms.Form):
    invitation = forms.CharField(max_length=64)
