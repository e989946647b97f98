"""The /v2 API instance: authentication, error handling and the routers."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from laurels import __version__
from laurels.api.auth import API_AUTH
from laurels.api.backpack import router as backpack_router
from laurels.api.docs import LaurelsSwagger, oauth_security_scheme
from laurels.api.errors import install_error_handlers
from laurels.api.inputs import CheckedJSONParser
from laurels.api.issuing import router as issuing_router
from laurels.api.middleware import METHODS_WITH_BODY
from laurels.api.tokens import router as tokens_router
from laurels.api.users import router as users_router
from laurels.api.users import v1_router as users_v1_router
from laurels.api.v1 import router as v1_router

# Answers that no view chooses, so no operation's `response=` names them: the middleware
# refuses a body before any view runs (`api.middleware`), and any operation may fail.
BODY_REFUSALS = {
    413: "The request body is larger than LAURELS_MAX_REQUEST_BYTES.",
    415: "The body is not application/json (or multipart/form-data where files are taken).",
}
FAULTS = {
    500: "A fault of ours: logged on the server, no details in the answer.",
    503: "The disk or the rate-limit store is unavailable; Retry-After says when to retry.",
}


def error_answer(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


def document_answers_outside_views(schema: dict) -> None:
    """Add BODY_REFUSALS (to operations that take a body) and FAULTS to every operation."""
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            answers = FAULTS | (BODY_REFUSALS if method.upper() in METHODS_WITH_BODY else {})
            responses = operation["responses"]
            for status, description in answers.items():
                responses.setdefault(status, error_answer(description))
            operation["responses"] = dict(sorted(responses.items()))


class LaurelsAPI(NinjaAPI):
    """Publishes the Bearer scheme as OAuth2 (authorization code + PKCE), so the docs'
    Authorize button and generated clients know how to get a token, and documents the
    answers no view chooses (`document_answers_outside_views`)."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if "BearerCaller" in schemes:
            schemes["BearerCaller"] = oauth_security_scheme()
        document_answers_outside_views(schema)
        return schema


class CompactJSONRenderer(JSONRenderer):
    """JSON without spaces after `,` and `:`: a page of 100 badges is 7% smaller."""

    json_dumps_params = {"separators": (",", ":")}


api = LaurelsAPI(
    title="Laurels /v2 API",
    version=__version__,
    description=(
        "The Badgr-compatible API of Laurels. Every answer is wrapped in the envelope "
        '`{"status": {...}, "result": [...], "validationErrors": [], "fieldErrors": {}}`.'
    ),
    auth=API_AUTH,
    renderer=CompactJSONRenderer(),
    parser=CheckedJSONParser(),
    urls_namespace="v2",
    docs_url=None,
    docs=LaurelsSwagger(),
)
install_error_handlers(api)
api.add_router("", users_router)
api.add_router("", tokens_router)
api.add_router("", issuing_router)
api.add_router("", backpack_router)

# Badgr's /v1 routes that integrations still call (`api.v1`): the same callers, errors and
# body parsing as /v2, answers in Badgr's bare v1 shapes, not in the OpenAPI document.
api_v1 = LaurelsAPI(
    title="Laurels /v1 (Badgr compatibility)",
    version=__version__,
    auth=API_AUTH,
    renderer=CompactJSONRenderer(),
    parser=CheckedJSONParser(),
    urls_namespace="v1",
    docs_url=None,
    openapi_url=None,
)
install_error_handlers(api_v1)
api_v1.add_router("", v1_router)
api_v1.add_router("", users_v1_router)
