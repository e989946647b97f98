"""Laurels' policy for django-oauth-toolkit, in the one place the toolkit asks for it."""

from __future__ import annotations

import hashlib

from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING, OAuth2Validator

from laurels.connect import services
from laurels.connect.models import AuditEvent, SpentAuthorizationCode
from laurels.connect.scopes import (
    APP_LEVEL_SCOPES,
    ENTITY_SCOPE,
    entity_scope_target_exists,
    parse_scopes,
    scope_allowed_by_registration,
)


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class LaurelsOAuth2Validator(OAuth2Validator):
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

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
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

    def _save_bearer_token(self, token, request, *args, **kwargs):
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
            SpentAuthorizationCode.objects.create(
                code_checksum=checksum(request.code),
                application=request.client,
                token_family=family,
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
