"""A live server and a user with something in every kind of object, for the fuzz run.

The run is only useful if generated requests get past "no such issuer", so the user owns
an issuer with a badge class, has awarded it (once to themselves, so it is in their
backpack) and keeps a collection; `hooks.py` puts these real ids into half the generated
paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer, api_client_for, issuer_with_badge, laurels_server

FUZZER = "fuzzer@example.org"


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory) -> Iterator[RunningServer]:
    """A default server with two workers. Generated import URLs may name any host, so
    outbound fetches give up quickly rather than slow the run."""
    home: Path = tmp_path_factory.mktemp("fuzz") / "var"
    with laurels_server(
        home, workers=2, LAURELS_FETCH_TIMEOUT="1", LAURELS_FETCH_DEADLINE="2"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def fuzzer(fuzz_server) -> Iterator[httpx.Client]:
    """An API client with the Bearer token of a verified user."""
    client = api_client_for(fuzz_server, FUZZER)
    yield client
    client.close()


@pytest.fixture(scope="session")
def real_ids(fuzzer) -> dict[str, str]:
    """Ids that exist, by the path prefix of the operations that take them."""
    issuer, badge = issuer_with_badge(fuzzer, "Fuzzed Issuer")
    awards = f"/v2/badgeclasses/{badge['entityId']}/assertions"
    own = fuzzer.post(awards, json={"recipient": {"identity": FUZZER}})
    other = fuzzer.post(awards, json={"recipient": {"identity": "someone@example.org"}})
    assert own.status_code == other.status_code == 201, (own.text, other.text)
    own_id = own.json()["result"][0]["entityId"]
    collection = fuzzer.post(
        "/v2/backpack/collections", json={"name": "Fuzzed", "assertions": [own_id]}
    )
    assert collection.status_code == 201, collection.text
    return {
        "/v2/issuers/": issuer["entityId"],
        "/v2/badgeclasses/": badge["entityId"],
        "/v2/assertions/": other.json()["result"][0]["entityId"],
        "/v2/backpack/assertions/": own_id,
        "/v2/backpack/collections/": collection.json()["result"][0]["entityId"],
    }
