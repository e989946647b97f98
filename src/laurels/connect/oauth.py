"""Laurels' policy for django-oauth-toolkit, in the one place the toolkit asks for it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone
from oauth2_provider.models import (
    AbstractRefreshToken,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING, OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from laurels.accounts.backends import user_may_act
from laurels.connect import services
from laurels.connect.models import AuditEvent, RefreshTokenFamily, SpentAuthorizationCode
from laurels.connect.scopes import (
    APP_LEVEL_SCOPES,
    ENTITY_SCOPE,
    entity_scope_target_exists,
    parse_scopes,
    scope_allowed_by_registration,
)


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def refresh_token_family_started_at(refresh_token: AbstractRefreshToken) -> datetime:
    """When the family of `refresh_token` got its first token: its RefreshTokenFamily
    row, or for a family older than those rows the oldest of its tokens still stored."""
    started = (
        RefreshTokenFamily.objects.filter(token_family=refresh_token.token_family)
        .values_list("started_at", flat=True)
        .first()
    )
    if started is None and refresh_token.token_family:
        started = (
            get_refresh_token_model()
            .objects.filter(token_family=refresh_token.token_family)
            .aggregate(first=Min("created"))["first"]
        )
    return started or refresh_token.created


def refresh_token_outlived(refresh_token: AbstractRefreshToken) -> bool:
    """Whether `refresh_token` is past Laurels' lifetimes: unused for longer than
    LAURELS_REFRESH_TOKEN_IDLE_SECONDS (with rotation each refresh makes a new token, so
    its age is the time the grant went unused), or its family older than
    LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS, however busy (0 turns either off)."""
    now = timezone.now()
    idle = settings.LAURELS_REFRESH_TOKEN_IDLE_SECONDS
    if idle and refresh_token.created <= now - timedelta(seconds=idle):
        return True
    absolute = settings.LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS
    return bool(absolute) and (
        refresh_token_family_started_at(refresh_token) <= now - timedelta(seconds=absolute)
    )


class LaurelsOAuth2Validator(OAuth2Validator):
    """The toolkit's validator with Laurels' rules.

    Authorization codes are stored as their SHA-256 digest, as the toolkit stores tokens
    (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE): the toolkit's Grant lookups take the code as
    given, so every method that finds a Grant is handed the digest here. A code is
    consumed, and a refresh token claimed, inside the transaction that issues their
    tokens, so that of concurrent requests with one of them exactly one wins.
    """

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        """The app's registration decides; the password grant is for first-party apps only
        (Application.allows_grant_type), so the toolkit's blanket RFC 9700 gate for it is
        replaced by that rule."""
        return request.client.allows_grant_type(*GRANT_TYPE_MAPPING[grant_type])

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        """Scopes the app is registered for (r:profile always), no user scopes on an app
        token and no app scopes on a user's, and entity-bound scopes naming a real entity."""
        scopes = [scope for scope in scopes if scope]
        if not scopes:  # `scope=` given but empty: the same as leaving it out
            scopes = request.scopes = self.get_default_scopes(client_id, request)
        registered = frozenset(parse_scopes(client.allowed_scopes))
        app_level = request.grant_type == "client_credentials"
        for scope in scopes:
            if (scope in APP_LEVEL_SCOPES) != app_level:
                return False
            if scope in APP_LEVEL_SCOPES:
                if scope not in registered:
                    return False
                continue
            if not scope_allowed_by_registration(scope, registered):
                return False
            if ENTITY_SCOPE.match(scope) and not entity_scope_target_exists(scope):
                return False
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        if request.grant_type == "client_credentials":
            return [s for s in parse_scopes(request.client.allowed_scopes) if s in APP_LEVEL_SCOPES]
        return super().get_default_scopes(client_id, request, *args, **kwargs)

    # --- authorization codes, stored as digests ---------------------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Store the code's digest. A code asked for without redirect_uri is stored with
        none, so that the exchange knows whether it must name one (RFC 6749 §4.1.3)."""
        grant = self._create_authorization_code(request, {**code, "code": checksum(code["code"])})
        if getattr(request, "using_default_redirect_uri", False):
            get_grant_model().objects.filter(pk=grant.pk).update(redirect_uri="")

    def _grant(self, code: str, request):
        """The unexpired or expired Grant of `code` for the requesting app; a code
        exchanged meanwhile by a concurrent request is invalid_grant, not a crash."""
        grant = (
            get_grant_model()
            .objects.filter(code=checksum(code), application=request.client)
            .first()
        )
        if grant is None:
            raise errors.InvalidGrantError(request=request)
        return grant

    def get_code_challenge(self, code, request):
        """The code's PKCE challenge. A code_verifier sent for a code issued without a
        challenge is refused: otherwise a code injected from a flow without PKCE passes
        the client's PKCE check (the PKCE downgrade attack, RFC 9700 §4.8.2)."""
        challenge = self._grant(code, request).code_challenge or None
        if challenge is None and request.code_verifier is not None:
            raise errors.InvalidGrantError(
                description="This code was issued without code_challenge; "
                "send no code_verifier with it.",
                request=request,
            )
        return challenge

    def get_code_challenge_method(self, code, request):
        return self._grant(code, request).code_challenge_method or None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        """RFC 6749 §4.1.3: a code asked for with redirect_uri is exchanged only with that
        same redirect_uri (invalid_grant, as §5.2 says, otherwise)."""
        grant = self._grant(code, request)
        if not grant.redirect_uri:
            return client.redirect_uri_allowed(redirect_uri)
        named = not getattr(request, "using_default_redirect_uri", False)
        if named and redirect_uri == grant.redirect_uri:
            return True
        raise errors.InvalidGrantError(
            description="redirect_uri must be the one the authorization request named.",
            request=request,
        )

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Nothing left to do: `_save_bearer_token` consumed the code in the transaction
        that issued its tokens."""

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_scopes(
            client_id, checksum(code), redirect_uri, request
        )

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_nonce(
            client_id, checksum(code), redirect_uri, request
        )

    def _check_and_set_request_resource(self, request):
        """The toolkit reads the code's RFC 8707 resources by `request.code`: hand it the
        digest for that read."""
        code = getattr(request, "code", None)
        if code is None:
            return super()._check_and_set_request_resource(request)
        request.code = checksum(code)
        try:
            return super()._check_and_set_request_resource(request)
        finally:
            request.code = code

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if super().validate_code(client_id, checksum(code), client, request, *args, **kwargs):
            return True
        spent = SpentAuthorizationCode.objects.filter(
            code_checksum=checksum(code), application=client
        ).first()
        if spent is not None:
            get_refresh_token_model().revoke_family(spent.token_family)
            services.audit_record(
                AuditEvent.Kind.CODE_REPLAYED,
                application=client,
                detail={"revoked_token_family": str(spent.token_family)},
            )
        return False

    # --- refresh tokens ------------------------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """The toolkit's checks (rotation with reuse detection: a rotated token presented
        again revokes its family), Laurels' lifetimes, and a short grace: a token rotated
        less than LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS ago is refused without
        revoking the family. Concurrent duplicates of one refresh (two tabs, a retry)
        arrive just after the winner's rotation and are not a thief's replay; revoking
        the family then would take the winner's new tokens too."""
        if self._rotated_moments_ago(refresh_token, client):
            return False
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        if not user_may_act(request.user):
            return False  # e.g. a token from before verification was required, or since removed
        return not refresh_token_outlived(request.refresh_token_instance)

    @staticmethod
    def _rotated_moments_ago(refresh_token: str, client) -> bool:
        grace = settings.LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS
        if not grace or client is None:
            return False
        successor = get_access_token_model().objects.filter(source_refresh_token=OuterRef("pk"))
        return (
            get_refresh_token_model()
            .objects.filter(
                token_checksum=checksum(refresh_token),
                application=client,
                revoked__gt=timezone.now() - timedelta(seconds=grace),
            )
            .filter(Exists(successor))
            .exists()
        )

    @staticmethod
    def _claim_refresh_token(request) -> None:
        """Lock the refresh token being used and make sure it is still live: of concurrent
        refreshes that all passed validation, the first to get here rotates it, and the
        others find it revoked once the lock is theirs (invalid_grant, family kept). On
        SQLite the IMMEDIATE transaction is the lock."""
        claimed = (
            get_refresh_token_model()
            .objects.select_for_update()
            .filter(pk=request.refresh_token_instance.pk, revoked__isnull=True)
            .exists()
        )
        if not claimed:
            raise errors.InvalidGrantError(
                description="This refresh token was used by another request.", request=request
            )

    @staticmethod
    def _consume_authorization_code(request) -> None:
        """Delete the code's Grant in the transaction that issues its tokens: of
        concurrent exchanges, one deletes it and the others find nothing to delete."""
        deleted, _ = (
            get_grant_model()
            .objects.filter(code=checksum(request.code), application=request.client)
            .delete()
        )
        if not deleted:
            raise errors.InvalidGrantError(request=request)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        if request.grant_type == "refresh_token":
            self._claim_refresh_token(request)
        super()._save_bearer_token(token, request, *args, **kwargs)
        family = None
        if token.get("refresh_token"):
            family = (
                get_refresh_token_model()
                .objects.filter(token_checksum=checksum(token["refresh_token"]))
                .values_list("token_family", flat=True)
                .first()
            )
        if request.grant_type == "authorization_code":
            self._consume_authorization_code(request)
            SpentAuthorizationCode.objects.create(
                code_checksum=checksum(request.code),
                application=request.client,
                token_family=family,
            )
        if family is not None and request.grant_type in RefreshTokenFamily.GrantType.values:
            RefreshTokenFamily.objects.create(
                token_family=family,
                user=request.user,
                application=request.client,
                grant_type=request.grant_type,
            )
        kind = (
            AuditEvent.Kind.TOKEN_REFRESHED
            if request.grant_type == "refresh_token"
            else AuditEvent.Kind.TOKEN_ISSUED
        )
        services.audit_record(
            kind,
            user=request.user,
            application=request.client,
            detail={"grant_type": request.grant_type, "scope": token.get("scope", "")},
        )

    # --- OpenID Connect --------------------------------------------------------------------

    def validate_silent_login(self, request):
        """`prompt=none` is answered by connect.views.AuthorizationView before oauthlib
        looks: login_required without a session, consent_required without consent."""
        return True

    def validate_silent_authorization(self, request):
        return True

    def get_additional_claims(self, request):
        """OpenID Connect claims; `sub` is the user's public entityId, not a database key."""
        user = request.user
        return {
            "sub": user.entity_id,
            "email": user.email,
            "email_verified": user.email_addresses.filter(email=user.email, verified=True).exists(),
            "given_name": user.first_name,
            "family_name": user.last_name,
            "name": user.get_full_name(),
        }

    # The claims each OpenID scope releases (profile names come with r:profile).
    oidc_claim_scope = {
        "sub": "openid",
        "email": "email",
        "email_verified": "email",
        "given_name": "r:profile",
        "family_name": "r:profile",
        "name": "r:profile",
    }
