"""Django settings for Laurels.

Everything is read from environment variables through `laurels.config`; the README's
"Configuration" section lists each one. There is no per-environment settings file:
behaviour changes only through explicit variables.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from laurels.config import (
    base_url_from_env,
    data_dir_from_env,
    encryption_keys_from_env_or_file,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    institution_login_from_env,
    oidc_private_key_from_env_or_file,
    origin_from_env,
    secret_key_from_env_or_file,
)
from laurels.connect.oauth_settings import oauth2_provider_settings
from laurels.core.clients import parse_networks
from laurels.core.sqlite_wal import autocheckpoint_pages

# --- Core ------------------------------------------------------------------------------

LAURELS_HOME = data_dir_from_env()
LAURELS_BASE_URL = base_url_from_env()
_base = urlsplit(LAURELS_BASE_URL)

SECRET_KEY = secret_key_from_env_or_file(LAURELS_HOME)
# Fernet keys, newest first, that encrypt secrets kept in the database (laurels.core.secrets).
LAURELS_ENCRYPTION_KEYS = encryption_keys_from_env_or_file(LAURELS_HOME)
DEBUG = env_bool("DEBUG", False)

# /healthz (laurels.core.health): free space under which the data directory counts as
# low, and seconds between the real writes that check the database takes them.
LAURELS_HEALTH_MIN_FREE_MB = env_int("LAURELS_HEALTH_MIN_FREE_MB", 100, minimum=0)
LAURELS_HEALTH_WRITE_CHECK_SECONDS = env_int("LAURELS_HEALTH_WRITE_CHECK_SECONDS", 10, minimum=1)

ALLOWED_HOSTS = env_list(
    "LAURELS_ALLOWED_HOSTS",
    list(dict.fromkeys([_base.hostname or "", "127.0.0.1", "localhost", "[::1]"])),
)
# The public origin of the Badgr server this one replaces (`laurels import-badgr`): its
# host, pointed here, serves the awards brought over under the URLs baked into them
# (`hosted_origin`, docs/open-badges.md).
LAURELS_BADGR_ORIGIN = origin_from_env("LAURELS_BADGR_ORIGIN")
if LAURELS_BADGR_ORIGIN:
    _badgr_host = urlsplit(LAURELS_BADGR_ORIGIN).hostname or ""
    _badgr_host = f"[{_badgr_host}]" if ":" in _badgr_host else _badgr_host  # IPv6
    ALLOWED_HOSTS = list(dict.fromkeys([*ALLOWED_HOSTS, _badgr_host]))
CSRF_TRUSTED_ORIGINS = env_list(
    "LAURELS_CSRF_TRUSTED_ORIGINS", [f"{_base.scheme}://{_base.netloc}"]
)

# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto header (and only then).
if env_bool("LAURELS_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

_https = _base.scheme == "https"
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _https:
    SECURE_HSTS_SECONDS = env_int("LAURELS_HSTS_SECONDS", 0, minimum=0)

# Content-Security-Policy of every HTML page (laurels.core.csp): scripts only from this
# server, never inline or eval'd; no plugins, <base>, framing, or forms posting elsewhere.
# A route that needs more adds sources to its own answer with `csp.allow_sources`.
LAURELS_CONTENT_SECURITY_POLICY = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    # ... and the old Badgr origin, under which the images of what was brought over live.
    "img-src": tuple(
        dict.fromkeys(
            ["'self'", f"{_base.scheme}://{_base.netloc}", *filter(None, [LAURELS_BADGR_ORIGIN])]
        )
    ),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "oauth2_provider",
    # Two-factor log-in (accounts.two_factor): TOTP devices and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "laurels.core",
    "laurels.accounts",
    "laurels.connect",
    "laurels.issuing",
    "laurels.openbadges",
    "laurels.backpack",
    "laurels.badgr",
    "laurels.jobs",
    "laurels.lti",
    "laurels.api",
    "laurels.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # NUL in a URL, a form or Basic credentials: 400 before any view (PostgreSQL would 500).
    "laurels.core.middleware.UnreadableRequestMiddleware",
    # The old Badgr host (LAURELS_BADGR_ORIGIN) serves /public/ only; the rest redirects.
    "laurels.core.middleware.OldOriginPublicOnlyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Every HTML answer, error pages included, gets LAURELS_CONTENT_SECURITY_POLICY.
    "laurels.core.csp.ContentSecurityPolicyMiddleware",
    "laurels.api.middleware.ApiEnvelopeMiddleware",
    # A full or read-only disk answers 503, not 500 (the /v2 API does so in its envelope).
    "laurels.core.storage.StorageFaultMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django parses multipart bodies of POST only; this does it for PUT image uploads.
    "ninja.compatibility.files.fix_request_files_middleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session logged in without its second factor reaches only the code page (or the
    # two-factor settings, when LAURELS_TWO_FACTOR_REQUIRED asks for one and it has none).
    # Not django-otp's OTPMiddleware: it would read the device on every request.
    "laurels.accounts.two_factor.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "laurels.urls"
WSGI_APPLICATION = "laurels.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "laurels.web.context_processors.site",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------

SQLITE_PATH = LAURELS_HOME / "laurels.sqlite3"
SQLITE_ENGINE = "laurels.core.sqlite_backend"
DATABASE_URL = env_str("DATABASE_URL")
# Seconds between checkpoints of SQLite's write-ahead log by a thread in each server
# worker (laurels.core.sqlite_wal); 0 leaves them to the commits, as SQLite does.
LAURELS_SQLITE_CHECKPOINT_SECONDS = env_int("LAURELS_SQLITE_CHECKPOINT_SECONDS", 1, minimum=0)


def database_from_url(url: str) -> dict:
    """One DATABASES entry: PostgreSQL (or any dj-database-url URL) or the embedded SQLite.

    SQLite runs in WAL mode so readers never wait for the writer, with IMMEDIATE
    transactions queued on a lock file, and a busy timeout for writes outside one, so
    that concurrent writers queue instead of failing with "database is locked".
    """
    if url:
        database = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    else:
        database = {"ENGINE": SQLITE_ENGINE, "NAME": str(SQLITE_PATH)}
    if database["ENGINE"] in (SQLITE_ENGINE, "django.db.backends.sqlite3"):
        # Django's backend, with writers queued on a lock file (laurels.core.sqlite_backend).
        database["ENGINE"] = SQLITE_ENGINE
        database.setdefault("OPTIONS", {}).update(
            {
                "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA wal_autocheckpoint="
                f"{autocheckpoint_pages(LAURELS_SQLITE_CHECKPOINT_SECONDS)}",
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("LAURELS_SQLITE_TIMEOUT", 20, minimum=1),
            }
        )
        database["CONN_MAX_AGE"] = 600
    return database


DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, sessions' neighbours) ----------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Awards' hosted documents rendered by a queued job after the award (or its revocation)
# commits, and kept in the database for every worker (laurels.openbadges.kept): the first
# request for any award is then answered by the fast path. About 1 KB per award.
LAURELS_KEEP_DOCUMENTS = env_bool("LAURELS_KEEP_DOCUMENTS", True)
# How many whole answers to polled /v2 lists each process keeps (laurels.api.answer_cache).
LAURELS_KEPT_ANSWERS = env_int("LAURELS_KEPT_ANSWERS", 500, minimum=0)
# ... and how many bytes of answer bodies at most, all together.
LAURELS_KEPT_ANSWERS_BYTES = env_int("LAURELS_KEPT_ANSWERS_BYTES", 64 * 1024 * 1024, minimum=0)

# --- Accounts --------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["laurels.accounts.backends.EmailAddressBackend"]
# User.email is not unique: accounts waiting for verification may claim the same address;
# the backend logs in by verified address only (laurels.accounts.models).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("LAURELS_PASSWORD_MIN_LENGTH", 10, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id (laurels.accounts.hashers) for every new hash; PBKDF2 hashes made before still
# verify, and are re-hashed with Argon2id at their owner's next log-in.
PASSWORD_HASHERS = [
    "laurels.accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# How long an email verification link stays valid; a claim to an address nobody proved
# is deleted that long after its last link was sent (laurels.jobs.periodic).
LAURELS_EMAIL_VERIFICATION_MAX_AGE = env_int(
    "LAURELS_EMAIL_VERIFICATION_MAX_AGE", 3 * 24 * 3600, minimum=60
)
PASSWORD_RESET_TIMEOUT = env_int("LAURELS_PASSWORD_RESET_TIMEOUT", 24 * 3600, minimum=60)
# Rate limits (laurels.core.ratelimit), counted in the database, or in Redis with
# REDIS_URL, so that all workers and machines count together.
# Failed log-ins allowed per window (every way in, and guesses of the current password
# when changing it, share the counters; successes do not count): per account from one
# client address, per account from anywhere (higher, or anyone could lock anyone out),
# and per client address whatever the account.
LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = env_int(
    "LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP", 10, minimum=1
)
LAURELS_LOGIN_RATE_PER_ACCOUNT = env_int("LAURELS_LOGIN_RATE_PER_ACCOUNT", 100, minimum=1)
LAURELS_LOGIN_RATE_PER_IP = env_int("LAURELS_LOGIN_RATE_PER_IP", 50, minimum=1)
LAURELS_LOGIN_RATE_WINDOW = env_int("LAURELS_LOGIN_RATE_WINDOW", 15 * 60, minimum=1)
# Verification-link resends per window, per email address and per client address.
LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT = env_int(
    "LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT", 5, minimum=1
)
LAURELS_VERIFICATION_RESEND_RATE_PER_IP = env_int(
    "LAURELS_VERIFICATION_RESEND_RATE_PER_IP", 20, minimum=1
)
LAURELS_VERIFICATION_RESEND_RATE_WINDOW = env_int(
    "LAURELS_VERIFICATION_RESEND_RATE_WINDOW", 3600, minimum=1
)
# Staff invitations per window: per inviting user (beyond it, 429), and mails per invited
# address (beyond it the invitation is still made, without a mail).
LAURELS_STAFF_INVITATION_RATE_PER_USER = env_int(
    "LAURELS_STAFF_INVITATION_RATE_PER_USER", 50, minimum=1
)
LAURELS_STAFF_INVITATION_RATE_PER_ADDRESS = env_int(
    "LAURELS_STAFF_INVITATION_RATE_PER_ADDRESS", 3, minimum=1
)
LAURELS_STAFF_INVITATION_RATE_WINDOW = env_int(
    "LAURELS_STAFF_INVITATION_RATE_WINDOW", 24 * 3600, minimum=1
)
# Password-reset mails per window, per email address and per client address; beyond
# them the answer is the same and no mail goes out.
LAURELS_PASSWORD_RESET_RATE_PER_ACCOUNT = env_int(
    "LAURELS_PASSWORD_RESET_RATE_PER_ACCOUNT", 5, minimum=1
)
LAURELS_PASSWORD_RESET_RATE_PER_IP = env_int("LAURELS_PASSWORD_RESET_RATE_PER_IP", 20, minimum=1)
LAURELS_PASSWORD_RESET_RATE_WINDOW = env_int("LAURELS_PASSWORD_RESET_RATE_WINDOW", 3600, minimum=1)
# Sign-ups per window per client address.
LAURELS_SIGNUP_RATE_PER_IP = env_int("LAURELS_SIGNUP_RATE_PER_IP", 20, minimum=1)
LAURELS_SIGNUP_RATE_WINDOW = env_int("LAURELS_SIGNUP_RATE_WINDOW", 3600, minimum=1)
# Badge imports per window (the Import page's check and save, POST /v2/backpack/import,
# Badge Connect's push), per person and per client address: each fetches from whatever
# host the badge names, so nobody may turn the server into a fetching loop.
LAURELS_IMPORT_RATE_PER_USER = env_int("LAURELS_IMPORT_RATE_PER_USER", 30, minimum=1)
LAURELS_IMPORT_RATE_PER_IP = env_int("LAURELS_IMPORT_RATE_PER_IP", 120, minimum=1)
LAURELS_IMPORT_RATE_WINDOW = env_int("LAURELS_IMPORT_RATE_WINDOW", 600, minimum=1)
# /v2 requests per minute per connected app (per app and user for first-party apps such as
# Badgr's `public`, which all their users share); beyond it, 429 with Retry-After.
LAURELS_API_RATE_PER_APP = env_int("LAURELS_API_RATE_PER_APP", 6000, minimum=1)
# Proxies (comma-separated addresses or networks) whose X-Forwarded-For names the client
# (laurels.core.clients); empty: the direct peer is the client.
LAURELS_TRUSTED_PROXIES = env_list("LAURELS_TRUSTED_PROXIES")
try:
    parse_networks(LAURELS_TRUSTED_PROXIES)
except ValueError as error:
    raise ImproperlyConfigured(f"LAURELS_TRUSTED_PROXIES: {error}.") from None
LAURELS_SIGNUP_ENABLED = env_bool("LAURELS_SIGNUP_ENABLED", True)
# Who must log in with a second factor (accounts.two_factor): nobody, admins (is_staff or
# is_superuser), or admins and everyone with a role on an issuer.
LAURELS_TWO_FACTOR_REQUIRED = env_choice(
    "LAURELS_TWO_FACTOR_REQUIRED", "off", ("off", "admins", "staff")
)
# The name pages show as the brand and in titles (web/context_processors.py).
LAURELS_SITE_NAME = env_str("LAURELS_SITE_NAME") or "Laurels"
# The name an authenticator app shows beside a two-factor secret made here.
OTP_TOTP_ISSUER = LAURELS_SITE_NAME
# No django-otp delays: they grow per device, so anyone with the password could lock the
# owner out; wrong codes are limited per account and client address instead
# (accounts.services.two_factor_login_verify).
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- Log in with your institution (accounts.institution, docs/accounts.md) --------------

# An upstream OpenID Connect provider (LAURELS_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET);
# without one there is no button and /oidc/ is not served.
LAURELS_OIDC = institution_login_from_env()
LAURELS_OIDC_CREATE_ACCOUNTS = LAURELS_OIDC.create_accounts if LAURELS_OIDC else False
if LAURELS_OIDC:
    AUTHENTICATION_BACKENDS = [
        *AUTHENTICATION_BACKENDS,
        "laurels.accounts.institution.InstitutionBackend",
    ]
    TEMPLATES[0]["OPTIONS"]["context_processors"].append(
        "laurels.accounts.institution.institution_context"
    )
    # mozilla-django-oidc's own settings. The client and the endpoints it is given by
    # accounts.institution (from LAURELS_OIDC, and the issuer's discovery document).
    OIDC_RP_SCOPES = LAURELS_OIDC.scopes
    OIDC_USE_PKCE = True
    OIDC_USE_NONCE = True
    OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic, every provider's default
    OIDC_AUTHENTICATION_CALLBACK_URL = "institution:callback"
    OIDC_TIMEOUT = env_int("LAURELS_FETCH_TIMEOUT", 10, minimum=1)

# --- Connected apps (OAuth2 / OpenID Connect) -------------------------------------------

OAUTH2_PROVIDER_APPLICATION_MODEL = "connect.Application"
# Named so that connect.PersonalToken can point at the toolkit's access tokens.
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 (a model name)
# The built-in first-party client `public` through which Badgr's front end and client
# libraries log in with only a username and password.
LAURELS_BADGR_PASSWORD_LOGIN = env_bool("LAURELS_BADGR_PASSWORD_LOGIN", True)
# Scopes a self-registered app (RFC 7591) gets without an admin's review.
LAURELS_SELF_REGISTRATION_SCOPES = env_str(
    "LAURELS_SELF_REGISTRATION_SCOPES", "r:profile r:backpack"
)
LAURELS_SELF_REGISTRATION_ENABLED = env_bool("LAURELS_SELF_REGISTRATION_ENABLED", True)
# Badge Connect's scopes (see a backpack, add to it, see the profile) without review, as in
# Badgr: what every Badge Connect app asks for. Off, they wait for an admin like any scope
# outside LAURELS_SELF_REGISTRATION_SCOPES.
LAURELS_BADGE_CONNECT_WITHOUT_REVIEW = env_bool("LAURELS_BADGE_CONNECT_WITHOUT_REVIEW", True)
# Self-registrations one client address may make in each window (seconds); each is a row
# and a registration token that never expire, so nobody may make them by the million.
LAURELS_SELF_REGISTRATION_RATE_PER_IP = env_int(
    "LAURELS_SELF_REGISTRATION_RATE_PER_IP", 20, minimum=1
)
LAURELS_SELF_REGISTRATION_RATE_WINDOW = env_int(
    "LAURELS_SELF_REGISTRATION_RATE_WINDOW", 3600, minimum=1
)
# Names (comma-separated) a self-registered app may not pass for, besides "Laurels", this
# server's host name and the reserved words of connect.names: e.g. the institution's.
LAURELS_SELF_REGISTRATION_RESERVED_NAMES = env_list("LAURELS_SELF_REGISTRATION_RESERVED_NAMES")
# Refresh tokens: seconds the current one of a family lives unused (0: no limit), seconds
# a family lives from its first token whatever its use (0: no limit), and seconds within
# which a rotated one presented again from the client address that rotated it is refused
# without revoking its family (one client's concurrent duplicates, not theft; from any
# other address it is reuse); connect.oauth enforces them.
LAURELS_REFRESH_TOKEN_IDLE_SECONDS = env_int(
    "LAURELS_REFRESH_TOKEN_IDLE_SECONDS", 90 * 86400, minimum=0
)
LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS = env_int(
    "LAURELS_REFRESH_TOKEN_ABSOLUTE_SECONDS", 0, minimum=0
)
LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS = env_int(
    "LAURELS_REFRESH_TOKEN_REUSE_GRACE_SECONDS", 10, minimum=0
)
# LTI launch points (laurels.lti): seconds between pressing an app's button and the
# app's authentication request, after which the launch is refused as expired.
LAURELS_LTI_LAUNCH_SECONDS = env_int("LAURELS_LTI_LAUNCH_SECONDS", 300, minimum=30)
OAUTH2_PROVIDER = oauth2_provider_settings(
    base_url=LAURELS_BASE_URL,
    oidc_private_key=oidc_private_key_from_env_or_file(LAURELS_HOME),
    access_token_seconds=env_int("LAURELS_ACCESS_TOKEN_SECONDS", 86400, minimum=60),
    code_seconds=env_int("LAURELS_AUTHORIZATION_CODE_SECONDS", 120, minimum=10),
    self_registration=LAURELS_SELF_REGISTRATION_ENABLED,
    refresh_token_idle_seconds=LAURELS_REFRESH_TOKEN_IDLE_SECONDS,
)

# --- Email -----------------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
    # Seconds one SMTP exchange may wait. The jobs runner renews its claim on the mails it
    # sends every third of LAURELS_JOBS_LEASE_SECONDS, between mails: one mail (a few
    # exchanges, perhaps a reconnection) must fit in the other two thirds, so keep this
    # at most a sixth of the lease. A runner that finds its claim lapsed stops sending.
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("LAURELS_EMAIL_FROM", f"Laurels <noreply@{_base.hostname}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API -------------------------------------------------------------------------------

# Largest request body accepted anywhere (413 beyond it); uploads have their own caps.
LAURELS_MAX_REQUEST_BYTES = env_int("LAURELS_MAX_REQUEST_BYTES", 16 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = LAURELS_MAX_REQUEST_BYTES
# Seconds the first answer to a request with an Idempotency-Key is replayed to retries;
# older answers (recipients' addresses in them) are never replayed, and a job prunes them.
LAURELS_IDEMPOTENCY_RETENTION_SECONDS = env_int(
    "LAURELS_IDEMPOTENCY_RETENTION_SECONDS", 24 * 3600, minimum=1
)
# Badge and issuer images: largest upload, and largest PNG in pixels (decompression bombs).
LAURELS_IMAGE_MAX_BYTES = env_int("LAURELS_IMAGE_MAX_BYTES", 512 * 1024, minimum=1024)
LAURELS_IMAGE_MAX_PIXELS = env_int("LAURELS_IMAGE_MAX_PIXELS", 2048 * 2048, minimum=64 * 64)
MEDIA_ROOT = LAURELS_HOME / "media"
# Outbound requests (badge imports, key documents): size and time caps (per wait and in all),
# and which private addresses may be fetched from ("true" for any, or comma-separated networks).
LAURELS_FETCH_MAX_BYTES = env_int("LAURELS_FETCH_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
LAURELS_FETCH_TIMEOUT = env_int("LAURELS_FETCH_TIMEOUT", 10, minimum=1)
# Seconds one whole outbound fetch may take: name lookups, redirects and body together.
LAURELS_FETCH_DEADLINE = env_int("LAURELS_FETCH_DEADLINE", 30, minimum=1)
LAURELS_ALLOW_PRIVATE_FETCH = env_str("LAURELS_ALLOW_PRIVATE_FETCH", "")
# The jobs runner (laurels.jobs: e-mail, periodic jobs, queued tasks) runs beside
# `laurels serve` by default. It is woken when work is queued on this machine, and looks
# for work every LAURELS_JOBS_POLL_SECONDS anyway; a claim on a row it died holding
# lapses after LAURELS_JOBS_LEASE_SECONDS (a live runner renews it).
LAURELS_JOBS_IN_PROCESS = env_bool("LAURELS_JOBS_IN_PROCESS", True)
LAURELS_JOBS_POLL_SECONDS = env_int("LAURELS_JOBS_POLL_SECONDS", 5, minimum=1)
LAURELS_JOBS_LEASE_SECONDS = env_int("LAURELS_JOBS_LEASE_SECONDS", 60, minimum=2)
# Mails the mail server refused for good, or that failed every attempt, are kept this
# many days for an operator to look at, then deleted (they may hold password-reset links).
LAURELS_OUTBOX_FAILED_KEEP_DAYS = env_int("LAURELS_OUTBOX_FAILED_KEEP_DAYS", 7, minimum=1)

# --- Static files, i18n ----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = LAURELS_HOME / "static"
# Stored files are written whole or not at all (a full disk leaves no empty file behind),
# and are the server's user's alone, like everything in LAURELS_HOME.
STORAGES = {
    "default": {"BACKEND": "laurels.core.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LAURELS_LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
