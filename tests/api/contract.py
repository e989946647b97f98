"""The /v2 contract: every answer a test receives is checked against the OpenAPI document.

As Zulip does for its API: a hook on the test clients (`tests/conftest.py`) hands each
answer under /v2 to `check_answer`, which fails the test when

- the status code is not one the document lists for the operation, or
- the body does not match the schema the document gives for that status, or carries a
  field the schema does not name (an object schema without `additionalProperties` is read
  as closed here, so a response that grew a field must document it).

A request to no documented operation (an unknown path, or a method the path does not
take) must get an error in the envelope. The document is the one `/v2/openapi.json`
serves, generated once per test process; each schema is compiled once, on first use
(`jsonschema_rs`), so the check costs microseconds per answer.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from http import HTTPStatus
from typing import Any

import httpx
import jsonschema_rs
from django.test import Client

API_PREFIX = "/v2/"
# ninja serves the document itself under /v2; it is not an operation of the API.
NOT_OPERATIONS = {"/v2/openapi.json"}
# Where `tests/servers.py` runs live servers (attackers' hosts are on other addresses).
LIVE_SERVER_HOST = "127.0.0.1"
ERROR_ENVELOPE = "#/components/schemas/ErrorEnvelope"
SHOWN_ERRORS = 5


class ContractBroken(AssertionError):
    """An answer that the OpenAPI document does not describe."""


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document, exactly as `/v2/openapi.json` serves it."""
    from laurels.api.api import api

    return api.get_openapi_schema()


def _closed(schema: Any) -> Any:
    """`schema` with every object that names its properties closed to other fields."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@cache
def _components() -> dict[str, Any]:
    return _closed(copy.deepcopy(document().get("components", {})))


@cache
def _validator(reference: str) -> jsonschema_rs.Validator:
    """A compiled validator for the schema at `reference`, with the document's components
    beside it so that its `$ref`s resolve."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": reference, "components": _components()}, validate_formats=True
    )


@cache
def _operations() -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern, the most literal first: `/v2/issuers/changed` is
    tried before `/v2/issuers/{entity_id}`, as Django's URL resolver does."""
    templates = sorted(document()["paths"], key=lambda path: (path.count("{"), path))
    return [
        (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$"), path)
        for path in templates
    ]


def _documented_path(path: str) -> str | None:
    return next((template for pattern, template in _operations() if pattern.match(path)), None)


def _response_schema(operation: dict, status: int) -> str | None:
    response = operation["responses"].get(str(status)) or operation["responses"].get(status)
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref")


def _check_body(reference: str, body: Any, what: str) -> None:
    validator = _validator(reference)
    if validator.is_valid(body):
        return
    errors = [
        f"  at /{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in list(validator.iter_errors(body))[:SHOWN_ERRORS]
    ]
    raise ContractBroken(
        f"{what} does not match {reference.rsplit('/', 1)[-1]} in the OpenAPI document:\n"
        + "\n".join(errors)
    )


def check_answer(method: str, path: str, status: int, content: bytes) -> None:
    """Fail when the answer to `method path` is not what the OpenAPI document says."""
    if not path.startswith(API_PREFIX) or path in NOT_OPERATIONS or method == "HEAD":
        return
    method = method.lower()
    what = f"{method.upper()} {path} answered {status}"
    if status == HTTPStatus.NO_CONTENT:
        _check_no_content(method, path, content, what)
        return
    try:
        body = json.loads(content)
    except ValueError:
        raise ContractBroken(f"{what} with a body that is not JSON: {content[:200]!r}") from None
    template = _documented_path(path)
    operation = document()["paths"][template].get(method) if template else None
    if operation is None:
        if status < 400:
            raise ContractBroken(f"{what}, but the OpenAPI document has no such operation")
        _check_body(ERROR_ENVELOPE, body, what)
        return
    reference = _response_schema(operation, status)
    if reference is None:
        listed = ", ".join(str(code) for code in operation["responses"])
        raise ContractBroken(
            f"{what}, a status the OpenAPI document does not list for "
            f"{method.upper()} {template} (it lists {listed})"
        )
    _check_body(reference, body, what)


def _check_no_content(method: str, path: str, content: bytes, what: str) -> None:
    """A 204 (Badgr's answer to DELETE) has no body, and the document must list it."""
    if content:
        raise ContractBroken(f"{what} with a body: {content[:200]!r}")
    template = _documented_path(path)
    operation = document()["paths"][template].get(method) if template else None
    if operation is None or not {"204", 204} & set(operation["responses"]):
        raise ContractBroken(f"{what}, which the OpenAPI document does not list")


@contextlib.contextmanager
def answers_checked() -> Iterator[None]:
    """Check every answer the Django test client gets, and every answer httpx gets from a
    live server on loopback (`tests/servers.py`), while inside."""
    django_request, httpx_send = Client.request, httpx.Client.send

    def request(self, **request):
        response = django_request(self, **request)
        if not response.streaming:
            sent = response.wsgi_request
            check_answer(sent.method, sent.path, response.status_code, response.content)
        return response

    def send(self, request, **kwargs):
        response = httpx_send(self, request, **kwargs)
        if request.url.host == LIVE_SERVER_HOST and not kwargs.get("stream"):
            check_answer(request.method, request.url.path, response.status_code, response.content)
        return response

    Client.request, httpx.Client.send = request, send
    try:
        yield
    finally:
        Client.request, httpx.Client.send = django_request, httpx_send
