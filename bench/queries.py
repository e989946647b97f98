"""Database queries per request for each GET scenario, on the seeded data (in-process).

LAURELS_HOME=... python bench/queries.py seed.json
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from laurels.accounts.models import User  # noqa: E402


def count(client: Client, path: str, **headers) -> int:
    client.get(path, **headers)  # warm caches the way a running server would be
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code in (200, 410), (path, response.status_code)
    return len(queries)


def main() -> None:
    with open(sys.argv[1]) as seed_file:
        seed = json.load(seed_file)
    settings.ALLOWED_HOSTS = ["*"]
    # No collectstatic here: templates may name static files without the manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    anonymous = Client()
    owner, earner = Client(), Client()
    owner.force_login(User.objects.get(email=seed["owner"]))
    earner.force_login(User.objects.get(email=seed["earner"]))
    assertion = seed["assertion"]
    result = {
        "assertion_json_warm": count(
            anonymous, f"/public/assertions/{assertion}", HTTP_ACCEPT="application/ld+json"
        ),
        "assertion_html": count(
            anonymous, f"/public/assertions/{assertion}", HTTP_ACCEPT="text/html"
        ),
        "backpack_list": count(earner, "/v2/backpack/assertions"),
        "issuer_assertions_deep": count(
            owner, f"/v2/issuers/{seed['issuer']}/assertions?num=100&cursor={seed['deep_cursor']}"
        ),
        "baked_png_cached": count(anonymous, f"/public/assertions/{assertion}/image"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
