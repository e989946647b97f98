"""The /v2 contract: the OpenAPI document names each schema once, is committed
(docs/openapi.json), and is what the answers are (the hook of `tests/api/contract.py`
checks every answer of the suite; the tests here show that it does, and what it catches).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
from django.test import Client
from pydantic import BaseModel

from laurels.api.api import api
from tests.api import contract
from tests.api.contract import ContractBroken, check_answer
from tests.api.openapi_snapshot import SNAPSHOT, generated_snapshot
from tests.factories import BadgeClassFactory, IssuerFactory

# --- one name, one schema --------------------------------------------------------------------


def models_in(annotation: Any, seen: set[type]) -> Iterator[type[BaseModel]]:
    """Every pydantic model an annotation holds, and the models their fields hold."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        yield annotation
        for field in annotation.model_fields.values():
            yield from models_in(field.annotation, seen)
    for argument in get_args(annotation):
        yield from models_in(argument, seen)


def schema_classes() -> dict[str, set[type[BaseModel]]]:
    """The classes behind the document's schemas, by the name the document gives them
    (the class name). ninja wraps each operation's request and response models in models
    of its own, which never become components: only what their fields hold is counted."""
    seen: set[type] = set()
    by_name: dict[str, set[type[BaseModel]]] = {}
    for router in api._get_bound_routers():
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                wrappers = [*operation.response_models.values(), *operation.models]
                for wrapper in wrappers:
                    for field in getattr(wrapper, "model_fields", {}).values():
                        for model in models_in(field.annotation, seen):
                            by_name.setdefault(model.__name__, set()).add(model)
    return by_name


def test_no_two_schema_classes_share_a_name():
    """ninja names a component by its class name, so a second class of the same name
    silently replaces the first: `/v2/users/self` was documented with an award's
    recipient (`hashed`, `salt`, ...), fields it never returns."""
    shared = {
        name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
        for name, classes in schema_classes().items()
        if len(classes) > 1
    }
    assert not shared, f"schema classes that share a component name: {shared}"


def test_every_component_is_a_class_the_name_check_saw():
    """The check above sees every schema of the document (else it could miss a clash)."""
    components = set(contract.document()["components"]["schemas"])
    assert components <= set(schema_classes())


def test_users_self_is_documented_with_the_fields_it_returns(client_logged_in):
    answer = client_logged_in.get("/v2/users/self").json()["result"][0]
    schemas = contract.document()["components"]["schemas"]
    user = schemas["UserOut"]
    recipient = schemas[user["properties"]["recipient"]["$ref"].rsplit("/", 1)[-1]]
    assert set(user["properties"]) == set(answer)
    assert set(recipient["properties"]) == set(answer["recipient"]) == {"identity", "type"}


# --- the snapshot ----------------------------------------------------------------------------


def test_the_committed_document_is_the_generated_one():
    committed = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    assert committed == generated_snapshot(), (
        f"The /v2 OpenAPI document changed: run `make openapi` to update {SNAPSHOT.name} "
        "and commit it, so that the change shows up in review."
    )


# --- what the hook catches -------------------------------------------------------------------


def envelope(result: list, *, success: bool = True, **extra: Any) -> bytes:
    status = {"success": success, "description": "ok"}
    body = {"status": status, "result": result, "validationErrors": [], "fieldErrors": {}}
    return json.dumps({**body, **extra}).encode()


USER = {
    "entityType": "BadgeUser",
    "entityId": "mS3l0sMIR5G0aYa2p1iHhA",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "emails": [{"email": "ada@example.org", "verified": True, "primary": True}],
    "url": [],
    "telephone": [],
    "hasPasswordSet": True,
    "recipient": {"identity": "ada@example.org", "type": "email"},
}


def test_a_documented_answer_passes():
    check_answer("GET", "/v2/users/self", 200, envelope([USER]))
    check_answer("GET", "/v2/nowhere", 404, envelope([], success=False))


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "complaint"),
    [
        ("GET", "/v2/users/self", 418, envelope([USER]), "a status the OpenAPI document"),
        ("GET", "/v2/users/self", 200, envelope([{**USER, "firstName": 7}]), "/result/0/firstName"),
        ("GET", "/v2/users/self", 200, envelope([{**USER, "pin": 1}]), "'pin' was unexpected"),
        ("GET", "/v2/users/self", 200, envelope([USER], since="now"), "'since' was unexpected"),
        ("GET", "/v2/users/self", 200, b"<html>", "not JSON"),
        ("GET", "/v2/nowhere", 200, envelope([]), "no such operation"),
        ("GET", "/v2/nowhere", 404, b'{"detail": "Not Found"}', "ErrorEnvelope"),
    ],
)
def test_an_answer_the_document_does_not_describe_fails(method, path, status, body, complaint):
    with pytest.raises(ContractBroken, match=complaint):
        check_answer(method, path, status, body)


def test_the_most_literal_path_is_the_operation():
    """`/v2/issuers/changed` is its own operation (a feed with `timestamp`), not the issuer
    `changed`."""
    pages = {"hasNext": False, "nextResults": None, "hasPrevious": False, "previousResults": None}
    feed = envelope([], timestamp="2026-05-01T12:00:00Z", pagination=pages)
    check_answer("GET", "/v2/issuers/changed", 200, feed)
    with pytest.raises(ContractBroken, match="'timestamp', 'pagination' were unexpected"):
        check_answer("GET", "/v2/issuers/xxxxxxxxxxxxxxxxxxxxxx", 200, feed)


@pytest.fixture
def checked(monkeypatch) -> list[tuple[str, str, int]]:
    """The answers handed to the contract check, as (method, path, status)."""
    answers: list[tuple[str, str, int]] = []
    real = contract.check_answer

    def check(method, path, status, content):
        answers.append((method, path, status))
        real(method, path, status, content)

    monkeypatch.setattr(contract, "check_answer", check)
    return answers


def test_the_django_test_client_is_checked(checked, client_logged_in):
    client_logged_in.get("/v2/users/self")
    Client().get("/v2/issuers")
    assert checked == [("GET", "/v2/users/self", 200), ("GET", "/v2/issuers", 401)]


def test_answers_from_a_server_on_loopback_are_checked(serve):
    """What httpx gets from a live server (`tests/servers.py`, on 127.0.0.1) is checked
    too: here a server that answers /v2 outside the envelope."""
    server = serve(routes={"/v2/users/self": (200, {}, b"{}", 0)})
    with pytest.raises(ContractBroken, match="does not match UserOutEnvelope"):
        httpx.get(f"{server.url}/v2/users/self")
    httpx.get(f"{server.url}/public/anything")  # not the API: not checked


def test_the_badge_class_feed_gives_the_next_since(client_logged_in, user):
    """It answered without `timestamp`: the schema it was documented with had none, and
    ninja leaves out what the schema does not name."""
    BadgeClassFactory(issuer=IssuerFactory(owner=user))
    answer = client_logged_in.get("/v2/badgeclasses/changed").json()
    assert answer["timestamp"].endswith("Z") and len(answer["result"]) == 1
