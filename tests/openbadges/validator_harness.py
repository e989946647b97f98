"""Runs the official Open Badges validator (PyPI `openbadges`, validator core 1.1.2) on one
input and prints its report as JSON. Executed by the tests with the validator's own
virtualenv (`make validator`), never imported by them.

    .venv-validator/bin/python tests/openbadges/validator_harness.py URL|JWS|IMAGE_PATH

Made to work offline on Python 3.11:
- some of its dependencies import `Mapping` and friends from `collections` (gone in 3.10);
- its SVG unbaker returns the `verify` attribute as bytes, which its own verifier then
  cannot read on Python 3 ("only URL, JSON, or JWS input"): the value is decoded;
- its JSON-LD loader fetches https://w3id.org/openbadges/v2 with requests: that request is
  answered from the context the package itself ships, and any other request that is not
  to this machine is refused, so a test can never reach the internet.
"""

import collections
import collections.abc
import json
import sys
from urllib.parse import urlsplit

for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "MutableSet"):
    setattr(collections, name, getattr(collections.abc, name))

import requests  # noqa: E402
from openbadges.verifier.openbadges_context import (  # noqa: E402
    OPENBADGES_CONTEXT_V2_DICT,
    OPENBADGES_CONTEXT_V2_URI,
)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_send = requests.Session.send


def offline_send(self, request, **kwargs):
    url = request.url
    if url.rstrip("/") == OPENBADGES_CONTEXT_V2_URI:
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response.headers["Content-Type"] = "application/ld+json"
        response._content = json.dumps(OPENBADGES_CONTEXT_V2_DICT).encode()
        response.request = request
        return response
    if urlsplit(url).hostname not in LOOPBACK:
        raise requests.ConnectionError(f"offline test harness: {url} is not on this machine")
    return _send(self, request, **kwargs)


requests.Session.send = offline_send

from openbadges.verifier import verifier as _verifier  # noqa: E402

from openbadges import verify  # noqa: E402

_unbake = _verifier.unbake


def unbake_as_text(image_file):
    found = _unbake(image_file)
    return found.decode("utf-8") if isinstance(found, bytes) else found


_verifier.unbake = unbake_as_text


def main() -> None:
    target = sys.argv[1]
    options = {"use_cache": False}
    if target.startswith(("http://", "https://")) or target.count(".") == 2:
        report = verify(target, **options)
    else:
        with open(target, "rb") as image:
            report = verify(image, **options)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
