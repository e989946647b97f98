"""The web app's layout (issue 17, "Look and feel"): brand, navigation, htmx set up for the
strict CSP, password rules shown up front, errors tied to their fields, and the 403, 404
and 500 pages (the 500 one while the database is down)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.test import Client, RequestFactory
from django.views.defaults import permission_denied

import laurels.web
from laurels.web.error_views import server_error

VENDOR = Path(laurels.web.__file__).parent / "static" / "web" / "vendor"
NAV = ("/backpack/", "/backpack/collections/", "/backpack/import/", "/account/")


def meta_htmx_config(html: str) -> dict:
    match = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", html)
    assert match, "no htmx-config meta"
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_the_brand_comes_from_the_setting_on_every_page(client, settings):
    settings.LAURELS_SITE_NAME = "Harbour Badges"
    for path in ("/", "/accounts/login/", "/accounts/signup/"):
        html = client.get(path).content.decode()
        assert '<a class="brand" href="/">Harbour Badges</a>' in html, path
        assert "testserver" not in html, path  # the log-in page showed the host
    login = client.get("/accounts/login/").content.decode()
    assert "<title>Log in · Harbour Badges</title>" in login


def test_the_brand_defaults_to_laurels():
    from django.conf import settings

    assert settings.LAURELS_SITE_NAME == "Laurels"


def test_signed_in_navigation_marks_the_current_page(client_logged_in):
    html = client_logged_in.get("/").content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    for path in NAV:
        assert f'<a href="{path}"' in nav
    assert '<a href="/" aria-current="page">Home</a>' in nav
    assert "Log out" in nav
    assert '<a class="skip-link" href="#content">Skip to content</a>' in html
    assert '<main id="content" tabindex="-1">' in html


@pytest.mark.django_db
def test_visitors_get_log_in_and_sign_up_not_the_backpack(client):
    html = client.get("/accounts/login/").content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    assert 'href="/accounts/login/" aria-current="page"' in nav
    assert 'href="/accounts/signup/"' in nav
    assert "/backpack/" not in nav


@pytest.mark.django_db
def test_htmx_is_vendored_and_set_up_for_the_strict_csp(client):
    response = client.get("/")
    html = response.content.decode()
    assert re.search(r'<script src="/static/web/vendor/htmx\.min\.[0-9a-f.]*js" defer>', html)
    config = meta_htmx_config(html)
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False  # it would add an inline <style>
    assert config["historyCacheSize"] == 0  # no signed-in pages in localStorage
    assert "<script>" not in html and "style=" not in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[-1]
    assert (VENDOR / "htmx.min.js").read_text().startswith("var htmx=function()")
    assert "Zero-Clause BSD" in (VENDOR / "htmx.LICENSE").read_text()


@pytest.mark.django_db
def test_sign_up_shows_the_password_rules_before_they_are_broken(client):
    html = client.get("/accounts/signup/").content.decode()
    assert 'id="password-rules"' in html
    assert "at least 10 characters" in html
    assert re.search(
        r'<input type="password" name="password1"[^>]*aria-describedby="password-rules"', html
    )


def test_password_change_shows_the_password_rules(client_logged_in):
    html = client_logged_in.get("/accounts/password/change/").content.decode()
    assert 'id="password-rules"' in html and "at least 10 characters" in html


@pytest.mark.django_db
def test_errors_are_tied_to_their_fields(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.org", "password1": "a sturdy passphrase", "password2": "other"},
    )
    assert response.status_code in (200, 400)
    html = response.content.decode()
    widget = re.search(r'<input type="password" name="password2"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in widget
    assert 'aria-describedby="id_password2_error"' in widget
    assert '<div id="id_password2_error"><p class="error">The two passwords differ.</p>' in html


@pytest.mark.django_db
def test_not_found_is_a_page_with_navigation_for_browsers(client, settings):
    settings.LAURELS_SITE_NAME = "Harbour Badges"
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert '<nav aria-label="Main">' in html and "Harbour Badges" in html


@pytest.mark.django_db
def test_the_api_keeps_its_json_errors(client):
    response = client.get("/v2/no/such/thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["status"]["success"] is False


def test_not_allowed_page_says_who_is_signed_in(user):
    request = RequestFactory().get("/somewhere/private/")
    request.user = user
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>You may not open this page</h1>" in html
    assert "ada@example.org" in html


def test_server_error_renders_without_a_database_or_request_context(settings):
    """No django_db mark: any query here fails the test (pytest-django blocks them)."""
    settings.LAURELS_SITE_NAME = "Harbour Badges"
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong on our side</h1>" in html
    assert '<a class="brand" href="/">Harbour Badges</a>' in html
    assert '<nav aria-label="Main">' in html


def test_a_page_answers_the_styled_500_while_the_database_is_down(user, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    from django.db.backends.utils import CursorWrapper

    def fail(self, sql, params=None):
        raise DatabaseError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(CursorWrapper, "execute", fail)
        response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "Content-Security-Policy" in response


@pytest.mark.django_db
def test_a_form_posted_without_its_csrf_token_gets_the_styled_403():
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "ada@example.org", "password": "x"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>This form has expired</h1>" in html
    assert '<nav aria-label="Main">' in html
