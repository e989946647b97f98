"""Connected apps: the OAuth application (swapped into django-oauth-toolkit), the user's
consent to each app, spent authorization codes, and the audit trail."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.models import AbstractApplication

from laurels.connect.names import name_key
from laurels.connect.scopes import Scope
from laurels.core.ids import entity_id_field

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# RFC 8252 §7.3: a native app's loopback redirect URI names the interface by its IP
# literal, and the port is the one the system gave the app at run time. The network
# location of such a URI, with any port (never `localhost`, which a hosts file may point
# anywhere: §8.3).
LOOPBACK_IP_NETLOC = re.compile(r"(?P<host>127\.0\.0\.1|\[::1\])(?::(?P<port>[0-9]{1,5}))?")
WEB_URL_MAX_CHARS = 2000


def loopback_ip_uri_without_port(uri: str) -> str | None:
    """`uri` with its port taken out when it is an http URI on a loopback IP literal
    (RFC 8252 §7.3), else None. Everything else of the URI stays exactly as written, so
    two such URIs match when they are the same string but for the port."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    prefix = f"http://{parts.netloc}"
    netloc = LOOPBACK_IP_NETLOC.fullmatch(parts.netloc) if uri.startswith(prefix) else None
    if netloc is None or (netloc["port"] and not 0 < int(netloc["port"]) < 65536):
        return None
    return f"http://{netloc['host']}{uri.removeprefix(prefix)}"


def validate_web_url(value: str) -> None:
    """An app's website, logo, terms or privacy page: shown to people on the consent page,
    so http(s) with a host only, and no user name or password, which would let
    `https://laurels.example@evil.example` read as this server."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValidationError("Enter a valid http or https address.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("Use an http or https address with a host name.")
    if "@" in parts.netloc:
        raise ValidationError("An address must not contain a user name or password.")


def web_url_field(verbose_name: str | None = None) -> models.URLField:
    return models.URLField(
        verbose_name, blank=True, max_length=WEB_URL_MAX_CHARS, validators=[validate_web_url]
    )


class Application(AbstractApplication):
    """An app that may connect to Laurels, as the server's admin registered it.

    django-oauth-toolkit keeps one `authorization_grant_type` per app; Laurels lets a
    confidential app also use client credentials (for app-level scopes), and a
    first-party app also use the password grant.
    """

    class Review(models.TextChoices):
        APPROVED = "approved", "Approved"
        PENDING = "pending", "Pending review"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        """django-oauth-toolkit's sources, and the developer portal's."""

        MANUAL = "manual", "Registered by an administrator"
        DCR = "dcr", "Self-registered (POST /o/register)"
        CIMD = "cimd", "Client ID Metadata Document"
        PORTAL = "portal", "Registered in the developer portal"

    registration_source = models.CharField(
        "registration source",
        max_length=32,
        choices=Source.choices,
        default=Source.MANUAL,
        help_text="How this app was registered.",
    )

    website_url = web_url_field()
    logo_url = web_url_field()
    terms_url = web_url_field("terms of service URL")
    privacy_url = web_url_field("privacy policy URL")
    allowed_scopes = models.TextField(
        default="r:profile",
        help_text="Space-separated scopes this app may ask users for; r:profile is always "
        "available. Use rw:badgeclass:* for single-badge-class scopes and rw:issuer:* for "
        "single-issuer ones (Badgr's rw:issuer:ISSUER_ID).",
    )
    testing = models.BooleanField(
        default=False, help_text="In testing: may use http://localhost redirect URIs."
    )
    enabled = models.BooleanField(default=True)
    first_party = models.BooleanField(
        default=False,
        help_text="Run by this server's operators: may use the password grant.",
    )
    review = models.CharField(max_length=16, choices=Review.choices, default=Review.APPROVED)
    # What software the app says it is (RFC 7591 §2): Badge Connect apps must send both,
    # and read them back in the registration's answer, as from Badgr.
    software_id = models.CharField(max_length=255, blank=True)
    software_version = models.CharField(max_length=255, blank=True)
    # Badgr's server-to-server pattern: the app's client_credentials tokens act as its
    # owning user (`user`). Only an admin switches it on (connect.services), and only for a
    # confidential app with an owner; switching it off or disabling the app ends them.
    acts_as_owner = models.BooleanField(
        "client credentials act as the owner",
        default=False,
        help_text="Client-credentials tokens act as the app's owner (its user), with the "
        "app's scopes. Only for a confidential app with an owner.",
    )
    # The name as it looks (connect.names.name_key), so that a self-registered app cannot
    # take the name of one already here by changing case, accents or lookalike letters.
    name_key = models.CharField(max_length=255, blank=True, editable=False, db_index=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        indexes = [models.Index(fields=["review", "enabled"])]

    def save(self, *args, **kwargs) -> None:
        self.name_key = name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def is_usable(self, request) -> bool:
        return self.enabled and self.review == self.Review.APPROVED

    def allows_grant_type(self, *grant_types: str) -> bool:
        """The password grant is the first-party flag's alone (set only by the operator,
        in the admin site or `laurels apps create --first-party`): an app whose grant type
        reads `password` by any other means still may not use it."""
        allowed = {self.authorization_grant_type} - {self.GRANT_PASSWORD}
        if self.first_party:
            allowed.add(self.GRANT_PASSWORD)
        if self.client_type == self.CLIENT_CONFIDENTIAL:
            allowed.add(self.GRANT_CLIENT_CREDENTIALS)
        return bool(allowed & set(grant_types))

    def may_introspect(self) -> bool:
        """RFC 7662 introspection is for resource servers the operator trusts: a usable
        confidential app registered for the `introspection` scope, which only an admin
        grants (a self-registered app asking for it waits for review)."""
        return (
            self.is_usable(None)
            and self.client_type == self.CLIENT_CONFIDENTIAL
            and Scope.INTROSPECTION in self.allowed_scopes.split()
        )

    def acts_as_owner_problem(self) -> str | None:
        """Why this app may not act as its owner, None when it may (or does not ask to):
        client credentials are a confidential app's, and someone must be the owner."""
        if not self.acts_as_owner:
            return None
        if self.client_type != self.CLIENT_CONFIDENTIAL:
            return "Only a confidential app (with a client secret) uses client credentials."
        if self.user_id is None:
            return "An app without an owner cannot act as its owner; choose its owner first."
        return None

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Exact string match against a registered URI: no prefix, case or query leeway.
        The one exception is RFC 8252 §7.3: a public (native) app's loopback IP redirect
        URI matches on any port."""
        registered = self.redirect_uris.split()
        if uri in registered:
            return True
        if self.client_type != self.CLIENT_PUBLIC:
            return False
        portless = loopback_ip_uri_without_port(uri)
        return portless is not None and any(
            portless == loopback_ip_uri_without_port(candidate) for candidate in registered
        )

    def clean(self) -> None:
        super().clean()
        problems = {
            "redirect_uris": [
                problem
                for uri in self.redirect_uris.split()
                if (problem := self._redirect_problem(uri))
            ],
            "authorization_grant_type": [
                "Only a first-party app may use the password grant; mark the app first-party."
            ]
            if self.authorization_grant_type == self.GRANT_PASSWORD and not self.first_party
            else [],
            "algorithm": ["OpenID Connect id_tokens are signed with RS256 only."]
            if self.algorithm == self.HS256_ALGORITHM
            else [],
            "acts_as_owner": [problem] if (problem := self.acts_as_owner_problem()) else [],
        }
        if any(problems.values()):
            raise ValidationError({field: found for field, found in problems.items() if found})

    def _redirect_problem(self, uri: str) -> str | None:
        try:
            parts = urlsplit(uri)
            host = parts.hostname
        except ValueError:
            return f"{uri}: not a valid URI."
        if "#" in uri:
            return f"{uri}: a redirect URI must not have a fragment."
        if "@" in parts.netloc:
            return f"{uri}: a redirect URI must not contain a user name or password."
        if parts.scheme in ("http", "https") and not host:
            return f"{uri}: a redirect URI needs a host."
        if self.first_party:
            return None  # this server's own pages, on whatever LAURELS_BASE_URL is
        loopback = host in LOOPBACK_HOSTS
        native_loopback = (
            self.client_type == self.CLIENT_PUBLIC and loopback_ip_uri_without_port(uri) is not None
        )
        if loopback and not self.testing and not native_loopback:
            return (
                f"{uri}: localhost redirect URIs are only for apps marked as in testing, "
                "and http://127.0.0.1 or http://[::1] ones for public (native) apps."
            )
        if parts.scheme == "http" and not loopback:
            return f"{uri}: use https (plain http is allowed only for localhost while testing)."
        return None


class AppConsent(models.Model):
    """A user's approval of an app for a set of scopes; later requests for the same or
    fewer scopes skip the consent page. Revoking the app deletes it."""

    entity_id = entity_id_field()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_consents"
    )
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="consents",
    )
    scopes = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_app")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.application}"

    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class SpentAuthorizationCode(models.Model):
    """An authorization code already exchanged, kept so that a replay can revoke the
    tokens it produced (RFC 6749 section 4.1.2)."""

    code_checksum = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE
    )
    token_family = models.UUIDField(null=True)
    spent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"code spent {self.spent_at:%Y-%m-%d %H:%M}"


class RefreshTokenFamily(models.Model):
    """How one chain of rotated refresh tokens began: the grant the user gave the app (its
    consent or their password) and when. The toolkit's rows of a family come and go with
    each rotation; this one stays, so the family's absolute lifetime
    (LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS) counts from its first token, and the
    Connected apps page can say how each app got in.

    It also names the refresh token the family's last rotation spent, and the client
    address that rotated it: a duplicate of that token within
    LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS is spared as the same client's (two tabs, a
    retry) only when it comes from that address (connect.oauth)."""

    class GrantType(models.TextChoices):
        AUTHORIZATION_CODE = "authorization_code", "Approved on the consent page"
        PASSWORD = "password", "Signed in with the user's password"

    token_family = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE
    )
    grant_type = models.CharField(max_length=32, choices=GrantType.choices)
    started_at = models.DateTimeField(auto_now_add=True)
    last_rotated_token_checksum = models.CharField(max_length=64, blank=True, editable=False)
    last_rotated_by_address = models.GenericIPAddressField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["user", "application"])]

    def __str__(self) -> str:
        return f"{self.grant_type} family since {self.started_at:%Y-%m-%d %H:%M}"


# The built-in app personal tokens belong to (connect.services.personal_tokens_app).
PERSONAL_TOKENS_CLIENT_ID = "personal-tokens"


class PersonalToken(models.Model):
    """A long-lived access token a user made for their own scripts, with a name they gave
    it. The token itself is an access token of the built-in app `personal-tokens`
    (connect.services), so it authenticates, is limited and is revoked as every other
    token; this row adds the name, and marks the one key Badgr's legacy
    `/v2/auth/token` hands out. Deleting the access token deletes this row."""

    entity_id = entity_id_field()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens"
    )
    access_token = models.OneToOneField(
        settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL,
        on_delete=models.CASCADE,
        related_name="personal_token",
    )
    name = models.CharField(max_length=100)
    legacy_key = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(legacy_key=True),
                name="one_legacy_key_per_user",
            )
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class OwnerActingToken(models.Model):
    """Marks an access token an app holds for its owner without the owner's consent flow:
    one got by client credentials when the app acts as its owner, or one
    `POST /v2/tokens/issuers` made. All of them end when the admin clears the switch,
    changes the owner or disables the app; connect.oauth refuses a client credentials one
    whose app no longer acts as its owner. Deleting the access token deletes this row."""

    class Source(models.TextChoices):
        CLIENT_CREDENTIALS = "client_credentials", "Client credentials as the owner"
        ISSUER_TOKENS = "issuer_tokens", "POST /v2/tokens/issuers"

    access_token = models.OneToOneField(
        settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL,
        on_delete=models.CASCADE,
        related_name="owner_acting",
    )
    source = models.CharField(max_length=32, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.source} token since {self.created_at:%Y-%m-%d %H:%M}"


class AuditEvent(models.Model):
    """Who did what with tokens, grants and apps, and the issuing changes that matter
    afterwards (revocations, staff, deletions, signing keys): written in the same
    transaction as the change (issuing's through `issuing.signals`), never edited but
    when an account is deleted: its rows then name a pseudonym instead of the person
    (`connect.receivers.account_connections_end`, `audit_rows_pseudonymise`)."""

    class Kind(models.TextChoices):
        CONSENT_GRANTED = "consent_granted", "Consent granted"
        CONSENT_DENIED = "consent_denied", "Consent denied"
        TOKEN_ISSUED = "token_issued", "Token issued"
        TOKEN_REFRESHED = "token_refreshed", "Token refreshed"
        TOKEN_FAILED = "token_failed", "Token request failed"
        TOKEN_REVOKED = "token_revoked", "Token revoked"
        CODE_REPLAYED = "code_replayed", "Authorization code replayed"
        REFRESH_TOKEN_REUSED = "refresh_token_reused", "Spent refresh token presented again"
        APP_REVOKED = "app_revoked", "App access revoked by the user"
        APP_REGISTERED = "app_registered", "App registered"
        APP_CHANGED = "app_changed", "App changed"
        APP_DELETED = "app_deleted", "App deleted by its self-registration"
        APP_REVIEWED = "app_reviewed", "App approved or rejected by an admin"
        AWARD_REVOKED = "award_revoked", "Award revoked"
        STAFF_CHANGED = "staff_changed", "Issuer staff changed"
        ISSUER_DELETED = "issuer_deleted", "Issuer deleted"
        BADGE_CLASS_DELETED = "badge_class_deleted", "Badge class deleted"
        SIGNING_KEY_CHANGED = "signing_key_changed", "Issuer signing key changed"
        APP_ACTS_AS_OWNER = "app_acts_as_owner", "App's acting as its owner switched"
        ACCOUNT_DELETED = "account_deleted", "Account deleted"
        TWO_FACTOR_CHANGED = "two_factor_changed", "Two-factor log-in changed"
        ISSUER_VERIFICATION_CHANGED = "issuer_verified", "Issuer verification changed"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Who `user` was once their account is deleted (`accounts.services.account_pseudonym`):
    # the rows of one deleted account stay together without naming the person.
    user_pseudonym = models.CharField(max_length=64, blank=True)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    client_id = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "-created_at"]),
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["application", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.client_id}"
