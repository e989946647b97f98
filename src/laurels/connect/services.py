"""Every change to connected apps, consents and grants goes through these functions."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    AbstractAccessToken,
    clear_expired,
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings

# The toolkit's own issuer of RFC 7591 registration tokens (stored hashed when the BCP
# token-storage gate is on); it is module-private there, so pin the toolkit's major version.
from oauth2_provider.views.dynamic_client_registration import _issue_registration_token

from laurels.connect.client_metadata import (
    ClientMetadata,
    ClientMetadataError,
    check_badge_connect,
    metadata_error_from,
)
from laurels.connect.models import (
    PERSONAL_TOKENS_CLIENT_ID,
    AppConsent,
    Application,
    AuditEvent,
    OwnerActingToken,
    PersonalToken,
    RefreshTokenFamily,
    SpentAuthorizationCode,
)
from laurels.connect.names import name_key
from laurels.connect.scopes import (
    APP_LEVEL_SCOPES,
    BADGE_CONNECT_SCOPES,
    Scope,
    expand_scopes,
    is_registrable_scope,
    parse_scopes,
)
from laurels.core.errors import NotFound
from laurels.core.ratelimit import Limit, address_key, enforce_limits

if TYPE_CHECKING:
    from laurels.accounts.models import User

BADGR_PUBLIC_CLIENT_ID = "public"
BADGR_PUBLIC_CLIENT_SCOPES = "rw:profile rw:issuer rw:backpack"
API_DOCS_CLIENT_ID = "api-docs"


@dataclass(frozen=True)
class CreatedApplication:
    """A new app and its client secret in clear, which is shown this once only."""

    application: Application
    client_secret: str | None


def audit_record(
    kind: str,
    *,
    user: User | None = None,
    application: Application | None = None,
    client_id: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.is_authenticated else None,
        application=application,
        client_id=client_id or (application.client_id if application else ""),
        ip_address=ip_address or None,
        detail=detail or {},
    )


# --- what the token endpoint records (called by connect.oauth's validator) ------------------


def authorization_code_replayed(*, spent: SpentAuthorizationCode, application: Application) -> None:
    """RFC 6749 §4.1.2: a code used twice means it leaked, so the tokens issued from it
    are revoked; audited in the same transaction."""
    with transaction.atomic():
        get_refresh_token_model().revoke_family(spent.token_family)
        audit_record(
            AuditEvent.Kind.CODE_REPLAYED,
            application=application,
            detail={"revoked_token_family": str(spent.token_family)},
        )


def refresh_token_reuse_record(
    *, spent, revoke_family: bool, ip_address: str | None, seconds_since_spent: float
) -> None:
    """A spent refresh token presented again (connect.oauth decides whether its family
    goes, RFC 9700 §4.14.2): the revocation and its audit row commit together."""
    with transaction.atomic():
        if revoke_family:
            get_refresh_token_model().revoke_family(spent.token_family)
        audit_record(
            AuditEvent.Kind.REFRESH_TOKEN_REUSED,
            user=spent.user,
            application=spent.application,
            ip_address=ip_address,
            detail={
                "family_revoked": revoke_family,
                "seconds_since_spent": round(seconds_since_spent, 1),
                "token_family": str(spent.token_family or ""),
            },
        )


def authorization_code_unbind_redirect_uri(*, grant_id: int) -> None:
    """A code asked for without redirect_uri keeps none, so that its exchange is not
    made to name one (RFC 6749 §4.1.3)."""
    get_grant_model().objects.filter(pk=grant_id).update(redirect_uri="")


def authorization_code_spend(*, code_checksum: str, application: Application, token_family) -> bool:
    """Delete the code's grant in the transaction that issues its tokens, and remember
    which tokens it gave (a replay revokes them). False when a concurrent exchange
    deleted it first: of concurrent exchanges exactly one wins."""
    deleted, _ = (
        get_grant_model().objects.filter(code=code_checksum, application=application).delete()
    )
    if not deleted:
        return False
    SpentAuthorizationCode.objects.create(
        code_checksum=code_checksum, application=application, token_family=token_family
    )
    return True


def refresh_token_rotated(*, spent, ip_address: str | None) -> None:
    """Note the family's latest rotation: its duplicate from the same app and address
    within the grace is refused without revoking the family (connect.oauth)."""
    RefreshTokenFamily.objects.filter(token_family=spent.token_family).update(
        last_rotated_token_checksum=spent.token_checksum, last_rotated_by_address=ip_address
    )


def refresh_token_family_start(
    *, token_family, user: User, application: Application, grant_type: str
) -> None:
    """A new refresh-token family (a grant): it lists the grant on the user's
    Connected apps page and carries its idle and absolute lifetimes."""
    RefreshTokenFamily.objects.create(
        token_family=token_family, user=user, application=application, grant_type=grant_type
    )


def _clean_scopes(scopes: str | list[str]) -> str:
    names = parse_scopes(scopes) if isinstance(scopes, str) else list(dict.fromkeys(scopes))
    unknown = [s for s in names if not is_registrable_scope(s)]
    if unknown:
        raise ValidationError({"allowed_scopes": [f"Unknown scope: {s}" for s in unknown]})
    return " ".join(names)


@transaction.atomic
def application_create(
    *,
    name: str,
    redirect_uris: list[str],
    scopes: str | list[str],
    public: bool = False,
    website_url: str = "",
    logo_url: str = "",
    terms_url: str = "",
    privacy_url: str = "",
    software_id: str = "",
    software_version: str = "",
    testing: bool = False,
    first_party: bool = False,
    client_id: str | None = None,
    review: str = Application.Review.APPROVED,
    grant_type: str = Application.GRANT_AUTHORIZATION_CODE,
    source: str = Application.Source.MANUAL,
    ip_address: str | None = None,
    owner: User | None = None,
) -> CreatedApplication:
    """Register an app. Public apps get no secret and must use PKCE; a confidential app
    without redirect URIs is a service that only uses client credentials. `owner` (the
    app's user) manages it in the developer portal."""
    if not name.strip():
        raise ValidationError({"name": ["An app needs a name."]})
    if not redirect_uris and grant_type == Application.GRANT_AUTHORIZATION_CODE:
        if public:
            raise ValidationError({"redirect_uris": ["A public app needs a redirect URI."]})
        grant_type = Application.GRANT_CLIENT_CREDENTIALS
    secret = None if public else generate_client_secret()
    application = Application(
        name=name.strip(),
        redirect_uris=" ".join(redirect_uris),
        allowed_scopes=_clean_scopes(scopes),
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant_type,
        client_secret=secret or "",
        website_url=website_url,
        logo_url=logo_url,
        terms_url=terms_url,
        privacy_url=privacy_url,
        software_id=software_id,
        software_version=software_version,
        testing=testing,
        first_party=first_party,
        review=review,
        registration_source=source,
        algorithm=Application.RS256_ALGORITHM,
        user=owner,
    )
    if client_id:
        application.client_id = client_id
    application.full_clean()
    application.save()
    audit_record(
        AuditEvent.Kind.APP_REGISTERED,
        user=owner,
        application=application,
        ip_address=ip_address,
        detail={"scopes": application.allowed_scopes, "review": review, "source": source},
    )
    return CreatedApplication(application, secret)


# --- self-registration (RFC 7591 / 7592) ----------------------------------------------------


@dataclass(frozen=True)
class SelfRegistration:
    """A self-registered app with the token that manages its registration, and its client
    secret in clear when it was just made."""

    application: Application
    registration_access_token: str
    client_secret: str | None = None


def self_registration_rate_check(*, client_ip: str | None) -> None:
    """Count a registration from `client_ip`; refuse it beyond the per-address limit.

    Each registration is a row and a registration token that never expires, so one
    client must not make them by the thousand (LAURELS_SELF_REGISTRATION_RATE_PER_IP).
    """
    enforce_limits(
        Limit(
            "self-registration:ip",
            address_key(client_ip),
            settings.LAURELS_SELF_REGISTRATION_RATE_PER_IP,
            settings.LAURELS_SELF_REGISTRATION_RATE_WINDOW,
        ),
        message="Too many apps registered from this address; try again in {wait}.",
    )


def _self_registration_review(scopes: tuple[str, ...], current: Application | None) -> str:
    """Within the no-review policy: approved. Otherwise pending, unless an admin already
    approved at least these scopes; an app an admin rejected stays rejected. Badge
    Connect's scopes are within the policy unless LAURELS_BADGE_CONNECT_WITHOUT_REVIEW is
    off, as in Badgr: they are what any Badge Connect app asks for, only to see or add to a
    backpack, and each user still consents."""
    if current is not None and current.review == Application.Review.REJECTED:
        return Application.Review.REJECTED
    wanted = set(scopes)
    # App-level scopes (introspection) are an admin's to grant, whatever the policy says.
    policy = set(parse_scopes(settings.LAURELS_SELF_REGISTRATION_SCOPES))
    if settings.LAURELS_BADGE_CONNECT_WITHOUT_REVIEW:
        policy |= BADGE_CONNECT_SCOPES
    no_review = policy - APP_LEVEL_SCOPES
    if wanted <= no_review:
        return Application.Review.APPROVED
    if (
        current is not None
        and current.review == Application.Review.APPROVED
        and wanted <= expand_scopes(frozenset(parse_scopes(current.allowed_scopes)))
    ):
        return Application.Review.APPROVED
    return Application.Review.PENDING


def _ensure_name_free(name: str, *, other_than: Application | None = None) -> None:
    """A self-registered app may not take the name, or a lookalike, of an app already
    here: people trust the name they already know on the consent page."""
    taken = Application.objects.filter(name_key=name_key(name))
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    if taken.exists():
        raise ClientMetadataError(
            "client_name", "an app of this name (or one that looks the same) is registered."
        )


def application_self_register(
    *, metadata: ClientMetadata, ip_address: str | None = None
) -> SelfRegistration:
    """Register an app from checked RFC 7591 metadata, approved only within the policy."""
    try:
        with transaction.atomic():
            created = _application_from_metadata(
                metadata, source=Application.Source.DCR, ip_address=ip_address
            )
            token = _issue_registration_token(created.application, None)
    except ValidationError as error:
        raise metadata_error_from(error) from None
    return SelfRegistration(created.application, token, created.client_secret)


def application_self_update(
    *,
    application: Application,
    metadata: ClientMetadata,
    presented_token: AbstractAccessToken,
    ip_address: str | None = None,
) -> SelfRegistration:
    """Replace a self-registered app's metadata (RFC 7592 §2.2) under the same rules as
    registering it; scopes beyond what was approved wait for an admin again."""
    try:
        with transaction.atomic():
            _application_metadata_apply(
                application, metadata, user=None, ip_address=ip_address, source="dcr"
            )
            token = _registration_token_renew(application, presented_token)
    except ValidationError as error:
        raise metadata_error_from(error) from None
    return SelfRegistration(application, token)


def _registration_token_renew(application: Application, presented: AbstractAccessToken) -> str:
    """A new registration token for each update, the one presented gone (RFC 7592 §3), so
    that a token seen once in a log cannot keep rewriting the app."""
    token = _issue_registration_token(application, application.user)
    presented.delete()
    return token


@transaction.atomic
def application_self_delete(
    *,
    application: Application,
    ip_address: str | None = None,
    user: User | None = None,
    source: str = "dcr",
) -> None:
    """RFC 7592 §2.3: the app deletes its own registration, with its tokens and grants
    (also its owner's Delete in the developer portal: `user`, source "portal")."""
    audit_record(
        AuditEvent.Kind.APP_DELETED,
        user=user,
        application=application,
        ip_address=ip_address,
        detail={"source": source},
    )
    application.delete()


def application_get(*, client_id: str) -> Application:
    found = Application.objects.filter(client_id=client_id).first()
    if found is None:
        raise NotFound(f"No app with client id {client_id}.")
    return found


@transaction.atomic
def application_rotate_secret(*, application: Application, actor: User | None = None) -> str:
    """A new client secret (returned once); the old one stops working at once. `actor`
    (the app's owner on the portal; None from the command line) goes into the audit."""
    if application.client_type == Application.CLIENT_PUBLIC:
        raise ValidationError("A public app has no client secret.")
    secret = generate_client_secret()
    application.client_secret = secret
    application.save()
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=application,
        detail={"rotated": "secret"},
    )
    return secret


@transaction.atomic
def application_set_enabled(
    *, application: Application, enabled: bool, actor: User | None = None
) -> Application:
    """A disabled app can neither start a flow nor use the tokens it holds; the tokens
    acting as its owner end for good. Audited, with the admin who did it when there is
    one (the CLI has none)."""
    application.enabled = enabled
    application.save(update_fields=["enabled", "updated"])  # locks the row (connect.oauth)
    ended = 0 if enabled else owner_acting_tokens_end(application=application)
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=application,
        detail={"enabled": enabled, **({"ended_owner_tokens": ended} if ended else {})},
    )
    return application


@transaction.atomic
def applications_set_enabled(
    *, applications: Iterable[Application], enabled: bool, actor: User
) -> int:
    """The admin's bulk enable/disable: every app changed and audited, or none."""
    changed = 0
    for application in applications:
        application_set_enabled(application=application, enabled=enabled, actor=actor)
        changed += 1
    return changed


@transaction.atomic
def application_review_set(*, application: Application, review: str, actor: User) -> Application:
    """An admin's decision on a self-registered app that asked for more than the policy;
    audited with the decision and who made it. Deciding what is already so changes and
    records nothing."""
    if review not in Application.Review.values:
        raise ValidationError({"review": [f"{review!r} is not a review state."]})
    if application.review == review:
        return application
    previous = application.review
    application.review = review
    application.save(update_fields=["review", "updated"])
    audit_record(
        AuditEvent.Kind.APP_REVIEWED,
        user=actor,
        application=application,
        detail={"review": review, "was": previous},
    )
    return application


@transaction.atomic
def applications_review_set(
    *, applications: Iterable[Application], review: str, actor: User
) -> int:
    """The admin's bulk approve/reject: one decision for every app, all recorded or none."""
    decided = 0
    for application in applications:
        application_review_set(application=application, review=review, actor=actor)
        decided += 1
    return decided


@transaction.atomic
def application_admin_save(
    *, application: Application, actor: User, changed: list[str], created: bool
) -> Application:
    """Save an app an admin registered or edited in the admin (whose form has checked the
    fields), audited with the fields changed. Review and enabling are decided by their
    own services (`application_review_set`, `application_set_enabled`)."""
    application.save()
    audit_record(
        AuditEvent.Kind.APP_REGISTERED if created else AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=application,
        detail={"changed": sorted(changed), "source": "admin"},
    )
    return application


def application_ensure_builtin(
    *,
    client_id: str,
    name: str,
    scopes: str,
    redirect_uris: list[str],
    public: bool = True,
    first_party: bool = True,
    grant_type: str = Application.GRANT_AUTHORIZATION_CODE,
    testing: bool = False,
) -> Application:
    """Create a first-party app Laurels itself relies on, if it is missing."""
    existing = Application.objects.filter(client_id=client_id).first()
    if existing is not None:
        if existing.redirect_uris.split() != redirect_uris:  # LAURELS_BASE_URL changed
            existing.redirect_uris = " ".join(redirect_uris)
            existing.save(update_fields=["redirect_uris", "updated"])
        return existing
    return application_create(
        name=name,
        redirect_uris=redirect_uris,
        scopes=scopes,
        public=public,
        first_party=first_party,
        client_id=client_id,
        grant_type=grant_type,
    ).application


def builtin_apps_ensure() -> None:
    """The `public` client of Badgr's password log-in, the API docs' own client, and the
    app personal tokens belong to."""
    application_ensure_builtin(
        client_id=BADGR_PUBLIC_CLIENT_ID,
        name="Badgr-compatible password log-in",
        scopes=BADGR_PUBLIC_CLIENT_SCOPES,
        redirect_uris=[],
        grant_type=Application.GRANT_PASSWORD,
    )
    base = settings.LAURELS_BASE_URL
    application_ensure_builtin(
        client_id=API_DOCS_CLIENT_ID,
        name="Laurels API docs",
        scopes="rw:profile rw:issuer rw:backpack",
        redirect_uris=[f"{base}/docs/oauth2-redirect"],
    )
    personal_tokens_app()


# --- consent and grants --------------------------------------------------------------------


def consent_covers(*, user: User, application: Application, scopes: list[str]) -> bool:
    consent = AppConsent.objects.filter(user=user, application=application).first()
    return consent is not None and set(scopes) <= consent.scope_set()


@transaction.atomic
def consent_record(
    *, user: User, application: Application, scopes: list[str], ip_address: str | None = None
) -> AppConsent:
    """Remember the person's Allow on the consent page, adding these scopes to any
    approved before. Every Allow is audited, also one that adds nothing (prompt=consent):
    each code is then traceable to an approval on the log or to a recorded consent."""
    consent, created = AppConsent.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scopes": " ".join(scopes)}
    )
    new_scopes = set(scopes) - consent.scope_set()
    if not created and new_scopes:
        consent.scopes = " ".join(sorted(consent.scope_set() | new_scopes))
        consent.save(update_fields=["scopes", "updated_at"])
    audit_record(
        AuditEvent.Kind.CONSENT_GRANTED,
        user=user,
        application=application,
        ip_address=ip_address,
        detail={"scopes": " ".join(scopes), "new": created or bool(new_scopes)},
    )
    return consent


def consent_mark_used(*, user: User, application: Application) -> None:
    AppConsent.objects.filter(user=user, application=application).update(
        last_used_at=timezone.now()
    )


@transaction.atomic
def app_access_revoke(
    *, user: User, application: Application, ip_address: str | None = None
) -> None:
    """Remove every token, code and consent `application` holds for `user`."""
    refresh_tokens = get_refresh_token_model().objects.filter(user=user, application=application)
    now = timezone.now()
    refresh_tokens.filter(revoked__isnull=True).update(revoked=now, updated=now)
    get_access_token_model().objects.filter(user=user, application=application).delete()
    get_id_token_model().objects.filter(user=user, application=application).delete()
    get_grant_model().objects.filter(user=user, application=application).delete()
    AppConsent.objects.filter(user=user, application=application).delete()
    audit_record(
        AuditEvent.Kind.APP_REVOKED, user=user, application=application, ip_address=ip_address
    )


@transaction.atomic
def user_tokens_revoke(
    *, user: User, except_access_token_id: int | None = None, reason: str = ""
) -> None:
    """End every OAuth credential `user` holds, from every app and grant: access, refresh
    and id tokens, and authorization codes not yet exchanged. `except_access_token_id`
    keeps that access token with its refresh and id token (the caller's own, when the
    user acts through it). Consents stay: an app asks again for tokens, not for approval."""
    kept = get_access_token_model().objects.filter(pk=except_access_token_id, user=user)
    kept_id_tokens = kept.exclude(id_token__isnull=True).values("id_token_id")
    now = timezone.now()
    get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exclude(
        access_token__in=kept
    ).update(revoked=now, updated=now)
    get_access_token_model().objects.filter(user=user).exclude(pk__in=kept.values("pk")).delete()
    get_id_token_model().objects.filter(user=user).exclude(pk__in=kept_id_tokens).delete()
    get_grant_model().objects.filter(user=user).delete()
    audit_record(
        AuditEvent.Kind.TOKEN_REVOKED,
        user=user,
        detail={"reason": reason, "all_tokens": True, "kept_caller": kept.exists()},
    )


def connected_app_revoke(*, user: User, key: str, ip_address: str | None = None) -> None:
    """Disconnect the app that `key` names on the user's Connected apps
    (`selectors.ConnectedApp.key`): the entityId of their consent to it, or the client id
    of an app holding their tokens without one (a password grant's)."""
    consent = (
        AppConsent.objects.select_related("application").filter(entity_id=key, user=user).first()
    )
    holding = Q(
        Exists(get_access_token_model().objects.filter(user=user, application=OuterRef("pk")))
    ) | Q(
        Exists(
            get_refresh_token_model().objects.filter(
                user=user, application=OuterRef("pk"), revoked__isnull=True
            )
        )
    )
    application = (
        consent.application
        if consent is not None
        else Application.objects.filter(holding, client_id=key).first()
    )
    if application is None:
        raise NotFound("You have not connected that app.")
    app_access_revoke(user=user, application=application, ip_address=ip_address)


# --- personal API tokens ------------------------------------------------------------------

# What a user may give a token of their own: every scope that acts for them. No app-level
# scope (introspection) and no log-in scopes (openid, email), which mean nothing here.
PERSONAL_TOKEN_SCOPES = (
    Scope.PROFILE_READ,
    Scope.PROFILE_WRITE,
    Scope.ISSUER_READ,
    Scope.ISSUER_WRITE,
    Scope.ISSUER_AWARD,
    Scope.ISSUER_HISTORY,
    Scope.ISSUER_DEFINE,
    Scope.BACKPACK_READ,
    Scope.BACKPACK_WRITE,
)
# Badgr's legacy key could do everything its user could through the API.
LEGACY_KEY_SCOPES = BADGR_PUBLIC_CLIENT_SCOPES
LEGACY_KEY_NAME = "Badgr API key"
# Long-lived, not everlasting: a forgotten key in an old script stops one day.
PERSONAL_TOKEN_LIFETIME = timedelta(days=3650)
# Tokens one user may hold at a time: a script per integration, not a token per request.
PERSONAL_TOKENS_MAX = 50


@dataclass(frozen=True)
class CreatedPersonalToken:
    """A new personal token and its key in clear, which is shown this once only: only
    its digest is stored."""

    token: PersonalToken
    key: str


def personal_tokens_app() -> Application:
    """The built-in app every personal token belongs to: confidential with a secret no
    one knows, so no grant can get a token from it; first-party, so each user counts on
    their own in the per-app quota, as with Badgr's `public` log-in."""
    return application_ensure_builtin(
        client_id=PERSONAL_TOKENS_CLIENT_ID,
        name="Personal API tokens",
        scopes=" ".join(PERSONAL_TOKEN_SCOPES),
        redirect_uris=[],
        public=False,
        grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )


def _personal_token_scopes(scopes: Iterable[str]) -> str:
    chosen = list(dict.fromkeys(scope for scope in scopes if scope))
    unknown = [scope for scope in chosen if scope not in PERSONAL_TOKEN_SCOPES]
    if unknown:
        raise ValidationError({"scope": [f"Not a scope a personal token may have: {unknown[0]}"]})
    if not chosen:
        raise ValidationError({"scope": ["Choose at least one scope."]})
    return " ".join(chosen)


@transaction.atomic
def personal_token_create(
    *, user: User, name: str, scopes: Iterable[str], legacy_key: bool = False
) -> CreatedPersonalToken:
    """Make a long-lived access token of the user's own, to paste into a script. The key
    is returned once; the database keeps its SHA-256 digest, as for every token."""
    name = name.strip()
    if not name or len(name) > PersonalToken._meta.get_field("name").max_length:
        raise ValidationError({"name": ["Give the token a name of 1 to 100 characters."]})
    scope = _personal_token_scopes(scopes)
    _lock_user(user)
    if PersonalToken.objects.filter(user=user).count() >= PERSONAL_TOKENS_MAX:
        raise ValidationError(
            {"name": [f"You have {PERSONAL_TOKENS_MAX} tokens; delete one you no longer use."]}
        )
    key = secrets.token_urlsafe(32)
    access_token = get_access_token_model()(
        user=user,
        application=personal_tokens_app(),
        scope=scope,
        expires=timezone.now() + PERSONAL_TOKEN_LIFETIME,
    )
    set_token_value(access_token, key)
    access_token.save()
    token = PersonalToken.objects.create(
        user=user, access_token=access_token, name=name, legacy_key=legacy_key
    )
    audit_record(
        AuditEvent.Kind.TOKEN_ISSUED,
        user=user,
        application=access_token.application,
        detail={"personal_token": token.entity_id, "scope": scope, "legacy_key": legacy_key},
    )
    return CreatedPersonalToken(token, key)


@transaction.atomic
def personal_token_delete(*, user: User, entity_id: str) -> None:
    """Delete one of the user's personal tokens: it stops working at once."""
    token = PersonalToken.objects.filter(user=user, entity_id=entity_id).first()
    if token is None:
        raise NotFound("You have no such token.")
    get_access_token_model().objects.filter(pk=token.access_token_id).delete()
    audit_record(
        AuditEvent.Kind.TOKEN_REVOKED,
        user=user,
        application=Application.objects.filter(client_id=PERSONAL_TOKENS_CLIENT_ID).first(),
        detail={"personal_token": entity_id},
    )


@transaction.atomic
def legacy_key_replace(*, user: User) -> CreatedPersonalToken:
    """Badgr's `PUT /v2/auth/token`: end the user's legacy key, if any, and make another."""
    _lock_user(user)
    old = PersonalToken.objects.filter(user=user, legacy_key=True).first()
    if old is not None:
        personal_token_delete(user=user, entity_id=old.entity_id)
    return personal_token_create(
        user=user, name=LEGACY_KEY_NAME, scopes=LEGACY_KEY_SCOPES.split(), legacy_key=True
    )


@transaction.atomic
def legacy_key_ensure(*, user: User) -> CreatedPersonalToken | None:
    """Badgr's `GET /v2/auth/token`, which made the key on first asking: the new key, or
    None when the user has one already (its digest only is kept, so it cannot be shown
    again)."""
    _lock_user(user)
    if PersonalToken.objects.filter(user=user, legacy_key=True).exists():
        return None
    return personal_token_create(
        user=user, name=LEGACY_KEY_NAME, scopes=LEGACY_KEY_SCOPES.split(), legacy_key=True
    )


def _lock_user(user: User) -> None:
    """Lock the user's row for the rest of the transaction, so that two requests making a
    token at once count (and make the one legacy key) one after the other."""
    get_user_model()._default_manager.select_for_update().filter(pk=user.pk).exists()


# --- pruning -------------------------------------------------------------------------------


def oauth_records_prune() -> dict[str, int]:
    """Delete the OAuth rows nothing can use any more (the daily `oauth-prune` job).

    1. Families that are over: every refresh token of theirs revoked (a disconnect, a
       password reset, a detected reuse: none is ever live again, since only a live
       token is rotated) for longer than the access-token lifetime, so no token they
       produced still works, and longer than the reuse grace. Their spent tokens guard
       nothing: a replay could revoke only what is already revoked.
    2. The toolkit's `cleartokens`: expired access and id tokens and codes, refresh
       tokens revoked, or unused, for longer than the idle lifetime
       (REFRESH_TOKEN_EXPIRE_SECONDS is set to it). A live family keeps its spent tokens
       that long, so that one replayed by whoever could still hold it revokes the family
       (RFC 9700 §4.14.2); with no idle lifetime they stay as long as the family.
    3. Family rows with no refresh token left.
    4. Spent codes: one revokes the tokens its exchange produced when it is replayed,
       so it stays while its family has any refresh token, and at least the access-token
       lifetime after the exchange (a code whose exchange made no refresh token guards
       only that access token).
    """
    refresh_tokens = get_refresh_token_model().objects
    access_lifetime = timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
    grace = timedelta(seconds=settings.LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS)
    now = timezone.now()
    over_since = now - max(access_lifetime, grace)
    same_family = refresh_tokens.filter(token_family=OuterRef("token_family"))
    over, _ = (
        refresh_tokens.exclude(token_family=None)
        .exclude(Exists(same_family.filter(revoked__isnull=True)))
        .exclude(Exists(same_family.filter(revoked__gt=over_since)))
        .delete()
    )
    clear_expired()
    families, _ = RefreshTokenFamily.objects.exclude(Exists(same_family)).delete()
    codes, _ = (
        SpentAuthorizationCode.objects.filter(spent_at__lt=now - access_lifetime)
        .filter(Q(token_family=None) | ~Exists(same_family))
        .delete()
    )
    return {"refresh_tokens_of_families_over": over, "families": families, "spent_codes": codes}


# --- apps acting as their owner (Badgr's server-to-server pattern) --------------------------


def owner_acting_tokens_end(*, application: Application) -> int:
    """Delete the app's tokens acting as its owner (connect.models.OwnerActingToken), the
    client credentials ones and the issuer tokens alike; the number ended."""
    tokens = get_access_token_model().objects.filter(
        application=application, owner_acting__isnull=False
    )
    _, deleted = tokens.delete()
    return deleted.get(tokens.model._meta.label, 0)


@transaction.atomic
def application_set_acts_as_owner(
    *, application: Application, acts_as_owner: bool, owner: User | None, actor: User | None
) -> Application:
    """An admin's switch (admin site, CLI): the app's client credentials tokens act as
    `owner`, its owning user, or stop doing so. Only a confidential app with an owner
    qualifies (`Application.acts_as_owner_problem`). Clearing the switch ends every token
    acting as the owner at once; so does another owner, for the previous one. Both
    include the issuer tokens the app made (`issuer_tokens_create`): what an app acting
    as its owner made must not outlive its acting. Audited; setting what is already so
    records nothing."""
    # Locked first, so that a client credentials request being answered meanwhile either
    # saved its token before (ended here) or reads the new state (connect.oauth).
    current = Application.objects.select_for_update().get(pk=application.pk)
    application.acts_as_owner, application.user = current.acts_as_owner, current.user
    application.client_type = current.client_type
    previous_owner_id = application.user_id
    owner_changed = (owner.pk if owner else None) != previous_owner_id
    if application.acts_as_owner == acts_as_owner and not owner_changed:
        return application
    application.user = owner
    application.acts_as_owner = acts_as_owner
    problem = application.acts_as_owner_problem()
    if problem:
        raise ValidationError({"acts_as_owner": [problem]})
    ended = 0
    if (owner_changed and previous_owner_id is not None) or not acts_as_owner:
        ended = owner_acting_tokens_end(application=application)
    application.save(update_fields=["acts_as_owner", "user", "updated"])
    audit_record(
        AuditEvent.Kind.APP_ACTS_AS_OWNER,
        user=actor,
        application=application,
        detail={
            "acts_as_owner": acts_as_owner,
            "owner": owner.entity_id if owner else None,
            "ended_tokens": ended,
        },
    )
    return application


# --- Badgr's issuer tokens (POST /v2/tokens/issuers) -----------------------------------------

# Badgr's were good for 100 years; as long as a personal token here.
ISSUER_TOKEN_LIFETIME = PERSONAL_TOKEN_LIFETIME
# Issuer tokens kept per app and issuer: Badgr handed the same token out again, but only
# a token's digest is stored here, so each request makes one, and the oldest go.
ISSUER_TOKENS_KEPT = 5


@dataclass(frozen=True)
class IssuerToken:
    """A token bound to one issuer, in clear (shown this once), as Badgr answered it."""

    issuer: str
    token: str
    expires: Any


def issuer_tokens_create(*, application: Application, issuers: list[Any]) -> list[IssuerToken]:
    """Badgr's issuer tokens: for each issuer, a long-lived token holding
    `rw:issuer:ISSUER_ID` that acts for the app's owner (whose role on the issuer still
    limits it; connect.permissions.require_issuer_tokens decides who may ask). Badgr made
    the owner staff of each issuer when they were not; Laurels changes no staff here (an
    owner of the issuer adds them), so an issuer the owner is not staff of is refused.
    `application` is the app as read when the caller's token was checked: if an admin
    changed its switch, owner or enabling since, the change ended the tokens it acts
    with, so none are made from them (`_app_unchanged_since`). All tokens are made, or
    none."""
    owner = application.user
    if owner is None:
        raise ValidationError({"issuers": ["This app has no owner for the tokens to act for."]})
    outside = [
        issuer.entity_id for issuer in issuers if not issuer.staff.filter(user=owner).exists()
    ]
    if outside:
        raise ValidationError(
            {"issuers": [f"The app's owner is not on the staff of issuer {outside[0]}."]}
        )
    with transaction.atomic():
        _app_unchanged_since(application)
        made = [_issuer_token_make(application, owner, issuer.entity_id) for issuer in issuers]
        audit_record(
            AuditEvent.Kind.TOKEN_ISSUED,
            user=owner,
            application=application,
            detail={"issuer_tokens": [token.issuer for token in made]},
        )
    return made


def _app_unchanged_since(application: Application) -> None:
    """Lock the app's row and refuse if its owner, switch or enabling differ from
    `application` as read: the admin's change (which locks it too) then ended the
    tokens it found, and tokens saved after it would outlive it."""
    unchanged = (
        Application.objects.select_for_update()
        .filter(
            pk=application.pk,
            enabled=True,
            user_id=application.user_id,
            acts_as_owner=application.acts_as_owner,
        )
        .exists()
    )
    if not unchanged:
        raise ValidationError(
            {"issuers": ["The app changed meanwhile (its owner, or whether it acts as them)."]}
        )


def _issuer_token_make(application: Application, owner: User, issuer_id: str) -> IssuerToken:
    scope = f"rw:issuer:{issuer_id}"
    key = secrets.token_urlsafe(32)
    access_token = get_access_token_model()(
        user=owner,
        application=application,
        scope=scope,
        expires=timezone.now() + ISSUER_TOKEN_LIFETIME,
    )
    set_token_value(access_token, key)
    access_token.save()
    OwnerActingToken.objects.create(
        access_token=access_token, source=OwnerActingToken.Source.ISSUER_TOKENS
    )
    older = get_access_token_model().objects.filter(
        application=application,
        user=owner,
        scope=scope,
        owner_acting__source=OwnerActingToken.Source.ISSUER_TOKENS,
    )
    stale = older.order_by("-created", "-pk").values_list("pk", flat=True)[ISSUER_TOKENS_KEPT:]
    get_access_token_model().objects.filter(pk__in=list(stale)).delete()
    return IssuerToken(issuer=issuer_id, token=key, expires=access_token.expires)


# --- Apps registered in the developer portal ------------------------------------------------
# The portal (web.developer_views) builds RFC 7591 metadata from its form and checks it with
# connect.client_metadata, then registers and changes apps under exactly the rules of
# /o/register: the review policy, the name rules and Badge Connect's requirements.


def _application_from_metadata(
    metadata: ClientMetadata,
    *,
    source: str,
    ip_address: str | None,
    owner: User | None = None,
) -> CreatedApplication:
    """Register an app from checked metadata under the self-registration policy. Called
    inside a transaction; a model's ValidationError is the caller's to translate."""
    check_badge_connect(metadata, testing=False)
    _ensure_name_free(metadata.client_name)
    return application_create(
        name=metadata.client_name,
        redirect_uris=list(metadata.redirect_uris),
        scopes=list(metadata.scopes),
        public=metadata.public,
        review=_self_registration_review(metadata.scopes, None),
        grant_type=metadata.grant_type,
        source=source,
        ip_address=ip_address,
        owner=owner,
        **metadata.stored_fields(),
    )


def _application_metadata_apply(
    application: Application,
    metadata: ClientMetadata,
    *,
    user: User | None,
    ip_address: str | None,
    source: str,
) -> None:
    """Replace an app's metadata under the rules of registering it; scopes beyond what was
    approved wait for an admin again. Called inside a transaction."""
    if metadata.public != (application.client_type == Application.CLIENT_PUBLIC):
        raise ClientMetadataError(
            "token_endpoint_auth_method", "cannot be changed; register a new app instead."
        )
    check_badge_connect(metadata, testing=application.testing)
    review = _self_registration_review(metadata.scopes, application)
    _ensure_name_free(metadata.client_name, other_than=application)
    application.name = metadata.client_name
    application.redirect_uris = " ".join(metadata.redirect_uris)
    application.allowed_scopes = _clean_scopes(list(metadata.scopes))
    application.authorization_grant_type = metadata.grant_type
    application.review = review
    for field, value in metadata.stored_fields().items():
        setattr(application, field, value)
    application.full_clean(exclude=["client_secret"])
    application.save()
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=user,
        application=application,
        ip_address=ip_address,
        detail={"scopes": application.allowed_scopes, "review": review, "source": source},
    )


def application_portal_register(
    *, owner: User, metadata: ClientMetadata, ip_address: str | None = None
) -> CreatedApplication:
    """An app registered by a signed-in person in the developer portal, owned by them:
    the same checks and review policy as POST /o/register (the caller counts it in
    `self_registration_rate_check` first, as /o/register does), without a registration
    token (its owner manages it in the portal). Raises ClientMetadataError."""
    try:
        with transaction.atomic():
            return _application_from_metadata(
                metadata,
                source=Application.Source.PORTAL,
                ip_address=ip_address,
                owner=owner,
            )
    except ValidationError as error:
        raise metadata_error_from(error) from None


def application_portal_update(
    *,
    application: Application,
    owner: User,
    metadata: ClientMetadata,
    ip_address: str | None = None,
) -> Application:
    """The owner changes their app's name, redirect URIs, scopes or links in the portal,
    under the rules of RFC 7592's update. Raises ClientMetadataError."""
    if application.user_id != owner.pk:
        raise NotFound("You have no such app.")
    try:
        with transaction.atomic():
            _application_metadata_apply(
                application, metadata, user=owner, ip_address=ip_address, source="portal"
            )
    except ValidationError as error:
        raise metadata_error_from(error) from None
    return application


def application_portal_delete(
    *, application: Application, owner: User, ip_address: str | None = None
) -> None:
    """The owner deletes their app: its tokens, codes and consents go with it."""
    if application.user_id != owner.pk:
        raise NotFound("You have no such app.")
    application_self_delete(
        application=application, ip_address=ip_address, user=owner, source="portal"
    )
