"""docs/openapi.json: the /v2 OpenAPI document as of this commit, so that a change to the
contract shows up in review. `make openapi` rewrites it
(`python -m tests.api.openapi_snapshot`); `test_openapi_contract.py` fails while it differs
from the document the code generates.

The document names the server's own URLs (its OAuth2 endpoints); the snapshot is made
for SNAPSHOT_BASE_URL, whatever the base URL of the machine that makes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SNAPSHOT_BASE_URL = "https://badges.example.org"


def generated_snapshot() -> str:
    """The document the code generates, as the snapshot file holds it."""
    from django.test import override_settings

    from laurels.api.api import api

    with override_settings(LAURELS_BASE_URL=SNAPSHOT_BASE_URL):
        document = api.get_openapi_schema()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    SNAPSHOT.write_text(generated_snapshot())
    print(f"Wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
