"""A real LTI 1.3 tool for end-to-end tests: pylti1p3's Flask adapter, served by werkzeug on
a free loopback port in a thread, set up with a Laurels server's platform details.

- `/login`: pylti1p3's OIDC login initiation (third-party-initiated login): it checks the
  platform's `iss`/`client_id`, keeps a nonce in the tool's session and a state cookie,
  and redirects the browser to the platform's `/lti/authorize`.
- `/launch`: pylti1p3's `MessageLaunch` validates the id_token (state cookie, nonce,
  signature against the platform's `/lti/jwks`, deployment, message claims) and shows the
  validated claims; a refusal is a 400 page saying why. Each answer is kept in `launches`.
- `/oauth/callback`: where the OAuth consent sends the person back when they connect the
  tool as an app (the tool needs no token for a launch: the live grant is enough).
- `/jwks`: the tool's own public key (a platform would use it for LTI services).

`misbehave` makes the tool's next logins break the protocol the way a buggy or hostile
tool would, so that tests can see who refuses what: "wrong_nonce" (the nonce sent to the
platform is not the one kept, so the tool's own validation must refuse the launch),
"fixed_nonce" (the same nonce every time: the platform must refuse it the second time),
"other_redirect_uri" (asks the platform to post to a URL that is not the registered
launch URL), "hold" (stops on a page with a link to the platform instead of redirecting,
for a test that makes the launch expire in between).

Both servers are on 127.0.0.1 and browsers share cookies per host whatever the port, so
the tool's cookies are named apart from Laurels' (`sessionid`, `csrftoken`): its Flask
session is `lti_tool_session`, pylti1p3's state cookies start with `lti1p3-`.
"""

from __future__ import annotations

import contextlib
import html
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, make_response, request
from jwcrypto.jwk import JWK
from pylti1p3.contrib.flask import (
    FlaskCookieService,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.tool_config import ToolConfDict
from werkzeug.serving import WSGIRequestHandler, make_server

CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
RESOURCE_LINK = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
MISBEHAVIOURS = {"wrong_nonce", "fixed_nonce", "other_redirect_uri", "hold"}


@dataclass(frozen=True)
class Platform:
    """What the platform (Laurels) told the tool when it was registered there."""

    issuer: str
    client_id: str
    deployment_id: str

    @property
    def auth_login_url(self) -> str:
        return f"{self.issuer}/lti/authorize"

    @property
    def key_set_url(self) -> str:
        return f"{self.issuer}/lti/jwks"


@dataclass
class Launch:
    """One answer of `/launch`: the validated id_token body, or why pylti1p3 refused it."""

    claims: dict[str, Any] | None = None
    error: str | None = None

    @property
    def custom(self) -> dict[str, str]:
        return (self.claims or {}).get(CUSTOM, {})

    @property
    def roles(self) -> list[str]:
        return (self.claims or {}).get(ROLES, [])


@dataclass
class LtiTool:
    """The tool's state: the platforms it trusts, its key, what it saw."""

    base_url: str = ""
    platforms: list[Platform] = field(default_factory=list)
    misbehave: str | None = None
    launches: list[Launch] = field(default_factory=list)
    held_redirects: list[str] = field(default_factory=list)
    paths_seen: list[str] = field(default_factory=list)
    key: JWK = field(default_factory=lambda: JWK.generate(kty="RSA", size=2048))

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login"

    @property
    def launch_url(self) -> str:
        return f"{self.base_url}/launch"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/jwks"

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.base_url}/oauth/callback"

    @property
    def public_key_pem(self) -> str:
        return self.key.export_to_pem().decode()

    def trust(self, platform: Platform) -> None:
        """Add a registration: from now on the tool accepts launches from it."""
        self.platforms.append(platform)

    def tool_config(self) -> ToolConfDict:
        """pylti1p3's configuration, built afresh for each request from `platforms` (one
        issuer may have several client ids: the list form of ToolConfDict)."""
        by_issuer: dict[str, list[dict[str, Any]]] = {}
        for platform in self.platforms:
            by_issuer.setdefault(platform.issuer, []).append(
                {
                    "default": False,
                    "client_id": platform.client_id,
                    "auth_login_url": platform.auth_login_url,
                    "auth_token_url": f"{platform.issuer}/o/token",  # unused: no LTI services
                    "key_set_url": platform.key_set_url,
                    "key_set": None,
                    "deployment_ids": [platform.deployment_id],
                }
            )
        config = ToolConfDict(by_issuer)
        private_pem = self.key.export_to_pem(private_key=True, password=None).decode()
        for platform in self.platforms:
            config.set_private_key(platform.issuer, private_pem, client_id=platform.client_id)
            config.set_public_key(
                platform.issuer, self.public_key_pem, client_id=platform.client_id
            )
        return config


class FixedNonceLogin(FlaskOIDCLogin):
    """A login that sends the same nonce every time, as a careless tool might."""

    def _generate_nonce(self) -> str:
        return "a-nonce-used-twice"


def _page(title: str, body: str, status: int = 200):
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    response = make_response(document, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(key, old) for key, old in parse_qsl(parts.query) if key != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))


def _claims_list(launch: Launch) -> str:
    claims = launch.claims or {}
    rows = {
        "sub": claims.get("sub", ""),
        "Badge class": launch.custom.get("laurels_badgeclass_id", ""),
        "Issuer": launch.custom.get("laurels_issuer_id", ""),
        "Assertion": launch.custom.get("laurels_assertion_id", ""),
        "Location": launch.custom.get("laurels_location", ""),
        "Resource link": claims.get(RESOURCE_LINK, {}).get("id", ""),
        "Context": claims.get(CONTEXT, {}).get("id", ""),
        "Name": claims.get("name", ""),
        "Email": claims.get("email", ""),
    }
    items = "".join(
        f'<dt>{name}</dt><dd data-claim="{name}">{html.escape(value)}</dd>'
        for name, value in rows.items()  # the names are this function's own
    )
    roles = "".join(f"<li>{html.escape(role)}</li>" for role in launch.roles)
    return f'<dl>{items}</dl><h2>Roles</h2><ul class="roles">{roles}</ul>'


def make_app(tool: LtiTool) -> Flask:
    app = Flask("lti_test_tool")
    app.secret_key = secrets.token_hex(32)
    app.config.update(SESSION_COOKIE_NAME="lti_tool_session", SESSION_COOKIE_SAMESITE="Lax")

    @app.before_request
    def seen() -> None:
        tool.paths_seen.append(request.path)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        lti_request = FlaskRequest()
        cookies = FlaskCookieService(lti_request)
        login_class = FixedNonceLogin if tool.misbehave == "fixed_nonce" else FlaskOIDCLogin
        oidc = login_class(lti_request, tool.tool_config(), cookie_service=cookies)
        target = f"{tool.base_url}/elsewhere" if tool.misbehave == "other_redirect_uri" else None
        try:
            redirect = oidc.get_redirect_object(target or tool.launch_url)
        except Exception as error:  # pylti1p3 raises bare Exception for unknown clients
            return _page("Login refused", f"<p>{html.escape(str(error))}</p>", 400)
        url = redirect.get_redirect_url()
        if tool.misbehave == "wrong_nonce":
            url = _with_param(url, "nonce", "not-the-nonce-the-tool-kept")
        if tool.misbehave == "hold":
            tool.held_redirects.append(url)
            response = _page(
                "Login held", f'<p><a href="{html.escape(url)}">Continue to the platform</a></p>'
            )
            cookies.update_response(response)
            return response
        redirect.set_redirect_url(url)
        return redirect.do_redirect()

    @app.post("/launch")
    def launch():
        message = FlaskMessageLaunch(FlaskRequest(), tool.tool_config())
        try:
            claims = dict(message.get_launch_data())
        except Exception as error:  # LtiException, or pylti1p3's bare Exception
            tool.launches.append(Launch(error=str(error)))
            return _page("Launch refused", f'<p class="error">{html.escape(str(error))}</p>', 400)
        accepted = Launch(claims=claims)
        tool.launches.append(accepted)
        return _page("Launch accepted", _claims_list(accepted))

    @app.route("/elsewhere", methods=["GET", "POST"])
    def elsewhere():
        return _page("Not the launch URL", "<p>The platform must never post here.</p>")

    @app.get("/oauth/callback")
    def oauth_callback():
        return _page("Connected", "<p>The tool is connected.</p>")

    @app.get("/jwks")
    def jwks():
        public = tool.key.export_public(as_dict=True)
        return {"keys": [public | {"alg": "RS256", "use": "sig", "kid": tool.key.thumbprint()}]}

    return app


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def running_tool() -> Iterator[LtiTool]:
    """The tool on a free 127.0.0.1 port (its `base_url`), stopped on exit."""
    tool = LtiTool()
    server = make_server(
        "127.0.0.1", 0, make_app(tool), threaded=True, request_handler=QuietHandler
    )
    tool.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tool
    finally:
        server.shutdown()
        thread.join(timeout=10)
