"""The 500 page's navigation (web/error_views.py): a person the middleware had already found
signed in gets the signed-in links and a working Log out, without their address; a user
not resolved yet is never resolved (that would read the session and the database), and
the page shows the visitor's links. Tests without the django_db mark fail on any query."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import path
from django.utils.functional import SimpleLazyObject

from laurels import urls as laurels_urls
from laurels.accounts.models import User
from laurels.web.error_views import server_error

SIGNED_IN_LINKS = ('href="/backpack/"', 'href="/backpack/import/"', 'href="/account/"')
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def boom(request):
    """A page that fails after it has asked who is signed in, as every page does."""
    assert request.user.is_authenticated
    raise RuntimeError("boom")


# This module is the URLconf of the tests marked `urls` below: the site, plus /boom/.
urlpatterns = [path("boom/", boom), *laurels_urls.urlpatterns]
handler500 = laurels_urls.handler500


def page_of(request) -> str:
    response = server_error(request)
    assert response.status_code == 500
    return response.content.decode()


def assert_signed_in_nav(html: str, address: str) -> None:
    assert "<h1>Something went wrong on our side</h1>" in html
    for link in SIGNED_IN_LINKS:
        assert link in html, link
    assert 'action="/accounts/logout/"' in html and ">Log out</button>" in html
    assert TOKEN.search(html), "the Log out form has no CSRF token"
    assert address not in html
    assert "Log in" not in html and 'href="/admin/"' not in html


def assert_visitor_nav(html: str) -> None:
    assert "<h1>Something went wrong on our side</h1>" in html
    assert ">Log in</a>" in html
    assert "Log out" not in html and 'href="/backpack/"' not in html


def test_a_user_the_middleware_resolved_gets_the_signed_in_nav_without_a_query():
    request = RequestFactory().get("/backpack/")
    request._cached_user = User(email="ada@example.org", is_staff=True)  # never saved
    assert_signed_in_nav(page_of(request), "ada@example.org")


def test_a_user_not_resolved_yet_is_left_unresolved():
    """Resolving `request.user` would read the session and the database; the page must not."""

    def resolve():
        raise AssertionError("the 500 page resolved request.user")

    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(resolve)
    assert_visitor_nav(page_of(request))


def test_a_visitor_gets_the_visitor_nav():
    request = RequestFactory().get("/")
    request._cached_user = AnonymousUser()
    assert_visitor_nav(page_of(request))


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_failing_page_keeps_the_nav_and_log_out_works(user):
    """Through the whole middleware stack: the page that failed had resolved the user, so
    the 500 page shows the signed-in links, and its Log out form (with the token of the
    CSRF cookie) ends the session."""
    browser = Client(raise_request_exception=False, enforce_csrf_checks=True)
    browser.force_login(user)
    failed = browser.get("/boom/")
    assert failed.status_code == 500
    assert "Content-Security-Policy" in failed
    html = failed.content.decode()
    assert_signed_in_nav(html, user.email)
    token = TOKEN.search(html).group(1)
    logged_out = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert logged_out.status_code in (200, 302)
    assert browser.get("/account/").status_code == 302  # sent to log in: the session ended
