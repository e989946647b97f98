"""Reads about connected apps that depend on who is asking."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from laurels.accounts.models import User
from laurels.connect.models import (
    AppConsent,
    Application,
    OwnerActingToken,
    PersonalToken,
    RefreshTokenFamily,
)
from laurels.core.sql import Stamp, fetch_one_row, model_columns, models_of_row

GrantType = RefreshTokenFamily.GrantType


@dataclass(frozen=True)
class ConnectedApp:
    """An app that can act for the viewer: approved on the consent page, or holding a
    live token from any grant (Badgr's password log-in and first-party apps have no
    consent). `key` disconnects it: the consent's entityId, else the app's client id."""

    application: Application
    key: str
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    since: datetime | None
    last_used: datetime | None
    expires: datetime | None = None  # of its newest live access token, if any


def _live_tokens(viewer: User) -> tuple[QuerySet, QuerySet]:
    """The viewer's access tokens not expired, and refresh tokens neither revoked nor
    idle past LAURELS_REFRESH_TOKEN_IDLE_SECONDS."""
    now = timezone.now()
    access = get_access_token_model().objects.filter(user=viewer, expires__gt=now)
    refresh = get_refresh_token_model().objects.filter(user=viewer, revoked__isnull=True)
    if idle := settings.LAURELS_REFRESH_TOKEN_IDLE_SECONDS:
        refresh = refresh.filter(created__gt=now - timedelta(seconds=idle))
    return access, refresh


def connected_for(viewer: User) -> Q:
    """The apps (a filter on Application) that can act for the viewer: a consent, or a
    live access or refresh token from any grant. Revoking the app (its consent and tokens)
    takes it out at once."""
    access, refresh = _live_tokens(viewer)
    return (
        Q(pk__in=AppConsent.objects.filter(user=viewer).values("application_id"))
        | Q(pk__in=access.values("application_id"))
        | Q(pk__in=refresh.values("application_id"))
    )


def user_connected_apps(*, viewer: User) -> list[ConnectedApp]:
    """Every app that can act for the viewer, whatever the grant, newest first: in one
    query, each app with its consent and its live tokens summed up."""
    connected = [_connected_app(row) for row in _connected_rows(viewer)]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(connected, key=lambda app: app.since or oldest, reverse=True)


def user_connected_app_of(*, viewer: User, application: Application) -> ConnectedApp | None:
    """`application` as one of the viewer's connected apps (its grant's scopes, since
    when), None when it cannot act for them (never connected, or revoked since)."""
    row = _connected_rows(viewer).filter(pk=application.pk).first()
    return _connected_app(row) if row is not None else None


def _connected_rows(viewer: User) -> QuerySet[Application]:
    """The apps `connected_for` the viewer, each annotated with its consent and its live
    tokens (what `_connected_app` sums up)."""
    access, refresh = _live_tokens(viewer)
    consent = AppConsent.objects.filter(user=viewer, application=OuterRef("pk"))
    newest_access = access.filter(application=OuterRef("pk")).order_by("-created")
    families = RefreshTokenFamily.objects.filter(
        user=viewer,
        application=OuterRef("pk"),
        token_family__in=refresh.filter(application=OuterRef("application")).values("token_family"),
    )
    return Application.objects.filter(connected_for(viewer)).annotate(
        consent_key=Subquery(consent.values("entity_id")[:1]),
        consent_scopes=Subquery(consent.values("scopes")[:1]),
        consent_since=Subquery(consent.values("created_at")[:1]),
        consent_used=Subquery(consent.values("last_used_at")[:1]),
        token_scopes=Subquery(newest_access.values("scope")[:1]),
        token_used=Subquery(newest_access.values("created")[:1]),
        token_expires=Subquery(newest_access.values("expires")[:1]),
        tokens_since=Subquery(families.order_by("started_at").values("started_at")[:1]),
        by_code=Exists(families.filter(grant_type=GrantType.AUTHORIZATION_CODE)),
        by_password=Exists(families.filter(grant_type=GrantType.PASSWORD)),
    )


def user_connected_app(*, viewer: User, key: str) -> ConnectedApp | None:
    """One of the viewer's connected apps by its `key`, None if it is not one of theirs."""
    return next((app for app in user_connected_apps(viewer=viewer) if app.key == key), None)


def _connected_app(row: Application) -> ConnectedApp:
    grant_types = []
    if row.consent_key or row.by_code:
        grant_types.append(GrantType.AUTHORIZATION_CODE.value)
    if row.by_password:
        grant_types.append(GrantType.PASSWORD.value)
    scopes = f"{row.consent_scopes or ''} {row.token_scopes or ''}".split()
    return ConnectedApp(
        application=row,
        key=row.consent_key or row.client_id,
        scopes=tuple(dict.fromkeys(scopes)),
        grant_types=tuple(grant_types),
        since=min(filter(None, (row.consent_since, row.tokens_since)), default=None),
        last_used=max(filter(None, (row.consent_used, row.token_used)), default=None),
        expires=row.token_expires,
    )


def user_personal_tokens(*, viewer: User) -> list[PersonalToken]:
    """The viewer's own personal tokens, newest first, with their access tokens (scope,
    expiry) read along."""
    return list(
        PersonalToken.objects.filter(user=viewer)
        .select_related("access_token")
        .order_by("-created_at", "-pk")
    )


def introspected_token(token: str) -> dict:
    """RFC 7662 §2.2: what a resource server learns of an access token. The user is named
    by `sub` (their public entityId), not by their email address; a token that would be
    refused at the API (expired, its app disabled, its user deactivated) is inactive."""
    found = (
        get_access_token_model()
        .objects.select_related("application", "user")
        .filter(token_checksum=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
    if (
        found is None
        or not found.is_valid()
        or (found.application is not None and not found.application.is_usable(None))
        or (found.user is not None and not found.user.is_active)
    ):
        return {"active": False}
    answer = {
        "active": True,
        "scope": found.scope,
        "token_type": "Bearer",
        "exp": int(found.expires.timestamp()),
        "iat": int(found.created.timestamp()),
        "iss": settings.LAURELS_BASE_URL,
    }
    if found.application is not None:
        answer["client_id"] = found.application.client_id
    if found.user is not None:
        answer["sub"] = found.user.entity_id
    if found.resource:
        answer["aud"] = found.resource
    return answer


@dataclass(frozen=True)
class BearerTokenState:
    """What decides whether an access token is still accepted, read in one query.

    `verdict` holds everything besides the expiry that the toolkit's `verify_request`,
    our validator (`connect.oauth`: a client credentials token acting as the app's owner
    ends when the app stops acting as them) and our permissions check (the app is
    enabled and approved, the user is active); `accepted` applies it. `stamp` holds the
    values of the expressions the caller asked to read along (see `Stamp`).
    """

    token_id: int
    expires: datetime
    verdict: tuple
    stamp: tuple = ()
    # Whose token, through which app: what the /v2 per-app quota counts (api.auth).
    client_id: str = ""
    first_party: bool = False
    user_id: int | None = None
    # What the token may do (its scopes, as a sorted set: the Caller reads them as one)
    # and where (RFC 8707 resources, as stored: the toolkit checks them against the URL).
    scopes: tuple[str, ...] = ()
    resource: str = ""

    def accepted(self, now: datetime) -> bool:
        """Whether Django would accept this token now: unexpired, its app enabled and
        approved, its user active, and not an owner-acting token its app has ended."""
        enabled, review, user_active, owner_acting_ended = self.verdict
        return (
            now < self.expires
            and enabled
            and review == Application.Review.APPROVED
            and user_active
            and not owner_acting_ended
        )

    @property
    def acting_as(self) -> tuple:
        """Everything of the token that decides what Django answers with it once it is
        accepted: the user, the app, the exact scope set and the resources. Two tokens
        alike in all of it get the same answer (`laurels.api.answer_cache`)."""
        return (self.user_id, self.client_id, self.scopes, self.resource)


def bearer_token_state(token: str, stamp: Stamp | None = None) -> BearerTokenState | None:
    """The state of the access token `token`, or None when there is no such token (or it
    has no app or no user: Django refuses those).

    One indexed lookup by checksum, as the toolkit does, without building model objects;
    `stamp` adds expressions about the token's user (`u.id`) to that same query. The
    kept list answers (`laurels.api.answer_cache`) call it on every request.
    """
    stamp = stamp or Stamp(expressions=())
    sql = _token_state_sql(stamp.expressions)
    params = {
        **stamp.params,
        "checksum": hashlib.sha256(token.encode()).hexdigest(),
        "owner_acting_source": OwnerActingToken.Source.CLIENT_CREDENTIALS.value,
    }
    row = fetch_one_row(sql, params)
    if row is None:
        return None
    (
        token_id,
        expires,
        enabled,
        review,
        user_active,
        client_id,
        first_party,
        user_id,
        scope,
        resource,
        acts_as_owner,
        app_owner_id,
        owner_acting,
        *values,
    ) = row
    # `LaurelsOAuth2Validator.validate_bearer_token`: a client credentials token for the
    # app's owner is refused once the app no longer acts as them.
    owner_acting_ended = bool(owner_acting) and user_id == app_owner_id and not acts_as_owner
    return BearerTokenState(
        token_id=token_id,
        # A naive value is SQLite's UTC; PostgreSQL hands back an aware one.
        expires=expires if timezone.is_aware(expires) else timezone.make_aware(expires, UTC),
        verdict=(bool(enabled), review, bool(user_active), owner_acting_ended),
        stamp=tuple(values),
        client_id=client_id,
        first_party=bool(first_party),
        user_id=user_id,
        scopes=tuple(sorted(set((scope or "").split()))),
        resource=resource or "",
    )


@functools.lru_cache(maxsize=16)
def _token_state_sql(expressions: tuple[str, ...]) -> str:
    extra = "".join(f", ({expression})" for expression in expressions)
    owner_acting = (
        f"EXISTS (SELECT 1 FROM {OwnerActingToken._meta.db_table} o "  # noqa: S608 (our SQL)
        "WHERE o.access_token_id = t.id AND o.source = %(owner_acting_source)s)"
    )
    return (
        "SELECT t.id, t.expires, a.enabled, a.review, u.is_active, "  # noqa: S608 (our SQL; values are parameters)
        "a.client_id, a.first_party, t.user_id, t.scope, CAST(t.resource AS TEXT), "
        f"a.acts_as_owner, a.user_id, {owner_acting}{extra} "
        f"FROM {get_access_token_model()._meta.db_table} t "
        f"JOIN {Application._meta.db_table} a ON a.id = t.application_id "
        f"JOIN {User._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.token_checksum = %(checksum)s"
    )


def _access_token_layout() -> tuple:
    return ((get_access_token_model(), "t"), (Application, "a"), (User, "u"))


@functools.lru_cache(maxsize=1)
def _access_token_sql() -> str:
    token_model = get_access_token_model()
    return (
        f"SELECT {model_columns(*_access_token_layout())} "  # noqa: S608 (our SQL; values are parameters)
        f"FROM {token_model._meta.db_table} t "
        f"LEFT JOIN {Application._meta.db_table} a ON a.id = t.application_id "
        f"LEFT JOIN {User._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.token_checksum = %(checksum)s"
    )


def access_token_loaded(token: str):
    """The access token `token` with its application and user loaded, or None: what the
    toolkit's `_load_access_token` reads (the same lookup by checksum, the same LEFT
    JOINs), in one raw query that skips the ORM's query compiler, which cost more than
    the lookup on every Bearer request (`connect.oauth.LaurelsOAuth2Validator`)."""
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    row = fetch_one_row(_access_token_sql(), {"checksum": checksum})
    if row is None:
        return None
    access, application, user = models_of_row(row, *_access_token_layout())
    fields = type(access)._meta
    fields.get_field("application").set_cached_value(access, application)
    fields.get_field("user").set_cached_value(access, user)
    return access


# --- the developer portal ---------------------------------------------------------------------


def user_developer_apps(*, viewer: User) -> QuerySet[Application]:
    """The apps the viewer owns (Application.user), however they were registered."""
    return Application.objects.filter(user=viewer).order_by("name", "pk")


def user_developer_app(*, viewer: User, client_id: str) -> Application | None:
    """One of the viewer's apps; None for another person's or an unknown client id."""
    return user_developer_apps(viewer=viewer).filter(client_id=client_id).first()


def application_refused_at_authorize(client_id: str) -> Application | None:
    """The app a client id names when it exists but may not start a flow (pending review,
    rejected or turned off); None for a usable app and for an unknown client id."""
    if not client_id or len(client_id) > 100 or "\x00" in client_id:
        return None  # no such client id (and NUL is no text to PostgreSQL)
    application = Application.objects.filter(client_id=client_id).first()
    if application is None or application.is_usable(None):
        return None
    return application
