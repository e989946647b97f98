"""Reading what a /v2 request sends, before any view trusts it.

Hostile input must get a 400 that says what is wrong, never the 500 that a parser or the
database gives further in. Each check here is the one place its kind of input is read:

- bodies (`body_data`: JSON, or a form read by `form_body` as the JSON it stands for;
  used by the API's parser and by any view reading a body itself)
- JSON bodies (`json_body`): nesting is bounded (60,000 `[` exhaust the parser's
  recursion, and a few hundred levels the encoder's when the value is stored or sent
  back), numbers must be finite (`NaN`, `Infinity` and `1e400` are not JSON, and the
  database's JSON check refuses them), and text must be storable: no NUL (PostgreSQL
  refuses it in text and jsonb) and no lone surrogate (it has no UTF-8). Form fields
  are held to the same rules.
- multipart bodies (`multipart_problem`): read once by Django's own parser, so that a
  missing boundary or a malformed part is refused here, not met later by the token check
  (a 500) or by ninja's middleware (a logged traceback).
- the URL (`url_bad_input`): no NUL in the path or the query, and no more query fields
  than Django reads (`DATA_UPLOAD_MAX_NUMBER_FIELDS`).

Dates are checked where they are parsed (`api.schemas.ApiDateTime`, the cursors in
`api.pagination`); numbers by each schema's bounds.
"""

from __future__ import annotations

import base64
import json
import math
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from ninja.parser import Parser

from laurels.core.errors import DomainError
from laurels.core.images import PNG_SIGNATURE
from laurels.core.middleware import url_problem

MAX_JSON_DEPTH = 32
TOO_DEEP = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."


class BadInput(DomainError):
    """Input refused before a view used it; `field` names the part to blame, if one is."""

    default_message = "The request cannot be read."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- JSON ------------------------------------------------------------------------------------


def json_body(raw: bytes) -> Any:
    """The JSON document in `raw`, once it is known to be safe to validate and store."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadInput(TOO_DEEP) from None
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8
        raise BadInput(f"The request body is not valid JSON: {error}") from None
    _refuse_unstorable(data)
    return data


class CheckedJSONParser(Parser):
    """ninja's parser, reading bodies with `body_data`. ninja wraps what it raises in a
    400 "Cannot parse request body"; `api.errors` answers with our message instead."""

    def parse_body(self, request: HttpRequest) -> Any:
        return body_data(request)


# --- form bodies -----------------------------------------------------------------------------

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def body_data(request: HttpRequest) -> Any:
    """The request's body as the document a JSON client would have sent.

    Badgr (Django REST framework) took every write as JSON, as an HTML form or as
    multipart/form-data, and integrations use all three, so every /v2 body is read
    here, whatever its media type (the middleware refused the others)."""
    if request.content_type in FORM_TYPES:
        return form_body(request)
    return json_body(request.body)


def form_body(request: HttpRequest) -> dict[str, Any]:
    """A form as a JSON object, read the way Badgr's parsers read it: a field given
    more than once is a list; `recipient.identity` is `identity` inside `recipient`; a
    value that is a JSON object or array (`expires={"amount": 2, ...}`) is that value;
    a file part is a data URI, so an image may come as a file or as a data URI."""
    data: dict[str, Any] = {}
    for key in request.POST:
        _check_text(key, None)
        values = [_form_value(value, key) for value in request.POST.getlist(key)]
        _put(data, key, values[0] if len(values) == 1 else values)
    for key in request.FILES:
        _put(data, key, _file_data_uri(request.FILES[key], key))
    return data


def _form_value(value: str, key: str) -> Any:
    if value[:1] in ("{", "[") and len(value) > 1:
        try:
            return json_body(value.encode())
        except BadInput as error:
            raise BadInput(error.message, field=key) from None
    _check_text(value, (key, None))
    return value


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `value` at the dotted `key` (at most `MAX_JSON_DEPTH` levels)."""
    *parents, last = key.split(".")[:MAX_JSON_DEPTH]
    for name in parents:
        inner = data.get(name)
        if not isinstance(inner, dict):
            inner = data[name] = {}
        data = inner
    data[last] = value


def _file_data_uri(upload, key: str) -> str:
    """The file part as a data URI; its type is sniffed, not taken from the client. The
    image itself is checked where the view reads the data URI."""
    cap = settings.LAURELS_IMAGE_MAX_BYTES
    content = upload.read(cap + 1)
    if len(content) > cap:
        raise BadInput(f"The file is larger than {cap // 1024} KB.", field=key)
    kind = "image/png" if content.startswith(PNG_SIGNATURE) else "image/svg+xml"
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


# Where a value sits, as a linked list from the innermost key outwards (key, parent);
# made once per object or array, turned into "assertions.0.expires" only to blame it.
Where = tuple | None


def _field(where: Where) -> str | None:
    keys = []
    while where is not None:
        key, where = where
        keys.append(str(key))
    return ".".join(reversed(keys)) or None


def _refuse_unstorable(data: Any) -> None:
    """Walk the document without recursion: bounded depth, finite numbers, storable text.
    A 10,000-award batch is walked in tens of milliseconds, so the loop stays lean."""
    if type(data) is str:
        _check_text(data, None)
    containers: list[tuple[Any, Where, int]] = [(data, None, 1)]
    while containers:
        value, where, depth = containers.pop()
        if type(value) is dict:
            items = value.items()
            for key in value:  # a key is blamed on the object that holds it
                if "\x00" in key or not key.isascii():
                    _check_text(key, where)
        elif type(value) is list:
            items = enumerate(value)
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadInput(TOO_DEEP)
        for key, item in items:
            kind = type(item)
            if kind is str:
                if "\x00" in item or not item.isascii():
                    _check_text(item, (key, where))
            elif kind is dict or kind is list:
                containers.append((item, (key, where), depth + 1))
            elif kind is float and not math.isfinite(item):
                raise BadInput(
                    "Numbers must be finite (not NaN or Infinity).", field=_field((key, where))
                )


def _check_text(text: str, where: Where) -> None:
    if "\x00" in text:
        raise BadInput("Text may not contain the NUL character (\\u0000).", field=_field(where))
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise BadInput(
                "Text may not contain a lone surrogate (\\ud800-\\udfff): it is no character.",
                field=_field(where),
            ) from None


# --- multipart -------------------------------------------------------------------------------


class _KeepNoFiles(FileUploadHandler):
    """Reads file parts and keeps nothing: the check needs only the parser's verdict."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


def multipart_problem(request: HttpRequest) -> BadInput | None:
    """What is wrong with a multipart/form-data body, or None.

    The body (at most LAURELS_MAX_REQUEST_BYTES, already checked) is read into memory and
    parsed once with files discarded; the real parse later reads the same bytes.
    """
    try:
        parser = MultiPartParser(
            request.META, BytesIO(request.body), [_KeepNoFiles(request)], request.encoding
        )
        parser.parse()
    except RequestDataTooBig:
        raise  # a 413, not a malformed body
    except (MultiPartParserError, SuspiciousOperation) as error:
        return BadInput(f"The multipart/form-data body cannot be read: {str(error)[:200]}")
    return None


# --- the URL ---------------------------------------------------------------------------------


def url_bad_input(request: HttpRequest) -> BadInput | None:
    """The URL refusal of `core.middleware.url_problem`, as an input error of the API."""
    problem = url_problem(request)
    if problem is None:
        return None
    message, field = problem
    return BadInput(message, field=field)
