"""LTI launch points: a connected app registered as an LTI tool, the platform's signing
keys, and each press of a button (a launch) until the tool's authentication request
spends it."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from jwcrypto import jwk
from jwcrypto.common import JWException

from laurels.connect.models import LOOPBACK_HOSTS, WEB_URL_MAX_CHARS
from laurels.core.csp import origin_source
from laurels.core.ids import entity_id_field
from laurels.lti.locations import LOCATIONS

if TYPE_CHECKING:
    from laurels.accounts.models import User

# What the tool's developer sets on a registration (portal, admin, CLI); the rest is
# Laurels' own (ids, keys) or an administrator's (LTI 1.1).
TOOL_SETTINGS = (
    "login_url",
    "launch_url",
    "jwks_url",
    "public_key",
    "locations",
    "title",
    "icon_url",
    "custom",
    "enabled",
)
CUSTOM_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
CUSTOM_MAX_PAIRS = 20
CUSTOM_VALUE_MAX_CHARS = 1000
TITLE_MAX_CHARS = 60
PUBLIC_KEY_MAX_CHARS = 20_000
# A PEM public key or certificate of a 8192-bit RSA key is under 4,000 characters.
PEM_MAX_CHARS = 8_000
# The public members a pasted JWK may have: text ones, and lists of text.
JWK_TEXT_MEMBERS = frozenset(
    {"kty", "kid", "alg", "use", "n", "e", "crv", "x", "y", "x5u", "x5t", "x5t#S256"}
)
JWK_LIST_MEMBERS = frozenset({"key_ops", "x5c"})
JWK_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
KEY_UNREADABLE = "Paste a public key as PEM or as one JWK (JSON)."
PRIVATE_KEY_REFUSED = "This is a private key: paste the tool's public key only."
T = TypeVar("T")


def new_client_id() -> str:
    """The LTI client id Laurels issues to a tool (not the app's OAuth client id)."""
    return f"lti-{secrets.token_urlsafe(16)}"


def new_deployment_id() -> str:
    return secrets.token_urlsafe(12)


def new_subject_key() -> str:
    """The key of a tool's pairwise `sub` (`ToolRegistration.subject_of`)."""
    return secrets.token_urlsafe(32)


def tool_url_field(verbose_name: str, *, blank: bool = False, help_text: str = ""):
    return models.URLField(
        verbose_name, max_length=WEB_URL_MAX_CHARS, blank=blank, help_text=help_text
    )


def parsed_public_key(text: str) -> jwk.JWK:
    """A tool's public key pasted as PEM or as one JWK (JSON); ValueError if it is neither,
    or holds a private key.

    Only imports: jwcrypto's JWK(**params) *generates* a key when `params` has `generate`
    (a pasted `{"generate": "RSA", "size": 16384}` would be minutes of CPU), so a JWK is
    first checked to be one flat object of public members. A PEM naming a private key is
    refused before it is parsed: loading one checks its primes, seconds for a large key."""
    text = text.strip()
    if len(text) > PUBLIC_KEY_MAX_CHARS:
        raise ValueError("The key is too long.")
    if text.startswith("{"):
        _check_public_jwk(text)
        key = _imported(lambda: jwk.JWK.from_json(text))
    elif "PRIVATE KEY" in text:
        raise ValueError(PRIVATE_KEY_REFUSED)
    elif len(text) > PEM_MAX_CHARS:
        raise ValueError("The key is too long.")
    else:
        key = _imported(lambda: jwk.JWK.from_pem(text.encode()))
    if key.has_private:
        raise ValueError(PRIVATE_KEY_REFUSED)
    if key.get("kty") != "RSA":
        raise ValueError("LTI 1.3 tools sign with RSA keys; this key is not one.")
    _imported(key.export_to_pem)  # builds the public key: its numbers must make one
    return key


def _check_public_jwk(text: str) -> None:
    """ValueError unless `text` is one JSON object whose members are all known public
    members of a JWK (RFC 7517 §4, RFC 7518 §6.2.1 and §6.3.1) of the expected types."""
    try:
        members = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError(KEY_UNREADABLE) from None
    if not isinstance(members, dict):
        raise ValueError(KEY_UNREADABLE)
    if members.keys() & JWK_PRIVATE_MEMBERS:
        raise ValueError(PRIVATE_KEY_REFUSED)
    for name, value in members.items():
        if name in JWK_LIST_MEMBERS:
            readable = isinstance(value, list) and all(isinstance(item, str) for item in value)
        else:
            readable = name in JWK_TEXT_MEMBERS and isinstance(value, str)
        if not readable:
            raise ValueError(f"{KEY_UNREADABLE} Unknown or malformed member: {name[:64]}.")


def _imported(load: Callable[[], T]) -> T:
    try:
        return load()
    except (ValueError, TypeError, JWException, UnicodeError, UnsupportedAlgorithm):
        raise ValueError(KEY_UNREADABLE) from None


class ToolRegistration(models.Model):
    """A connected app registered as an LTI tool: where its buttons show, where a launch
    goes, and how Laurels knows it. The client and deployment ids are Laurels' own."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="lti_tool",
    )
    client_id = models.CharField(
        "LTI client id", max_length=64, unique=True, default=new_client_id, editable=False
    )
    deployment_id = models.CharField(max_length=64, default=new_deployment_id, editable=False)
    # Keys this tool's pairwise `sub` of each person; never shown, kept while it is registered.
    subject_key = models.CharField(max_length=64, default=new_subject_key, editable=False)
    login_url = tool_url_field("OIDC login initiation URL")
    launch_url = tool_url_field(
        "launch URL", help_text="The target link URI, and the only redirect_uri accepted."
    )
    jwks_url = tool_url_field("JWKS URL", blank=True)
    public_key = models.TextField(blank=True, help_text="PEM or one JWK, when no JWKS URL.")
    locations = models.JSONField(default=list)
    title = models.CharField(
        max_length=TITLE_MAX_CHARS, blank=True, help_text="Button text; the app's name if empty."
    )
    icon_url = tool_url_field("icon URL", blank=True)
    custom = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # LTI 1.1 (deprecated by 1EdTech): only an administrator turns it on, per tool.
    lti11_enabled = models.BooleanField("LTI 1.1 enabled", default=False)
    lti11_consumer_key = models.CharField(
        "LTI 1.1 consumer key", max_length=64, blank=True, editable=False
    )
    # A Fernet token (laurels.core.secrets), never the secret in clear.
    lti11_secret = models.TextField("LTI 1.1 secret (encrypted)", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"LTI tool {self.button_title}"

    @property
    def button_title(self) -> str:
        return self.title or self.application.name

    def subject_of(self, user: User) -> str:
        """The person's id for this tool (`sub`, `login_hint`, LTI 1.1 `user_id`): an
        HMAC-SHA256 of their entityId under this registration's own key, so that it is
        stable for the tool while the registration lasts, yet two tools cannot tell from
        it that they see the same person, nor find the person's entityId."""
        return hmac.new(
            self.subject_key.encode(), user.entity_id.encode(), hashlib.sha256
        ).hexdigest()

    def clean(self) -> None:
        if self.application_id is None:
            raise ValidationError({"application": ["Choose the connected app this tool is."]})
        problems: dict[str, list[str]] = {}
        for field in ("login_url", "launch_url", "jwks_url", "icon_url"):
            value = getattr(self, field)
            if value and (problem := self._url_problem(value)):
                problems.setdefault(field, []).append(problem)
        if not self.jwks_url and not self.public_key.strip():
            problems["jwks_url"] = ["Give the tool's JWKS URL or paste its public key."]
        if self.public_key.strip():
            try:
                parsed_public_key(self.public_key)
            except ValueError as error:
                problems["public_key"] = [str(error)]
        problems.update(self._locations_problems())
        problems.update(self._custom_problems())
        if problems:
            raise ValidationError(problems)

    def _url_problem(self, url: str) -> str | None:
        """What is wrong with `url` as a tool URL, or None. The app's rule for its redirect
        URIs (no fragment or credentials; loopback hosts only while the app is in testing),
        made stricter: https always, but for http on a loopback host while the app is in
        testing (no native-app exception: a tool is a web server); a port that is a port
        (oauthlib signs LTI 1.1 launches with it); an origin a CSP form-action can name."""
        if problem := self.application._redirect_problem(url):
            return problem.replace("redirect URI", "tool URL")
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:
            return f"{url}: a port is a number from 1 to 65535."
        loopback_http = (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and self.application.testing
        )
        if parts.scheme != "https" and not loopback_http:
            return f"{url}: use https (plain http only on localhost, for an app in testing)."
        if origin_source(url) is None:
            return f"{url}: not a web address a browser can be sent to."
        return None

    def _locations_problems(self) -> dict[str, list[str]]:
        names = self.locations
        if not isinstance(names, list) or not names:
            return {"locations": ["Choose at least one place for the button."]}
        unknown = [str(name) for name in names if name not in LOCATIONS]
        if unknown:
            return {"locations": [f"Unknown launch location: {name}" for name in unknown]}
        return {}

    def _custom_problems(self) -> dict[str, list[str]]:
        custom = self.custom
        if not isinstance(custom, dict):
            return {"custom": ["Custom parameters are key=value pairs."]}
        if len(custom) > CUSTOM_MAX_PAIRS:
            return {"custom": [f"At most {CUSTOM_MAX_PAIRS} custom parameters."]}
        problems = []
        for key, value in custom.items():
            if not CUSTOM_KEY.fullmatch(str(key)):
                problems.append(f"{key}: a key is 1 to 64 letters, digits or underscores.")
            elif not isinstance(value, str) or len(value) > CUSTOM_VALUE_MAX_CHARS:
                problems.append(f"{key}: a value is text of at most 1000 characters.")
            elif key.startswith("laurels_"):
                problems.append(f"{key}: keys starting with laurels_ are Laurels' own.")
        return {"custom": problems} if problems else {}


class PlatformKey(models.Model):
    """An RSA key pair that signs launches' id_tokens. The newest one not retired signs;
    /lti/jwks publishes the newest two, so that a token signed just before a rotation
    still verifies."""

    kid = models.CharField(max_length=64, unique=True)
    # A Fernet token (laurels.core.secrets) of the private key's PEM.
    private_key = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.kid


class LtiLaunch(models.Model):
    """One press of a tool's button: who, where and on what, until the tool's
    authentication request (which must come within LAURELS_LTI_LAUNCH_SECONDS) spends it.
    `entity_id` is the `lti_message_hint` the tool hands back."""

    entity_id = entity_id_field()
    registration = models.ForeignKey(
        ToolRegistration, on_delete=models.CASCADE, related_name="launches"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    location = models.CharField(max_length=32)
    issuer = models.ForeignKey(
        "issuing.Issuer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    badge_class = models.ForeignKey(
        "issuing.BadgeClass", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    assertion = models.ForeignKey(
        "issuing.Assertion", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    return_url = models.CharField(max_length=WEB_URL_MAX_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    nonce = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            # A nonce is single-use per tool: a second launch with it is a replay.
            models.UniqueConstraint(
                fields=["registration", "nonce"],
                condition=~models.Q(nonce=""),
                name="lti_nonce_single_use",
            )
        ]

    def __str__(self) -> str:
        return f"launch of {self.registration_id} at {self.location}"
