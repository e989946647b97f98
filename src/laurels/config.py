"""Reading configuration from the environment, in one place.

Every setting Laurels takes comes from an environment variable read through one of the
helpers below, each with a type and a safe default. A value that cannot be understood
stops start-up with a message naming the variable, rather than being silently ignored.
"""

from __future__ import annotations

import os
import secrets
import tempfile
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


def data_dir_from_env(name: str = "LAURELS_HOME") -> Path:
    """The data directory (database, secret key, uploaded files), created when missing."""
    path = Path(env_str(name, "./var") or "./var").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key_from_env_or_file(data_dir: Path, name: str = "SECRET_KEY") -> str:
    """`SECRET_KEY` from the environment, else one generated once and kept in the data dir.

    The key is written to a private temporary file first and then hard-linked into
    place, which fails if the file already exists: several server workers starting at
    once therefore all read one complete key. Mode 0600 keeps it to the server's user.
    """
    from_env = env_str(name)
    if from_env:
        return from_env
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        fd, tmp_name = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
            os.link(tmp_name, key_file)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp_name)
    key = key_file.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{key_file} is empty; delete it to have a new key made.")
    return key
