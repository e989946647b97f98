"""The WSGI fast path answers cached public documents exactly as the view does."""

import io

import pytest
from django.core.cache import cache
from django.test import Client

from laurels.issuing import services as issuing
from laurels.openbadges.fastpath import PublicDocumentFastPath
from tests.factories import BadgeClassFactory

pytestmark = pytest.mark.django_db


def call(app, path, **headers):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        **headers,
    }
    answer = {}

    def start_response(status, response_headers):
        answer["status"], answer["headers"] = status, dict(response_headers)

    answer["body"] = b"".join(app(environ, start_response))
    return answer


@pytest.fixture
def award():
    return issuing.assertion_award(
        badge_class=BadgeClassFactory(),
        actor=None,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity="a@example.org")),
    )


def test_a_cached_document_is_answered_without_django(award, django_assert_num_queries):
    path = f"/public/assertions/{award.entity_id}"
    via_django = Client().get(path, HTTP_ACCEPT="application/ld+json")  # fills the cache
    reached_django = []
    app = PublicDocumentFastPath(lambda environ, start: reached_django.append(1) or [])
    with django_assert_num_queries(0):
        answer = call(app, path, HTTP_ACCEPT="application/ld+json")
    assert reached_django == []
    assert answer["status"] == "200 OK"
    assert answer["body"] == via_django.content
    assert answer["headers"]["ETag"] == via_django["ETag"]
    assert answer["headers"]["Content-Type"] == "application/ld+json"
    not_modified = call(
        app, path, HTTP_ACCEPT="application/ld+json", HTTP_IF_NONE_MATCH=via_django["ETag"]
    )
    assert not_modified["status"] == "304 Not Modified" and not_modified["body"] == b""


def test_misses_pages_and_other_methods_go_to_django(award):
    reached = []

    def django_app(environ, start_response):
        reached.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"django"]

    app = PublicDocumentFastPath(django_app)
    cache.clear()
    path = f"/public/assertions/{award.entity_id}"
    call(app, path, HTTP_ACCEPT="application/ld+json")  # not cached yet
    Client().get(path, HTTP_ACCEPT="application/ld+json")
    call(app, path, HTTP_ACCEPT="text/html")  # a person's browser
    call(app, path, REQUEST_METHOD="POST", HTTP_ACCEPT="application/ld+json")
    call(app, path + "/image")
    assert len(reached) == 4


def test_a_revoked_award_is_answered_410_from_the_cache_too(
    award, django_capture_on_commit_callbacks
):
    path = f"/public/assertions/{award.entity_id}"
    with django_capture_on_commit_callbacks(execute=True):
        issuing.assertion_revoke(assertion=award, reason="Mistake")
    Client().get(path, HTTP_ACCEPT="application/ld+json")
    answer = call(PublicDocumentFastPath(None), path, HTTP_ACCEPT="application/ld+json")
    assert answer["status"] == "410 Gone"
    assert b'"revoked": true' in answer["body"]
