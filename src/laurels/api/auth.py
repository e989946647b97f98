"""How /v2 callers authenticate; the list `API_AUTH` is the one place to extend.

Each authenticator returns a `Caller` (who acts, and within which scopes) or None.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.encoding import escape_uri_path
from ninja.security import APIKeyCookie, HttpBearer
from oauth2_provider.bcp import bcp_compliant
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthlibRequest
from redis.exceptions import RedisError

from laurels.accounts import two_factor
from laurels.connect import services
from laurels.connect.permissions import Caller
from laurels.core.errors import PermissionDenied, RateLimited
from laurels.core.ratelimit import BatchedLimiter, Limit, wait_text

logger = logging.getLogger(__name__)

# How often a token's use is written down as its consent's "last used" time.
LAST_USED_RESOLUTION_SECONDS = 3600
# The per-app quota (LAURELS_API_RATE_PER_APP) counts requests per minute.
APP_QUOTA_WINDOW_SECONDS = 60
app_requests = BatchedLimiter()


def app_quota_check(*, client_id: str, first_party: bool, user_id: int | None) -> None:
    """Count one /v2 request made with an app's token; RateLimited beyond the app's quota.

    The quota is the app's: all its users' tokens count together, so one app cannot take
    the server from the others. A first-party app (Badgr's `public` client, the API
    docs) is every user's way in, so there each user counts on their own. Counted in
    batches (`BatchedLimiter`): a request writes to the database only once per 1% of the
    quota, and each worker may let up to 1% of it (at most 99 requests) past the quota
    before it learns the shared count; quotas under 200 a minute are exact.
    """
    key = f"{client_id}:{user_id}" if first_party else client_id
    limit = Limit("api:app", key, settings.LAURELS_API_RATE_PER_APP, APP_QUOTA_WINDOW_SECONDS)
    verdict = app_requests.hit(limit)
    if not verdict.allowed:
        raise RateLimited(
            f"This app has made too many requests; try again in {wait_text(verdict.retry_after)}.",
            retry_after=verdict.retry_after,
        )


def token_validator():
    """The toolkit's request validator (`LaurelsOAuth2Validator`), taken from its server
    once per set of the toolkit's classes rather than per request (`get_oauthlib_core`
    builds a server with every grant type each time, a tenth of a one-object GET's CPU).
    Neither keeps anything of a request."""
    return _token_validator(
        oauth2_settings.OAUTH2_BACKEND_CLASS,
        oauth2_settings.OAUTH2_SERVER_CLASS,
        oauth2_settings.OAUTH2_VALIDATOR_CLASS,
    )


@functools.lru_cache(maxsize=4)
def _token_validator(backend_class: type, server_class: type, validator_class: type):
    return get_oauthlib_core().server.request_validator


def bearer_token_verified(request: HttpRequest, token: str) -> OAuthlibRequest | None:
    """The toolkit's check of an access token presented in the Authorization header: its
    validator's `validate_bearer_token` (the token exists, is unexpired, carries no
    required scope it lacks, its resources allow this URL, its app is usable; ours adds
    the owner-acting rule). On success the returned request names the token's user,
    app and access token; None when the token is refused.

    `OAuthLibCore.verify_request` does the same after copying every request header into
    oauthlib's request and guessing the token's type from them: a tenth of a one-object
    GET's CPU for a token we already hold. Guessing is also how an OpenID Connect ID token
    could pass for an access token; here every token is looked up as an access token.
    As the toolkit does, a request that also brings `access_token` in its query string
    is refused (RFC 9700 section 4.3.2)."""
    if "access_token" in request.GET and bcp_compliant(
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT",
        "Presenting an OAuth 2.0 access token in the URI query string",
    ):
        return None
    # The absolute URL without its query, which is all the toolkit checks resource-bound
    # tokens (RFC 8707) against: oauthlib refuses some characters in a query (`[`) with
    # an exception, and the toolkit escaped them first.
    url = request.build_absolute_uri(escape_uri_path(request.path))
    oauth_request = OAuthlibRequest(url, http_method=request.method)
    oauth_request.scopes = []
    if not token_validator().validate_bearer_token(token, [], oauth_request):
        return None
    return oauth_request


# The schemes a token may come with: OAuth's, and the one of Badgr's legacy API key.
TOKEN_SCHEMES = ("bearer", "token")


def presented_token(authorization: str) -> str | None:
    """The token of an `Authorization` header: `Bearer <token>`, or `Token <key>` as
    Badgr's legacy API key was sent (a personal token, or any access token, is accepted
    either way); None for any other header."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() in TOKEN_SCHEMES and token else None


class BearerCaller(HttpBearer):
    """`Authorization: Bearer <token>` (or Badgr's `Token <key>`) from a connected app or
    a personal token, checked by the toolkit's validator (`bearer_token_verified`). A
    presented token that fails marks the request, so the 401 can say
    `error="invalid_token"` (RFC 6750).
    A valid one counts against its app's quota (`app_quota_check`): beyond it, 429 with
    Retry-After in the /v2 envelope."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        token = presented_token(request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        oauth_request = bearer_token_verified(request, token)
        if oauth_request is None or oauth_request.user is None:
            request.laurels_invalid_token = True
            return None
        access_token = oauth_request.access_token
        application = oauth_request.client
        app_quota_check(
            client_id=application.client_id,
            first_party=application.first_party,
            user_id=oauth_request.user.pk,
        )
        self._note_use(access_token)
        return Caller(
            user=oauth_request.user,
            scopes=frozenset(access_token.scope.split()),
            application=application,
        )

    @staticmethod
    def _note_use(access_token) -> None:
        """Write down, at most hourly, that the app was used. Bookkeeping only: with the
        shared cache (Redis) down it is skipped, and the request goes on."""
        try:
            first_this_hour = cache.add(
                f"token-used:{access_token.pk}", 1, timeout=LAST_USED_RESOLUTION_SECONDS
            )
        except RedisError:
            logger.warning("The shared cache is unreachable: the app's last use is not noted")
            return
        if first_this_hour:
            services.consent_mark_used(user=access_token.user, application=access_token.application)


class SessionCaller(APIKeyCookie):
    """A logged-in browser session (the interactive docs, our own pages' scripts).

    Unsafe methods need Django's CSRF token, as any session-authenticated write must. A
    request that carries an Authorization header is judged by that header alone. A
    session that still owes its second factor (`accounts.two_factor.step_owed`) is
    refused, 403 in the API's own shape (the log-in's code page is for pages only).
    """

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if "HTTP_AUTHORIZATION" in request.META:
            return None
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return None
        if (step := two_factor.step_owed(request)) is not None:
            raise PermissionDenied(two_factor.STEP_MESSAGES[step])
        return Caller(user=user)


API_AUTH = [BearerCaller(), SessionCaller()]
