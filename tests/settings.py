"""Settings for the test suite: the real ones, with a throw-away data dir.

`TEST_DATABASE_URL` (e.g. postgres://postgres@127.0.0.1:5432/test) runs the suite
against that database instead of SQLite; `make test-postgres` sets it.
"""

import os
import tempfile

os.environ["LAURELS_HOME"] = tempfile.mkdtemp(prefix="laurels-test-")

from laurels.settings import *  # noqa: F403
from laurels.settings import database_from_url

if os.environ.get("TEST_DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["TEST_DATABASE_URL"])}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# No WAL checkpoint thread in the test process (laurels.wsgi is imported by some tests);
# `laurels serve` in the server tests runs it.
LAURELS_SQLITE_CHECKPOINT_SECONDS = 0

# Password hashing is deliberately slow; the tests hash hundreds of passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Templates may use {% static %} without a collectstatic run first.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405  (WhiteNoise warns when it is missing)
