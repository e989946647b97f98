"""Laurels' policy for django-oauth-toolkit, in the one place the toolkit asks for it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Min
from django.utils import timezone
from oauth2_provider.models import (
    AbstractRefreshToken,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING, OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from laurels.accounts.backends import user_may_act
from laurels.accounts.services import login_attempt_count
from laurels.accounts.two_factor import two_factor_on, two_factor_required
from laurels.connect import selectors, services
from laurels.connect.models import (
    Application,
    AuditEvent,
    OwnerActingToken,
    RefreshTokenFamily,
    SpentAuthorizationCode,
)
from laurels.connect.scopes import (
    APP_LEVEL_SCOPES,
    ENTITY_SCOPE,
    ENTITY_SCOPE_PATTERNS,
    entity_scope_target_exists,
    parse_scopes,
    scope_allowed_by_registration,
)
from laurels.core.ratelimit import address_key

# Where connect.views.TokenView puts the client address of a token request for the
# validator: a key of the request's environ no HTTP header can set (those are HTTP_*).
CLIENT_ADDRESS_ENVIRON_KEY = "laurels.client_address"


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def refresh_token_of_client(refresh_token: str, client_id: str) -> bool:
    """Whether `refresh_token` (live or spent) was issued to the app `client_id`: a
    refresh that names no client is that app's only for its own tokens, and a spent one
    must reach the validator so that its reuse is judged (rotation, reuse detection)."""
    return (
        get_refresh_token_model()
        .objects.filter(token_checksum=checksum(refresh_token), application__client_id=client_id)
        .exists()
    )


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


def presenting_address(request) -> str | None:
    """The client address of a token request, as connect.views.TokenView found it (behind
    trusted proxies: laurels.core.clients) and handed on in the request's environ."""
    return request.headers.get(CLIENT_ADDRESS_ENVIRON_KEY) or None


def same_client_address(first: str | None, second: str | None) -> bool:
    """Whether two known client addresses are one client's: the same IPv4 address, or
    the same IPv6 /64 (a host may change address within it: privacy extensions)."""
    return bool(first and second) and address_key(first) == address_key(second)


def acts_as_owner(request, scopes) -> bool:
    """Whether a token request gets a token acting as the app's owner: client credentials
    of an app an admin let act as its owner, asking for user scopes (an app-level scope
    alone, `introspection`, still gets the app's own token)."""
    return (
        request.grant_type == "client_credentials"
        and getattr(request.client, "acts_as_owner", False)
        and not set(scopes or ()) <= APP_LEVEL_SCOPES
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

    def validate_user(self, username, password, client, request, *args, **kwargs):
        """The password grant (Badgr's log-in) gives a token for a password alone, so it
        is refused to an account with two-factor log-in, or required to have it
        (`accounts.two_factor`): such a person logs in on the web, or makes a personal
        token for their scripts. The refusal is a wrong password's, to the letter and in
        the log-in limits, so that it never tells a guesser the password was right."""
        valid = super().validate_user(username, password, client, request, *args, **kwargs)
        if valid and (two_factor_on(request.user) or two_factor_required(request.user)):
            # Counted as the failed log-in it answers as (never taken back).
            login_attempt_count(
                account=f"user:{request.user.pk}", client_ip=presenting_address(request)
            )
            request.user = None
            return False
        return valid

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        """Scopes the app is registered for (r:profile always), no user scopes on an app
        token and no app scopes on a user's, and entity-bound scopes naming a real entity.
        An app acting as its owner gets, of the user scopes it asks for, those it is
        registered for (`_owner_scopes`)."""
        scopes = [scope for scope in scopes if scope]
        if not scopes:  # `scope=` given but empty: the same as leaving it out
            scopes = request.scopes = self.get_default_scopes(client_id, request)
        registered = frozenset(parse_scopes(client.allowed_scopes))
        if acts_as_owner(request, scopes):
            if client.user is None or not user_may_act(client.user):
                raise errors.InvalidGrantError(
                    description="The app's owner cannot act on this server.", request=request
                )
            scopes = request.scopes = self._owner_scopes(scopes, registered)
            if not scopes:
                return False
        app_level = request.grant_type == "client_credentials" and not acts_as_owner(
            request, scopes
        )
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

    @staticmethod
    def _owner_scopes(scopes: list[str], registered: frozenset[str]) -> list[str]:
        """What an app acting as its owner asked for, intersected with what it is
        registered for (RFC 6749 §3.3: the answer's `scope` says what was granted)."""
        return [s for s in scopes if scope_allowed_by_registration(s, registered)]

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        """Client credentials without a scope: the app's own scopes, or for an app acting
        as its owner every user scope it is registered for (as Badgr's password log-in)."""
        if request.grant_type == "client_credentials":
            allowed = parse_scopes(request.client.allowed_scopes)
            if request.client.acts_as_owner:
                owner_scopes = [
                    s for s in allowed if s not in APP_LEVEL_SCOPES | ENTITY_SCOPE_PATTERNS
                ]
                if owner_scopes:
                    return owner_scopes
            return [s for s in allowed if s in APP_LEVEL_SCOPES]
        return super().get_default_scopes(client_id, request, *args, **kwargs)

    # --- authorization codes, stored as digests ---------------------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Store the code's digest. A code asked for without redirect_uri is stored with
        none, so that the exchange knows whether it must name one (RFC 6749 §4.1.3)."""
        grant = self._create_authorization_code(request, {**code, "code": checksum(code["code"])})
        if getattr(request, "using_default_redirect_uri", False):
            services.authorization_code_unbind_redirect_uri(grant_id=grant.pk)

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
            services.authorization_code_replayed(spent=spent, application=client)
        return False

    # --- refresh tokens ------------------------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """The refresh token, looked at once: a live one must be the client's, within
        Laurels' lifetimes, of a user who may still act; a spent one presented again gets
        Laurels' answer (`_spent_refresh_token_presented`).

        Not the toolkit's method: it looks the token up again, and with its reuse
        protection it revokes the whole family when it finds the token spent. A
        concurrent duplicate that found the token live here and spent there (the winner
        committed in between) would then revoke the winner's new tokens, the benign race
        the grace exists for. So the toolkit's reuse protection never runs; this is the
        one place reuse is judged."""
        found = (
            get_refresh_token_model()
            .objects.select_related("access_token", "application", "user")
            .filter(token_checksum=checksum(refresh_token))
            .order_by(F("revoked").desc(nulls_first=True))
            .first()
        )
        if found is None:
            return False
        if found.revoked is not None:
            self._spent_refresh_token_presented(found, request)
            return False
        if found.access_token is None or found.application_id != getattr(client, "pk", None):
            return False  # an orphan (its access token deleted out of band), or another app's
        if refresh_token_outlived(found) or not user_may_act(found.user):
            return False  # idle or too old; or an account without a verified address
        request.user = found.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = found  # read by get_original_scopes and saving
        return True

    @staticmethod
    def _spent_refresh_token_presented(spent: AbstractRefreshToken, request) -> None:
        """RFC 9700 §4.14.2: a spent refresh token presented again means that two parties
        hold it, and the server cannot tell which is the thief, so the whole family is
        revoked. One exception: the duplicate of a refresh the same app made from the same
        client address less than LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS ago (two tabs,
        a retry after a lost answer) is refused but spares the family, so the winner's
        new tokens keep working. A thief elsewhere gets no grace, whether they refreshed
        first (the app's duplicate then revokes the thief's tokens) or second. Either way
        the reuse is audited."""
        address = presenting_address(request)
        since = (timezone.now() - spent.revoked).total_seconds()
        rotated_by = (
            RefreshTokenFamily.objects.filter(
                token_family=spent.token_family, last_rotated_token_checksum=spent.token_checksum
            )
            .values_list("last_rotated_by_address", flat=True)
            .first()
        )
        spared = (
            since < settings.LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS
            and spent.application_id == getattr(request.client, "pk", None)
            and same_client_address(rotated_by, address)
        )
        services.refresh_token_reuse_record(
            spent=spent,
            revoke_family=bool(spent.token_family) and not spared,
            ip_address=address,
            seconds_since_spent=since,
        )

    @staticmethod
    def _claim_refresh_token(request) -> None:
        """Lock the refresh token being used and make sure it is still live: of concurrent
        refreshes that all passed validation, the first to get here rotates it, and the
        others find it revoked once the lock is theirs: invalid_grant, and once their
        transaction is rolled back, the same answer as to a later duplicate
        (`save_bearer_token`). On SQLite the IMMEDIATE transaction is the lock."""
        claimed = (
            get_refresh_token_model()
            .objects.select_for_update()
            .filter(pk=request.refresh_token_instance.pk, revoked__isnull=True)
            .exists()
        )
        if not claimed:
            request.lost_refresh_race = True
            raise errors.InvalidGrantError(
                description="This refresh token was used by another request.", request=request
            )

    def save_bearer_token(self, token, request, *args, **kwargs):
        """The toolkit's transaction around `_save_bearer_token`; a refresh that lost the
        race for its token is then a spent token presented again, answered outside that
        rolled-back transaction so that a revocation it decides on holds."""
        try:
            return super().save_bearer_token(token, request, *args, **kwargs)
        except errors.InvalidGrantError:
            if getattr(request, "lost_refresh_race", False):
                spent = (
                    get_refresh_token_model()
                    .objects.select_related("application", "user")
                    .filter(pk=request.refresh_token_instance.pk, revoked__isnull=False)
                    .first()
                )
                if spent is not None:
                    self._spent_refresh_token_presented(spent, request)
            raise

    @staticmethod
    def _lock_user(request) -> None:
        """Lock the user's row, as a password change does (`User.save`): a change that
        committed meanwhile is seen from here on (a refresh finds its token revoked, a
        code finds its grant gone), and a password grant checked against the old
        password is refused. Without it, on PostgreSQL, a token could be saved after the
        change's revocation had looked for the user's tokens."""
        if request.user is None:  # client credentials: an app's own token
            return
        current = (
            get_user_model()
            ._default_manager.select_for_update()
            .filter(pk=request.user.pk)
            .values_list("password", flat=True)
            .first()
        )
        if current is None or (
            request.grant_type == "password" and current != request.user.password
        ):
            raise errors.InvalidGrantError(description="The password changed.", request=request)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        self._lock_user(request)
        spent = request.refresh_token_instance if request.grant_type == "refresh_token" else None
        if spent is not None:
            self._claim_refresh_token(request)
        super()._save_bearer_token(token, request, *args, **kwargs)
        if spent is not None:  # the toolkit has let go of it: it is spent now
            services.refresh_token_rotated(spent=spent, ip_address=presenting_address(request))
        family = None
        if token.get("refresh_token"):
            family = (
                get_refresh_token_model()
                .objects.filter(token_checksum=checksum(token["refresh_token"]))
                .values_list("token_family", flat=True)
                .first()
            )
        if request.grant_type == "authorization_code" and not services.authorization_code_spend(
            code_checksum=checksum(request.code), application=request.client, token_family=family
        ):
            raise errors.InvalidGrantError(request=request)  # a concurrent exchange won
        if family is not None and request.grant_type in RefreshTokenFamily.GrantType.values:
            services.refresh_token_family_start(
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

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        """The toolkit's token, made for the app's owner when the app acts as its owner
        (the toolkit leaves client credentials user-less), and marked as such so that
        clearing the switch or disabling the app ends it."""
        owner_acting = acts_as_owner(request, request.scopes)
        if owner_acting:
            request.user = self._acting_owner(request)
        access_token = super()._create_access_token(
            expires, request, token, source_refresh_token=source_refresh_token
        )
        if owner_acting:
            OwnerActingToken.objects.create(
                access_token=access_token, source=OwnerActingToken.Source.CLIENT_CREDENTIALS
            )
        return access_token

    @staticmethod
    def _acting_owner(request):
        """The app's owner. The app's row is locked and read again, so that an admin's
        switch, change of owner or disabling that committed meanwhile is seen (those
        lock it too, and end the tokens they find: connect.services); the owner's row as
        for any user's token (`_lock_user`). `validate_scopes` checked both first, and
        answers the usual case."""
        still = (
            Application.objects.select_for_update()
            .filter(pk=request.client.pk, enabled=True, acts_as_owner=True)
            .values_list("user_id", flat=True)
            .first()
        )
        if still is None or still != request.client.user_id:
            raise errors.InvalidGrantError(
                description="The app no longer acts as its owner.", request=request
            )
        owner = (
            get_user_model()
            ._default_manager.select_for_update()
            .filter(pk=request.client.user_id)
            .first()
        )
        if owner is None or not user_may_act(owner):
            raise errors.InvalidGrantError(
                description="The app's owner cannot act on this server.", request=request
            )
        return owner

    def _load_access_token(self, token):
        """The toolkit's read, without the ORM's query compiler (`selectors.
        access_token_loaded`); the toolkit's checks of what it read are unchanged."""
        return selectors.access_token_loaded(token)

    def validate_bearer_token(self, token, scopes, request):
        """The toolkit's check, and a client credentials token acting as the app's owner
        only while the app still does (a token saved as the switch was cleared)."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        access_token = request.access_token
        application = access_token.application
        if (
            access_token.user_id is None
            or application is None
            or access_token.user_id != application.user_id
            or application.acts_as_owner
        ):
            return True
        return not OwnerActingToken.objects.filter(
            access_token=access_token, source=OwnerActingToken.Source.CLIENT_CREDENTIALS
        ).exists()

    def validate_jwt_bearer_token(self, token, scopes, request):
        """Never: an ID token tells the app who signed in and is no access token. The
        toolkit's OpenID resource check takes a token that looks like a JWT as an ID token
        and accepts it on its signature and expiry alone, past every check above (the
        app enabled and approved, a revoked grant, the token's resources)."""
        return False

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
