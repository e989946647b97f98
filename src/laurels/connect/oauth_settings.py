"""django-oauth-toolkit's configuration, in one function the settings module calls.

Kept free of model imports: Django's settings are read before any app is loaded.
"""

from __future__ import annotations

# What the token endpoint accepts: a client secret (HTTP Basic or in the body), or none
# for a public app, which proves itself with PKCE instead.
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
# The grants of RFC 8414 / OpenID discovery; `password` is for first-party apps only
# (connect.models.Application.allows_grant_type).
GRANT_TYPES_SUPPORTED = ("authorization_code", "refresh_token", "client_credentials", "password")


def pkce_required(client_id: str) -> bool:
    """PKCE is required of public clients (they cannot keep a secret) and optional for
    confidential ones; the S256 method alone is accepted (RFC 9700 gate below)."""
    from laurels.connect.models import Application

    return Application.objects.filter(
        client_id=client_id, client_type=Application.CLIENT_PUBLIC
    ).exists()


def oauth2_provider_settings(
    *,
    base_url: str,
    oidc_private_key: str,
    access_token_seconds: int,
    code_seconds: int,
    self_registration: bool,
    refresh_token_idle_seconds: int,
) -> dict:
    from laurels.connect.scopes import SCOPE_DESCRIPTIONS, Scope

    return {
        "OAUTH2_VALIDATOR_CLASS": "laurels.connect.oauth.LaurelsOAuth2Validator",
        "SCOPES_BACKEND_CLASS": "laurels.connect.scopes.RegistryScopes",
        "SCOPES": {str(k): v for k, v in SCOPE_DESCRIPTIONS.items()},
        "DEFAULT_SCOPES": [str(Scope.PROFILE_READ)],
        "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_seconds,
        "ID_TOKEN_EXPIRE_SECONDS": 3600,
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": code_seconds,
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        # The toolkit's grace answers a repeated refresh with the tokens already issued,
        # which hashed storage no longer holds; Laurels' own grace for concurrent
        # duplicates (LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS) refuses them instead.
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
        # The toolkit counts this from the expiry of the refresh token's access token;
        # Laurels enforces the idle lifetime from the refresh token's own creation
        # (LaurelsOAuth2Validator), so this looser bound only lets `cleartokens` reclaim.
        "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_token_idle_seconds or None,
        "PKCE_REQUIRED": pkce_required,
        # Consent is remembered by Laurels itself (connect.AppConsent), not inferred from
        # live tokens, so the toolkit always asks and our view decides to skip.
        "REQUEST_APPROVAL_PROMPT": "force",
        "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
        "ERROR_RESPONSE_WITH_SCOPES": True,
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": oidc_private_key,
        "OIDC_ISS_ENDPOINT": base_url,
        "OIDC_USERINFO_ENDPOINT": f"{base_url}/o/userinfo",
        "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_GRANT_TYPES_SUPPORTED": list(GRANT_TYPES_SUPPORTED),
        # RFC 9700 (OAuth 2.0 Security BCP): every gate on except the password grant,
        # which Laurels allows only to first-party apps (see LaurelsOAuth2Validator).
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
        # http stays allowed for loopback redirect URIs of apps in testing (RFC 8252);
        # Application.clean() requires https for every other redirect URI.
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
        "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
        "DCR_ENABLED": self_registration,
        # Anyone may register; what they get without review is decided by
        # connect.services.application_self_register.
        "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    }
