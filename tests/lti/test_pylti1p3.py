"""The launch as a real LTI 1.3 tool library sees it: pylti1p3's own login and launch
validation (its Flask adapter, driven in process; the browser test runs it for real)."""

from urllib.parse import urlsplit

import flask
import pytest
from django.conf import settings
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.tool_config import ToolConfDict

from tests.lti.helpers import LAUNCH_URL, form_of, press


def tool_app(registration, jwks: dict):
    config = ToolConfDict(
        {
            settings.LAURELS_BASE_URL: [
                {
                    "default": True,
                    "client_id": registration.client_id,
                    "auth_login_url": settings.LAURELS_BASE_URL.rstrip("/") + "/lti/authorize",
                    "auth_token_url": settings.LAURELS_BASE_URL.rstrip("/") + "/o/token",
                    "key_set_url": None,
                    "key_set": jwks,
                    "deployment_ids": [registration.deployment_id],
                }
            ]
        }
    )
    app = flask.Flask("tool")
    app.secret_key = "tool secret"

    @app.post("/login")
    def login():
        return FlaskOIDCLogin(FlaskRequest(), config).redirect(
            flask.request.form["target_link_uri"]
        )

    @app.post("/launch")
    def launch():
        data = FlaskMessageLaunch(FlaskRequest(), config).get_launch_data()
        return flask.jsonify(data)

    return app


@pytest.mark.django_db
def test_pylti1p3_accepts_the_launch(user, client_logged_in, connected_tool, badge_class):
    login_form = form_of(
        press(client_logged_in, connected_tool, "badgeclass", badge_class.entity_id)
    )[1]
    tool = tool_app(connected_tool, client_logged_in.get("/lti/jwks").json()).test_client()
    tool_base = "https://tool.example.org"
    redirect = tool.post("/login", data=login_form, base_url=tool_base)
    assert redirect.status_code == 302
    auth_url = urlsplit(redirect.headers["Location"])
    answer = client_logged_in.get(f"{auth_url.path}?{auth_url.query}")
    assert answer.status_code == 200, answer.content[:500]
    action, fields = form_of(answer)
    assert action == LAUNCH_URL
    launched = tool.post("/launch?course=a+b", data=fields, base_url=tool_base)
    assert launched.status_code == 200, launched.data[:500]
    data = launched.get_json()
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    assert data[claim + "custom"]["laurels_badgeclass_id"] == badge_class.entity_id
    assert data["sub"] == connected_tool.subject_of(user) == login_form["login_hint"]
    assert data[claim + "roles"] == [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"
    ]
