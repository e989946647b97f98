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
from laurels.api.tokens import router as tokens_router
from laurels.api.users import router as users_router


class LaurelsAPI(NinjaAPI):
    """Publishes the Bearer scheme as OAuth2 (authorization code + PKCE), so the docs'
    Authorize button and generated clients know how to get a token."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if "BearerCaller" in schemes:
            schemes["BearerCaller"] = oauth_security_scheme()
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
