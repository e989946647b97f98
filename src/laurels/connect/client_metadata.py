"""The metadata an app sends to register itself (RFC 7591) or to change its registration
(RFC 7592), read as hostile input.

Anyone may post it, so every field is checked for its JSON type, its size and its value
before anything is stored; what Laurels does not understand is ignored (RFC 7591 §2),
except the few fields that would ask it to trust something it cannot check. A problem is
a `ClientMetadataError` naming the field, which the endpoint answers as RFC 7591 §3.2.2
says: 400 with `invalid_client_metadata` or `invalid_redirect_uri`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from laurels.connect.models import (
    LOOPBACK_HOSTS,
    WEB_URL_MAX_CHARS,
    Application,
    validate_web_url,
)
from laurels.connect.names import hidden_character, impersonation_problem
from laurels.connect.scopes import BADGE_CONNECT_SCOPES, is_registrable_scope, parse_scopes
from laurels.core.errors import DomainError

INVALID_METADATA = "invalid_client_metadata"
INVALID_REDIRECT_URI = "invalid_redirect_uri"

# The largest metadata document read; a full one with every list at its cap fits.
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 100
MAX_URI_CHARS = WEB_URL_MAX_CHARS
MAX_REDIRECT_URIS = 10
MAX_CONTACTS = 10
MAX_CONTACT_CHARS = 254  # the longest email address (RFC 5321)
MAX_SCOPE_CHARS = 1000
MAX_GRANT_TYPES = 3  # authorization_code, refresh_token, client_credentials
MAX_RESPONSE_TYPES = 1
MAX_SOFTWARE_CHARS = 255  # software_id, software_version (Application's columns)

DEFAULT_SCOPE = "r:profile"
PUBLIC_AUTH_METHOD = "none"  # a public app: no secret, PKCE instead
AUTH_METHODS = ("client_secret_basic", "client_secret_post", PUBLIC_AUTH_METHOD)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
REFUSED_GRANT_TYPES = {
    "password": "the password grant is for this server's own apps only",
    "implicit": "the implicit grant is unsafe (RFC 9700); use authorization_code with PKCE",
}
# Fields that would have Laurels trust a claim it has no way to check: a publisher's
# signed statement, or keys for a client authentication method it does not offer.
UNCHECKABLE_FIELDS = {
    "software_statement": "this server accepts no software statements; send the metadata itself",
    "jwks": "this server authenticates apps by client secret (or none, with PKCE), not keys",
    "jwks_uri": "this server authenticates apps by client secret (or none, with PKCE), not keys",
}
# RFC 7591 name of each link shown on the consent page → Application field.
WEB_URI_FIELDS = {
    "client_uri": "website_url",
    "logo_uri": "logo_url",
    "tos_uri": "terms_url",
    "policy_uri": "privacy_url",
}
# What a Badge Connect app must send besides its redirect URIs (Badge Connect 1.0 §
# "Registration", as Badgr required): the people it asks see who it is and on what terms.
BADGE_CONNECT_REQUIRED = (*WEB_URI_FIELDS, "software_id", "software_version")
# RFC 6749 §3.3: scope tokens of printable ASCII but `"` and `\`, one space between.
SCOPE_SYNTAX = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


class ClientMetadataError(DomainError):
    """Metadata refused; `field` is its RFC 7591 name and `error` the RFC 7591 code."""

    status = 400

    def __init__(self, field: str | None, message: str, *, error: str = INVALID_METADATA):
        self.field = field
        self.error = error
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class ClientMetadata:
    """Metadata that passed every check, in RFC 7591's names."""

    client_name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    token_endpoint_auth_method: str
    client_uri: str = ""
    logo_uri: str = ""
    tos_uri: str = ""
    policy_uri: str = ""
    software_id: str = ""
    software_version: str = ""

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_AUTH_METHOD

    @property
    def grant_type(self) -> str:
        """The toolkit's one grant type per app (confidential apps may always also use
        client credentials: Application.allows_grant_type)."""
        if "authorization_code" in self.grant_types:
            return Application.GRANT_AUTHORIZATION_CODE
        return Application.GRANT_CLIENT_CREDENTIALS

    @property
    def badge_connect(self) -> bool:
        """Whether the app asks for Badge Connect (Open Badges 2.1) scopes."""
        return bool(BADGE_CONNECT_SCOPES & set(self.scopes))

    def web_uris(self) -> dict[str, str]:
        """The Application fields of the links, by their model names."""
        return {model: getattr(self, rfc) for rfc, model in WEB_URI_FIELDS.items()}

    def stored_fields(self) -> dict[str, str]:
        """The Application fields kept as sent besides name, redirect URIs and scopes."""
        return self.web_uris() | {
            "software_id": self.software_id,
            "software_version": self.software_version,
        }


def parse_client_metadata(body: bytes) -> ClientMetadata:
    """Read and check a registration request's body; raise ClientMetadataError."""
    if len(body) > MAX_BODY_BYTES:
        raise ClientMetadataError(None, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        document = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise ClientMetadataError(None, "The body must be a JSON object.") from None
    if not isinstance(document, dict):
        raise ClientMetadataError(None, "The body must be a JSON object.")
    return _checked(document)


def _checked(document: dict[str, Any]) -> ClientMetadata:
    for field, reason in UNCHECKABLE_FIELDS.items():
        if document.get(field) is not None:
            raise ClientMetadataError(field, f"not accepted: {reason}.")
    auth_method = _auth_method(document)
    grant_types = _grant_types(document, public=auth_method == PUBLIC_AUTH_METHOD)
    _check_contacts(document)
    return ClientMetadata(
        client_name=_client_name(document),
        redirect_uris=_redirect_uris(document, grant_types),
        scopes=_scopes(document),
        grant_types=grant_types,
        token_endpoint_auth_method=auth_method,
        **{field: _web_uri(document, field) for field in WEB_URI_FIELDS},
        **{field: _software(document, field) for field in ("software_id", "software_version")},
    )


def _text(value: Any, field: str, max_chars: int, *, error: str = INVALID_METADATA) -> str:
    """A JSON string of visible text no longer than `max_chars`."""
    if not isinstance(value, str):
        raise ClientMetadataError(field, "must be a string.")
    if len(value) > max_chars:
        raise ClientMetadataError(field, f"must be at most {max_chars} characters.", error=error)
    hidden = hidden_character(value)
    if hidden:
        raise ClientMetadataError(
            field, f"must not contain control or invisible characters ({hidden}).", error=error
        )
    return value


def _text_list(
    document: dict[str, Any],
    field: str,
    *,
    max_items: int,
    max_chars: int,
    default: tuple[str, ...] = (),
    error: str = INVALID_METADATA,
) -> tuple[str, ...]:
    """A JSON array of strings, at most `max_items` of them, duplicates dropped."""
    value = document.get(field)
    if value is None:
        return default
    if not isinstance(value, list):
        raise ClientMetadataError(field, "must be an array of strings.")
    if len(value) > max_items:
        raise ClientMetadataError(field, f"at most {max_items} are allowed.", error=error)
    items = [_text(item, field, max_chars, error=error) for item in value]
    return tuple(dict.fromkeys(items))


def _client_name(document: dict[str, Any]) -> str:
    name = document.get("client_name")
    if name is None:
        raise ClientMetadataError("client_name", "is required: people see it when asked.")
    name = _text(name, "client_name", MAX_NAME_CHARS).strip()
    problem = impersonation_problem(name)
    if problem:
        raise ClientMetadataError("client_name", problem)
    return name


def _auth_method(document: dict[str, Any]) -> str:
    method = document.get("token_endpoint_auth_method")
    if method is None:
        return "client_secret_basic"
    if not isinstance(method, str) or method not in AUTH_METHODS:
        raise ClientMetadataError(
            "token_endpoint_auth_method", f"must be one of {', '.join(AUTH_METHODS)}."
        )
    return method


def _grant_types(document: dict[str, Any], *, public: bool) -> tuple[str, ...]:
    grant_types = _text_list(
        document,
        "grant_types",
        max_items=MAX_GRANT_TYPES,
        max_chars=100,
        default=("authorization_code", "refresh_token"),
    )
    for grant_type in grant_types:
        if grant_type in REFUSED_GRANT_TYPES:
            raise ClientMetadataError("grant_types", f"{REFUSED_GRANT_TYPES[grant_type]}.")
        if grant_type not in GRANT_TYPES:
            raise ClientMetadataError(
                "grant_types", f"{grant_type!r} is not offered; use {', '.join(GRANT_TYPES)}."
            )
    if not {"authorization_code", "client_credentials"} & set(grant_types):
        raise ClientMetadataError(
            "grant_types", "must include authorization_code or client_credentials."
        )
    if public and "client_credentials" in grant_types:
        raise ClientMetadataError(
            "grant_types", "client_credentials needs a client secret (not auth method none)."
        )
    _check_response_types(document, grant_types)
    return grant_types


def _check_response_types(document: dict[str, Any], grant_types: tuple[str, ...]) -> None:
    """`code` and only `code` (RFC 7591 §2.1), and only with authorization_code."""
    wanted = ("code",) if "authorization_code" in grant_types else ()
    response_types = _text_list(
        document, "response_types", max_items=MAX_RESPONSE_TYPES, max_chars=100, default=wanted
    )
    if response_types != wanted:
        expected = '["code"]' if wanted else "[] (without the authorization_code grant)"
        raise ClientMetadataError("response_types", f"must be {expected}.")


def _redirect_uris(document: dict[str, Any], grant_types: tuple[str, ...]) -> tuple[str, ...]:
    """Size and syntax here; the rules of what a redirect URI may be, which the admin's
    apps follow too, in Application.clean()."""
    uris = _text_list(
        document,
        "redirect_uris",
        max_items=MAX_REDIRECT_URIS,
        max_chars=MAX_URI_CHARS,
        error=INVALID_REDIRECT_URI,
    )
    if any(char.isspace() for uri in uris for char in uri):
        raise ClientMetadataError(
            "redirect_uris", "a URI must not contain spaces.", error=INVALID_REDIRECT_URI
        )
    if "authorization_code" in grant_types and not uris:
        raise ClientMetadataError(
            "redirect_uris",
            "at least one is needed for the authorization_code grant.",
            error=INVALID_REDIRECT_URI,
        )
    return uris


def _scopes(document: dict[str, Any]) -> tuple[str, ...]:
    scope = document.get("scope")
    if scope is None:
        return (DEFAULT_SCOPE,)
    scope = _text(scope, "scope", MAX_SCOPE_CHARS)
    if not SCOPE_SYNTAX.fullmatch(scope):
        raise ClientMetadataError(
            "scope", "must be scope names separated by single spaces (RFC 6749 §3.3)."
        )
    scopes = parse_scopes(scope)
    unknown = [s for s in scopes if not is_registrable_scope(s)]
    if unknown:
        raise ClientMetadataError("scope", f"Unknown scope: {' '.join(unknown)[:200]}")
    return tuple(scopes)


def _web_uri(document: dict[str, Any], field: str) -> str:
    uri = document.get(field)
    if uri is None:
        return ""
    uri = _text(uri, field, MAX_URI_CHARS)
    try:
        validate_web_url(uri)
    except ValidationError as error:
        raise ClientMetadataError(field, " ".join(error.messages)) from None
    return uri


def _software(document: dict[str, Any], field: str) -> str:
    value = document.get(field)
    return "" if value is None else _text(value, field, MAX_SOFTWARE_CHARS).strip()


def check_badge_connect(metadata: ClientMetadata, *, testing: bool) -> None:
    """Badge Connect's rules for an app asking for its scopes, as Badgr applied them: every
    field of BADGE_CONNECT_REQUIRED, the authorization code grant, and every link and
    redirect URI https on the host of `client_uri`, so that the consent page's links are
    the app's own. An app an admin marked as in testing may also redirect to a loopback
    address (any scheme), to try Badge Connect from a developer's machine."""
    if not metadata.badge_connect:
        return
    for field in BADGE_CONNECT_REQUIRED:
        if not getattr(metadata, field):
            raise ClientMetadataError(field, "is required of a Badge Connect app.")
    if "authorization_code" not in metadata.grant_types:
        raise ClientMetadataError(
            "grant_types", "a Badge Connect app must use the authorization_code grant."
        )
    host = urlsplit(metadata.client_uri).hostname
    for field in WEB_URI_FIELDS:
        if not _https_on(getattr(metadata, field), host):
            raise ClientMetadataError(field, f"must be an https address on {host}.")
    for uri in metadata.redirect_uris:
        if _https_on(uri, host) or (testing and _loopback(uri)):
            continue
        raise ClientMetadataError(
            "redirect_uris",
            f"{uri[:200]}: a Badge Connect app's redirect URIs must be https on {host}.",
            error=INVALID_REDIRECT_URI,
        )


def _https_on(uri: str, host: str | None) -> bool:
    try:
        parts = urlsplit(uri)
        return host is not None and parts.scheme == "https" and parts.hostname == host
    except ValueError:
        return False


def _loopback(uri: str) -> bool:
    try:
        return urlsplit(uri).hostname in LOOPBACK_HOSTS
    except ValueError:
        return False


def _check_contacts(document: dict[str, Any]) -> None:
    """Laurels keeps no contacts, but checks them as it would any field it understands."""
    contacts = _text_list(document, "contacts", max_items=MAX_CONTACTS, max_chars=MAX_CONTACT_CHARS)
    is_email = EmailValidator()
    for contact in contacts:
        try:
            is_email(contact)
        except ValidationError:
            raise ClientMetadataError("contacts", "each must be an email address.") from None


def metadata_error_from(error: ValidationError) -> ClientMetadataError:
    """A model's ValidationError, told in RFC 7591's field names."""
    rfc_names = {model: rfc for rfc, model in WEB_URI_FIELDS.items()} | {
        "name": "client_name",
        "allowed_scopes": "scope",
        "redirect_uris": "redirect_uris",
    }
    if not hasattr(error, "error_dict"):
        return ClientMetadataError(None, " ".join(error.messages))
    field, messages = next(iter(error.message_dict.items()))
    return ClientMetadataError(
        rfc_names.get(field, field),
        " ".join(messages),
        error=INVALID_REDIRECT_URI if field == "redirect_uris" else INVALID_METADATA,
    )
