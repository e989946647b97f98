"""Log in with your institution: an upstream OpenID Connect provider (docs/accounts.md).

mozilla-django-oidc runs the authorization-code flow (state, nonce, PKCE); this module
decides what it cannot know:

- **where the provider is**: its discovery document, fetched when first needed through
  `core.fetch` (public hosts only unless `LAURELS_ALLOW_PRIVATE_FETCH` opens a private
  one; size and time caps) and kept for an hour, as are its signing keys (JWKS). Its
  endpoints must be https, or on the issuer's own origin (an http issuer on loopback);
- **whether the ID token is the provider's**: RS256 or ES256 only, checked against the
  JWKS, with its issuer, audience, expiry and nonce (the library checks neither issuer
  nor audience, and would take HS256 signed with our own client secret).

Which account the person gets, and every write of a link, is
`services.institution_user_for_claims` and its neighbours; the backend below calls them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from functools import cached_property
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from laurels.accounts import services
from laurels.accounts.models import EmailAddress, InstitutionLink, User
from laurels.accounts.services import InstitutionLoginRefused
from laurels.core.errors import DomainError
from laurels.core.fetch import FetchRefused, fetch

logger = logging.getLogger(__name__)

SIGNING_ALGORITHMS = ("RS256", "ES256")
KEPT_SECONDS = 3600
DOCUMENT_MAX_BYTES = 256 * 1024
CLOCK_SKEW_SECONDS = 60
# Set on the callback's request by the view when the flow was started from the account
# settings to link the signed-in account (its password given), read by the backend.
LINK_TO_ATTRIBUTE = "laurels_institution_link_to"


class InstitutionUnreachable(DomainError):
    """The provider did not answer, or not with what a provider answers."""

    status = 502
    default_message = (
        "{name} could not be reached just now, so you cannot log in with it. Try again in a "
        "few minutes, or log in with your email address and password."
    )


# --- the provider ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """What the provider's discovery document says (OpenID Connect Discovery 1.0)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str  # "" when the provider has none: the ID token's claims then
    jwks_uri: str
    algorithms: tuple[str, ...]


def institution_name() -> str:
    return settings.LAURELS_OIDC.name if settings.LAURELS_OIDC else ""


def _document(url: str) -> dict:
    """A JSON object the provider serves at `url`, or InstitutionUnreachable."""
    try:
        fetched = fetch(url, accept="application/json", max_bytes=DOCUMENT_MAX_BYTES)
        if fetched.status != 200:
            raise FetchRefused(f"{url} answered {fetched.status}.")
        document = json.loads(fetched.content)
    except (FetchRefused, ValueError) as error:
        logger.warning("institution log-in: cannot read %s: %s", url, error)
        raise InstitutionUnreachable() from None
    if not isinstance(document, dict):
        logger.warning("institution log-in: %s is not a JSON object", url)
        raise InstitutionUnreachable()
    return document


def _endpoint(document: dict, name: str, issuer: str, *, required: bool = True) -> str:
    """An endpoint of the document: https with a host, or on the issuer's own scheme and
    host (an http issuer, which configuration allows on loopback only). The token and
    UserInfo requests go there with the client secret and the person's tokens through
    the library's `requests`, not `core.fetch`: nothing else keeps them off plain http."""
    value = document.get(name)
    if not value and not required:
        return ""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    own = urlsplit(issuer)
    usable = parts is not None and bool(parts.hostname) and not parts.fragment
    secure = usable and parts.scheme == "https"
    same_origin = usable and (parts.scheme, parts.netloc) == (own.scheme, own.netloc)
    if not (secure or same_origin):
        logger.warning("institution log-in: the discovery document's %s is unusable", name)
        raise InstitutionUnreachable()
    return value


def _kept(what: str) -> str:
    """The cache key of what is kept about the configured provider (named by its issuer,
    so that a server pointed at another provider never uses the first one's keys)."""
    return f"laurels:institution:{what}:{settings.LAURELS_OIDC.issuer}"


def provider() -> Provider:
    """The configured provider's endpoints, from its discovery document (kept an hour)."""
    kept = cache.get(_kept("provider"))
    if kept is not None:
        return Provider(**{**kept, "algorithms": tuple(kept["algorithms"])})
    configured = settings.LAURELS_OIDC.issuer
    document = _document(f"{configured}/.well-known/openid-configuration")
    issuer = document.get("issuer")
    # Discovery §4.3: the document must be the issuer's own.
    if not isinstance(issuer, str) or issuer.rstrip("/") != configured:
        logger.warning("institution log-in: discovery names issuer %r, not %r", issuer, configured)
        raise InstitutionUnreachable()
    offered = document.get("id_token_signing_alg_values_supported") or SIGNING_ALGORITHMS
    algorithms = tuple(a for a in SIGNING_ALGORITHMS if a in offered)
    if not algorithms:
        logger.warning("institution log-in: the provider signs with none of %s", SIGNING_ALGORITHMS)
        raise InstitutionUnreachable()
    found = Provider(
        issuer=issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint", configured),
        token_endpoint=_endpoint(document, "token_endpoint", configured),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", configured, required=False),
        jwks_uri=_endpoint(document, "jwks_uri", configured),
        algorithms=algorithms,
    )
    cache.set(_kept("provider"), asdict(found), KEPT_SECONDS)
    return found


def _signing_keys(*, fresh: bool) -> list:
    keys = None if fresh else cache.get(_kept("jwks"))
    if keys is None:
        keys = _document(provider().jwks_uri).get("keys")
        if not isinstance(keys, list):
            raise InstitutionUnreachable()
        cache.set(_kept("jwks"), keys, KEPT_SECONDS)
    return keys


def _signing_key(token: str) -> jwt.PyJWK:
    """The provider's key that signed `token`; the JWKS is fetched again once when no kept
    key fits (the provider rotated its keys)."""
    header = jwt.get_unverified_header(token)
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in provider().algorithms:
        raise InstitutionLoginRefused()
    for fresh in (False, True):
        for jwk in _signing_keys(fresh=fresh):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            other_key = kid is not None and jwk.get("kid") != kid
            if other_key or jwk.get("alg", algorithm) != algorithm:
                continue
            try:
                return jwt.PyJWK(jwk, algorithm=algorithm)
            except jwt.PyJWTError:
                continue
    raise InstitutionLoginRefused()


def id_token_claims(token: str, *, nonce: str | None) -> dict:
    """The claims of an ID token the provider signed for us, for this log-in (OpenID
    Connect Core §3.1.3.7), or InstitutionLoginRefused."""
    try:
        key = _signing_key(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            audience=settings.LAURELS_OIDC.client_id,
            issuer=provider().issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as error:
        logger.warning("institution log-in: ID token refused: %s", error)
        raise InstitutionLoginRefused() from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.LAURELS_OIDC.client_id:
        raise InstitutionLoginRefused()
    if not nonce or not constant_time_compare(str(claims.get("nonce", "")), nonce):
        raise InstitutionLoginRefused()
    return claims


# --- the authentication backend ----------------------------------------------------------------


class InstitutionBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with the endpoints from discovery, the token checks
    above and the account rules of `services.institution_user_for_claims`.

    It is instantiated for every request of a session it logged in (`get_user`), so
    nothing here fetches until a callback is being handled."""

    def __init__(self, *args, **kwargs) -> None:
        self.UserModel = User
        self.OIDC_RP_CLIENT_ID = settings.LAURELS_OIDC.client_id
        self.OIDC_RP_CLIENT_SECRET = settings.LAURELS_OIDC.client_secret
        self.OIDC_RP_SIGN_ALGO = SIGNING_ALGORITHMS[0]
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # the library's name
        return provider().token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return provider().userinfo_endpoint

    def authenticate(self, request, **kwargs):
        """Only the callback's call (a nonce and code verifier, nothing else): a password
        log-in carrying `?code=&state=` in its URL must not start a token exchange."""
        if request is None or set(kwargs) != {"nonce", "code_verifier"}:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        return id_token_claims(token, nonce=kwargs.get("nonce"))

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, with the UserInfo endpoint's over them; the endpoint
        must speak of the same subject (OpenID Connect Core §5.3.2)."""
        if not provider().userinfo_endpoint:
            return payload
        info = super().get_userinfo(access_token, id_token, payload)
        if not isinstance(info, dict) or info.get("sub") != payload["sub"]:
            raise InstitutionLoginRefused()
        return {**payload, **info}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        return services.institution_user_for_claims(
            claims=claims, link_to=getattr(self.request, LINK_TO_ATTRIBUTE, None)
        )

    def get_user(self, user_id):
        """The session's user while active and either holding a verified address or
        linked here: the provider vouches for a person whose address it did not verify."""
        verified = EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)
        linked = InstitutionLink.objects.filter(user=OuterRef("pk"))
        users = User._default_manager.filter(pk=user_id, is_active=True)
        return users.filter(Exists(verified) | Exists(linked)).first()


# --- pages -------------------------------------------------------------------------------------


class InstitutionContext:
    """`institution` in every template while a provider is configured: its name, and for
    the signed-in person their link (read only when a template asks)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.name = institution_name()

    @cached_property
    def link(self) -> InstitutionLink | None:
        user = self.request.user
        if not user.is_authenticated:
            return None
        links = InstitutionLink.objects.filter(user=user, issuer=settings.LAURELS_OIDC.issuer)
        return links.first()

    @cached_property
    def has_password(self) -> bool:
        """Linking asks for it, and unlinking leaves it the only way in."""
        return self.request.user.has_usable_password()


def institution_context(request: HttpRequest) -> dict:
    """Template context processor (settings, only while a provider is configured)."""
    return {"institution": InstitutionContext(request)} if settings.LAURELS_OIDC else {}


def message_for(error: DomainError) -> str:
    """The error's message with the institution's name in it."""
    return error.message.replace("{name}", institution_name())
