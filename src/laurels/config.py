"""Reading configuration from the environment, in one place.

Every setting Laurels takes comes from an environment variable read through one of the
helpers below, each with a type and a safe default. A value that cannot be understood
stops start-up with a message naming the variable, rather than being silently ignored.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """The variable's value with surrounding white space removed, or `default` when unset."""
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below its minimum of {minimum}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated variable as a list, empty items dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case ignored), or `default` when unset or empty."""
    value = env_str(name, default).lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def base_url_from_env(name: str = "LAURELS_BASE_URL") -> str:
    """The public base URL, absolute http(s) and without a trailing slash.

    Public badge URLs are built from it, so a wrong value would be baked into every
    award: refuse anything that is not an absolute http(s) URL without query or fragment.
    """
    raw = env_str(name, "http://127.0.0.1:8000")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be an absolute http(s) URL such as https://badges.example.org"
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name}={raw!r} must not carry a query or fragment.")
    return raw.rstrip("/")


def origin_from_env(name: str) -> str:
    """An origin (`scheme://host[:port]`, a trailing slash forgiven) or "" when unset.

    It names where ids baked into awards live (LAURELS_BADGR_ORIGIN), so anything else
    stops start-up rather than being served under a wrong id."""
    from laurels.core.public import origin_problem

    raw = env_str(name).rstrip("/")
    problem = origin_problem(raw) if raw else None
    if problem:
        raise ImproperlyConfigured(f"{name}: {problem}")
    return raw


# Everything Laurels creates is its own user's alone: the data directory 0700, its files
# 0600. Set for the whole process, so that it covers files others create for us too
# (SQLite's database and its -wal and -shm files, collected static files).
PRIVATE_UMASK = 0o077


def data_dir_from_env(name: str = "LAURELS_HOME") -> Path:
    """The data directory (database, secret key, uploaded files), created when missing,
    private to this user, and known to be writable.

    A directory that cannot be made or written stops start-up with one clear line (the
    CLI turns ImproperlyConfigured into exit code 2) rather than a traceback from
    whichever write happened to come first.
    """
    os.umask(PRIVATE_UMASK)
    path = Path(env_str(name, "./var") or "./var").expanduser().resolve()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(path)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ImproperlyConfigured(
            f"{name}={path} cannot be used as the data directory: "
            f"{error.strerror or error}. Laurels writes its database, keys and uploads there."
        ) from None
    return path


def make_private(data_dir: Path) -> None:
    """Close a data directory that an earlier version left open to other users.

    Once the directory itself is 0700 nobody else can reach anything inside it, so the
    walk over every file runs once per install, not at every start. A directory or file
    that belongs to another user is left as it is (its owner chose its mode).
    """
    status = data_dir.stat()
    if status.st_mode & 0o077 == 0 or status.st_uid != os.geteuid():
        return
    for directory, _, files in os.walk(data_dir):
        for file_name in files:
            file_path = os.path.join(directory, file_name)
            if not os.path.islink(file_path):
                with contextlib.suppress(PermissionError):
                    os.chmod(file_path, 0o600)
        if directory != str(data_dir):
            with contextlib.suppress(PermissionError):
                os.chmod(directory, 0o700)
    os.chmod(data_dir, 0o700)


def write_once(path: Path, make: Callable[[], str]) -> str:
    """The content of `path`, first created from `make()` if the file does not exist.

    The value is written whole to a temporary file and then linked into place, which
    fails if the file already exists: several server workers starting at once therefore
    all read one complete value, and a full disk leaves no empty key behind. Mode 0600
    keeps it to the server's user.
    """
    from laurels.core.storage import atomic_write

    if not path.exists():
        with contextlib.suppress(FileExistsError):
            atomic_write(path, [make()], mode=0o600)
    content = path.read_text().strip()
    if not content:
        raise ImproperlyConfigured(f"{path} is empty; delete it to have a new one made.")
    return content


def secret_key_from_env_or_file(data_dir: Path, name: str = "SECRET_KEY") -> str:
    """`SECRET_KEY` from the environment, else one generated once and kept in the data dir."""
    return env_str(name) or write_once(data_dir / "secret_key", lambda: secrets.token_urlsafe(50))


def encryption_keys_from_env_or_file(
    data_dir: Path, name: str = "LAURELS_ENCRYPTION_KEYS"
) -> list[str]:
    """The Fernet keys that encrypt the secrets the database keeps (issuers' signing
    keys), newest first: comma-separated from the environment, else made once and kept in
    the data dir (which may list several, by commas or lines). Every machine and every
    `laurels` command must use the same keys, and losing them loses what they encrypt,
    so a value that is not a Fernet key stops start-up rather than making a new one."""
    from cryptography.fernet import Fernet

    from laurels.core.secrets import new_encryption_key

    keys, source = env_list(name), name
    if not keys:
        path = data_dir / "encryption_keys"
        kept = write_once(path, new_encryption_key)
        keys, source = kept.replace(",", " ").split(), str(path)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{source}: key {position} is not a Fernet key (32 bytes, URL-safe base64); "
                "make one with `laurels keys generate`."
            ) from None
    return keys


def _new_rsa_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def oidc_private_key_from_env_or_file(
    data_dir: Path, name: str = "LAURELS_OIDC_RSA_PRIVATE_KEY"
) -> str:
    """The RSA key that signs OpenID Connect id_tokens (PEM), from the environment or made
    once and kept in the data dir. Several machines must share one: set the variable."""
    from_env = os.environ.get(name, "").strip()
    return from_env or write_once(data_dir / "oidc_rsa_private_key.pem", _new_rsa_private_key_pem)


@dataclass(frozen=True)
class InstitutionLogin:
    """Log in with your institution: the upstream OpenID Connect provider and this
    server's registration there (accounts.institution)."""

    issuer: str
    client_id: str
    client_secret: str
    name: str
    scopes: str
    create_accounts: bool


INSTITUTION_LOGIN_VARIABLES = (
    "LAURELS_OIDC_ISSUER",
    "LAURELS_OIDC_CLIENT_ID",
    "LAURELS_OIDC_CLIENT_SECRET",
)


def institution_login_from_env() -> InstitutionLogin | None:
    """The upstream provider, or None when none is configured.

    The issuer, client id and secret come together or not at all: one of them alone is
    a mistake that would otherwise show a button leading nowhere. The issuer must be an
    https URL (http only on a loopback host, for a provider on the same machine), since
    its discovery document tells where passwords are typed and tokens are fetched."""
    values = {name: env_str(name) for name in INSTITUTION_LOGIN_VARIABLES}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set too: log-in with an institution needs "
            f"{', '.join(INSTITUTION_LOGIN_VARIABLES)}."
        )
    issuer = values["LAURELS_OIDC_ISSUER"].rstrip("/")
    parts = urlsplit(issuer)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ImproperlyConfigured(
            f"LAURELS_OIDC_ISSUER={issuer!r} must be an https URL such as "
            "https://login.example.edu (http only on a loopback host)."
        )
    if parts.query or parts.fragment or len(issuer) > 255:
        raise ImproperlyConfigured(
            f"LAURELS_OIDC_ISSUER={issuer!r} must carry no query or fragment, in 255 characters."
        )
    return InstitutionLogin(
        issuer=issuer,
        client_id=values["LAURELS_OIDC_CLIENT_ID"],
        client_secret=values["LAURELS_OIDC_CLIENT_SECRET"],
        name=env_str("LAURELS_OIDC_NAME") or "your institution",
        scopes=env_str("LAURELS_OIDC_SCOPES") or "openid email profile",
        create_accounts=env_bool("LAURELS_OIDC_CREATE_ACCOUNTS", True),
    )
