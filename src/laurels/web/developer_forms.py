"""The developer portal's app form. It only gathers what a person typed: the form becomes
RFC 7591 metadata (`metadata_document`), checked by `connect.client_metadata` exactly as a
body posted to /o/register is, and its refusals come back on the fields they are about."""

from __future__ import annotations

from typing import Any

from django import forms

from laurels.connect.client_metadata import (
    MAX_NAME_CHARS,
    MAX_REDIRECT_URIS,
    MAX_SOFTWARE_CHARS,
    MAX_URI_CHARS,
    PUBLIC_AUTH_METHOD,
    ClientMetadataError,
)
from laurels.connect.models import Application
from laurels.connect.scopes import SCOPE_DESCRIPTIONS, is_registrable_scope, scope_description
from laurels.lti.locations import LOCATIONS
from laurels.lti.models import PUBLIC_KEY_MAX_CHARS, TITLE_MAX_CHARS, TOOL_SETTINGS

CONFIDENTIAL, PUBLIC = Application.CLIENT_CONFIDENTIAL, Application.CLIENT_PUBLIC
# Form field ↔ RFC 7591 metadata name.
RFC_NAMES = {
    "name": "client_name",
    "redirect_uris": "redirect_uris",
    "scopes": "scope",
    "website_url": "client_uri",
    "logo_url": "logo_uri",
    "terms_url": "tos_uri",
    "privacy_url": "policy_uri",
    "software_id": "software_id",
    "software_version": "software_version",
    "client_type": "token_endpoint_auth_method",
}
FIELD_OF_RFC_NAME = {rfc: field for field, rfc in RFC_NAMES.items()} | {
    "grant_types": "redirect_uris",
    "response_types": "redirect_uris",
}
# The fields of the model each link field fills (and is shown from).
LINK_FIELDS = ("website_url", "logo_url", "terms_url", "privacy_url")


def scope_choices(current: list[str] | tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Every fixed scope an app may be registered for, with its description, then any
    other scope the app holds already (an entity pattern an admin gave it), so that
    saving the form keeps it."""
    fixed = [scope for scope in SCOPE_DESCRIPTIONS if is_registrable_scope(scope)]
    extra = [scope for scope in current if scope not in fixed and is_registrable_scope(scope)]
    return [(scope, scope_description(scope)) for scope in (*fixed, *extra)]


def _link(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=MAX_URI_CHARS,
        help_text=help_text,
        widget=forms.URLInput(attrs={"inputmode": "url", "spellcheck": "false"}),
    )


class DeveloperAppForm(forms.Form):
    """Register an app, or change one (`editing`: its type stays what it is)."""

    name = forms.CharField(
        max_length=MAX_NAME_CHARS,
        help_text="People see it when your app asks to connect. It may not pass for this "
        "server, another app here, or a web address.",
    )
    client_type = forms.ChoiceField(
        label="Type",
        choices=[
            (CONFIDENTIAL, "Confidential: runs on a server that can keep a client secret"),
            (PUBLIC, "Public: runs in a browser or on a device; no secret, uses PKCE"),
        ],
        initial=CONFIDENTIAL,
        widget=forms.RadioSelect,
    )
    redirect_uris = forms.CharField(
        label="Redirect URIs",
        required=False,
        max_length=MAX_REDIRECT_URIS * (MAX_URI_CHARS + 2),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=f"One per line, at most {MAX_REDIRECT_URIS}: where people come back to "
        "your app after allowing it. https, no fragment (#); compared exactly.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        widget=forms.CheckboxSelectMultiple,
        initial=["r:profile"],
        help_text="What your app may ask people for. Some need an administrator's review "
        "before anyone can connect your app.",
    )
    website_url = _link("Website", "Your app's home page (shown on the consent page).")
    logo_url = _link("Logo URL", "An image people see beside your app's name.")
    terms_url = _link("Terms of service URL", "")
    privacy_url = _link("Privacy policy URL", "")
    software_id = forms.CharField(
        label="Software ID",
        required=False,
        max_length=MAX_SOFTWARE_CHARS,
        help_text="Badge Connect apps only (with a version, the four links above, all on "
        "the website's host).",
    )
    software_version = forms.CharField(
        label="Software version", required=False, max_length=MAX_SOFTWARE_CHARS
    )

    def __init__(self, *args: Any, application: Application | None = None, **kwargs: Any):
        self.application = application
        current = application.allowed_scopes.split() if application else []
        if application is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": application.name,
                    "redirect_uris": "\n".join(application.redirect_uris.split()),
                    "scopes": current,
                    "software_id": application.software_id,
                    "software_version": application.software_version,
                    **{field: getattr(application, field) for field in LINK_FIELDS},
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = scope_choices(current)
        if application is not None:
            del self.fields["client_type"]  # a public app cannot become confidential

    def metadata_document(self) -> dict[str, Any]:
        """The cleaned form as an RFC 7591 registration document."""
        data = self.cleaned_data
        public = (
            self.application.client_type == PUBLIC
            if self.application is not None
            else data["client_type"] == PUBLIC
        )
        uris = [line.strip() for line in data["redirect_uris"].splitlines() if line.strip()]
        code_flow = (
            self.application is None
            or self.application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
        )
        document: dict[str, Any] = {
            "client_name": data["name"],
            "redirect_uris": uris,
            "scope": " ".join(data["scopes"]),
            "token_endpoint_auth_method": PUBLIC_AUTH_METHOD if public else "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"]
            if code_flow
            else ["client_credentials"],
            "response_types": ["code"] if code_flow else [],
        }
        for field in (*LINK_FIELDS, "software_id", "software_version"):
            if data[field].strip():
                document[RFC_NAMES[field]] = data[field].strip()
        return document

    def add_metadata_error(self, error: ClientMetadataError) -> None:
        """Show a refusal of the metadata on the field it is about."""
        field = FIELD_OF_RFC_NAME.get(error.field or "")
        message = error.message.removeprefix(f"{error.field}: ") if error.field else error.message
        self.add_error(field if field in self.fields else None, message)


def _parse_custom_lines(text: str) -> dict[str, str]:
    """`key=value` lines as a dict (blank lines skipped). Only the shape is checked here:
    the rules on keys and values are the registration model's (`lti.models`)."""
    custom: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not key:
            raise forms.ValidationError(f"Line {number}: write key=value.")
        if key in custom:
            raise forms.ValidationError(f"Line {number}: {key} is given twice.")
        custom[key] = value.strip()
    return custom


class ToolRegistrationForm(forms.Form):
    """An app's LTI 1.3 tool registration (`lti.services.registration_save`). The field
    names are the service's keywords, so that its refusals land on their fields."""

    login_url = _link(
        "Login initiation URL",
        "Where a button sends the person first (OIDC third-party-initiated login).",
    )
    launch_url = _link(
        "Launch URL",
        "The target link URI: the only redirect_uri your tool may ask for, compared exactly.",
    )
    jwks_url = _link("JWKS URL", "Your tool's public keys. Give this or a public key below.")
    public_key = forms.CharField(
        label="Public key",
        required=False,
        max_length=PUBLIC_KEY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="A PEM public key or a JWK (JSON), when your tool publishes no JWKS URL.",
    )
    locations = forms.MultipleChoiceField(
        label="Where the button shows",
        widget=forms.CheckboxSelectMultiple,
        help_text="Only people who connected your app see its button, and only on pages "
        "they may use.",
    )
    title = forms.CharField(
        label="Button title",
        required=False,
        max_length=TITLE_MAX_CHARS,
        help_text="Shown as “Open in …”; your app's name when empty.",
    )
    icon_url = _link("Icon URL", "An https image shown on the button (optional).")
    custom = forms.CharField(
        label="Custom parameters",
        required=False,
        max_length=25000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One key=value per line, sent in the launch's custom claim.",
    )
    enabled = forms.BooleanField(
        label="Show the buttons", required=False, initial=True, help_text="Untick to pause."
    )

    def __init__(self, *args: Any, registration=None, **kwargs: Any):
        if registration is not None:
            kwargs.setdefault(
                "initial",
                {
                    **{name: getattr(registration, name) for name in TOOL_SETTINGS},
                    # Sorted: PostgreSQL's jsonb keeps an object's keys in its own order.
                    "custom": "\n".join(f"{k}={v}" for k, v in sorted(registration.custom.items())),
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["locations"].choices = [
            (location.name, location.label) for location in LOCATIONS.values()
        ]

    def location_choices(self) -> list[tuple[Any, str]]:
        """Each location's checkbox with the description shown under its label."""
        return [
            (choice, LOCATIONS[choice.data["value"]].description) for choice in self["locations"]
        ]

    def clean_custom(self) -> dict[str, str]:
        return _parse_custom_lines(self.cleaned_data["custom"])
