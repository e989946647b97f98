"""Schemathesis hooks for the fuzz run, loaded by the CLI through `SCHEMATHESIS_HOOKS`.

- Half the generated path parameters become an id that exists (`FUZZ_REAL_IDS`, a JSON
  object of path prefix to entity id), so the code behind "found it" is fuzzed too.
- `in_the_envelope`: every answer is JSON in the /v2 envelope, its `success` true exactly
  when the status is below 400; except a 204 (no body) and a redirect with a Location
  (the image and share links Badgr answered with a 302).
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import strategies as st

REAL_IDS: dict[str, str] = json.loads(os.environ.get("FUZZ_REAL_IDS", "{}"))
ENVELOPE_KEYS = {"status", "result", "validationErrors", "fieldErrors"}


def real_id_for(path: str) -> str | None:
    for prefix, entity_id in REAL_IDS.items():
        if path.startswith(prefix):
            return entity_id
    return None


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    real = real_id_for(context.operation.path)
    if real is None or not isinstance(path_parameters, dict) or "entity_id" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([{**path_parameters, "entity_id": real}, path_parameters])


@schemathesis.check
def in_the_envelope(ctx, response, case) -> None:
    if response.status_code == 204:  # Badgr's answer to DELETE: no body at all
        assert not response.content, "a 204 with a body"
        return
    if response.status_code in (301, 302, 303, 307, 308):  # Badgr's image and share links
        assert response.headers.get("location"), "a redirect to nowhere"
        return
    media_type = (response.headers.get("content-type") or [""])[0]
    assert media_type.startswith("application/json"), f"answered as {media_type or 'nothing'}"
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"the answer is not JSON: {error}") from None
    assert isinstance(body, dict) and set(body) >= ENVELOPE_KEYS, "not in the /v2 envelope"
    success = body["status"].get("success") if isinstance(body["status"], dict) else None
    assert success is (response.status_code < 400), (
        f"success={success!r} on a {response.status_code}"
    )
