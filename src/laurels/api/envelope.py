"""The response envelope every /v2 answer uses, success or error.

{"status": {"success": true, "description": "ok"},
 "result": [...],             always a list; one object is a one-item list
 "validationErrors": [],      errors not tied to a field
 "fieldErrors": {}}           {"field": ["message", ...]}
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import JsonResponse
from pydantic import BaseModel, create_model

# The API's paths: /v2, and the few Badgr /v1 routes kept for integrations (`api.v1`).
API_PREFIXES = ("/v2/", "/v1/")


class Status(BaseModel):
    success: bool
    description: str


class ErrorEnvelope(BaseModel):
    status: Status
    result: list[Any] = []
    validationErrors: list[str] = []
    fieldErrors: dict[str, list[str]] = {}


@cache
def envelope_of(item: type[BaseModel]) -> type[BaseModel]:
    """The envelope schema whose `result` is a list of `item`, for the OpenAPI document."""
    return create_model(
        f"{item.__name__}Envelope",
        __base__=BaseModel,
        status=(Status, ...),
        result=(list[item], ...),
        validationErrors=(list[str], []),
        fieldErrors=(dict[str, list[str]], {}),
    )


class FeedPagination(BaseModel):
    """Badgr's page links in a change feed's body (the same next page as `Link`). The
    feed's cursor runs forward only, so there is never a previous page to link to."""

    hasNext: bool
    nextResults: str | None
    hasPrevious: bool
    previousResults: str | None


@cache
def feed_envelope_of(item: type[BaseModel]) -> type[BaseModel]:
    """A change feed's envelope: the items, the `timestamp` to ask `since` next time, and
    Badgr's `pagination`."""
    return create_model(
        f"{item.__name__}FeedEnvelope",
        __base__=envelope_of(item),
        timestamp=(str, ...),
        pagination=(FeedPagination, ...),
    )


def envelope(result: Any = None, *, description: str = "ok") -> dict[str, Any]:
    """A success envelope; a single object becomes a one-item list."""
    if result is None:
        items: list[Any] = []
    elif isinstance(result, list | tuple):
        items = list(result)
    else:
        items = [result]
    return {
        "status": {"success": True, "description": description},
        "result": items,
        "validationErrors": [],
        "fieldErrors": {},
    }


def envelope_response(result: Any, *, status: int = 200) -> JsonResponse:
    """`envelope(result)` sent as it is: for answers the presenters already shaped, whose
    operation's response schema documents them. Returned as a dict instead, django-ninja
    would validate the answer against that schema and dump it again, a fifth of the CPU
    of a one-object GET; the tests hold each such answer equal to what validation makes
    of it (`tests/api/test_one_object_reads.py`). Compact and typed as the API's renderer
    writes the other answers."""
    return JsonResponse(
        envelope(result),
        status=status,
        content_type="application/json; charset=utf-8",
        json_dumps_params={"separators": (",", ":")},
    )


def error_body(
    description: str,
    *,
    validation_errors: list[str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "status": {"success": False, "description": description},
        "result": [],
        "validationErrors": list(validation_errors or []),
        "fieldErrors": dict(field_errors or {}),
    }


def error_response(status: int, description: str, **errors: Any) -> JsonResponse:
    return JsonResponse(error_body(description, **errors), status=status)


def with_error_responses(
    success: dict[int, type[BaseModel]], *, refusals: tuple[int, ...] = ()
) -> dict[int, type[BaseModel]]:
    """An operation's `response=` mapping plus the error answers every endpoint may give,
    and `refusals`, the ones only this operation gives (409 for a conflict, ...). The
    answers no view chooses (413, 415, 500, 503) are added to the document by `api.api`."""
    return {**success, **dict.fromkeys((400, 401, 403, 404, 429, *refusals), ErrorEnvelope)}
