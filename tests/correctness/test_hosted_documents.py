"""Hosted documents are never stale: a revocation shows on the very next request, on every
worker and every app server, whatever raced with it.

Documents are cached under the versions of their rows (`openbadges.services.
document_versions`), read before the document is made, and every change moves them on
in its own transaction.
"""

from __future__ import annotations

import pytest
import redis
from django.db import connection

from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion
from tests.api.test_answer_cache import wsgi_get
from tests.factories import AssertionFactory

REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of its own: these tests flush it
JSON_LD = {"HTTP_ACCEPT": "application/ld+json"}


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["per-process cache", "Redis"])
def document_cache(request, settings):
    """The default per-process cache, and Redis (REDIS_URL) where it runs."""
    if request.param == "Redis":
        if not redis_reachable():
            pytest.skip(f"needs Redis at {REDIS_URL}")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        }
        from django.core.cache import cache

        cache.clear()
        yield
        cache.clear()
    else:
        yield


@pytest.mark.django_db(transaction=True)
def test_a_verifier_that_misses_while_an_award_is_revoked_cannot_put_valid_back(document_cache):
    """The verifier misses, reads the award (valid), and before it stores its answer the
    revocation commits (and, in the old design, cleared the cache). The next verifier
    must be told 410, not be given the valid answer stored after the revocation."""
    award = AssertionFactory()
    path = f"/public/assertions/{award.entity_id}"
    revoked: list[bool] = []

    def revoke_after_the_read(execute, sql, params, many, context):
        # Building the document reads the award, then its issuer's signing key, then
        # stores the answer: revoke in between, as a concurrent request would.
        if not revoked and "issuerkey" in sql:
            revoked.append(True)
            issuing.assertion_revoke(assertion=Assertion.objects.get(pk=award.pk), reason="Fraud")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(revoke_after_the_read):
        status, _, document, _ = wsgi_get(path, None, **JSON_LD)
    assert revoked, "the document was not built"
    assert status == 200 and "revoked" not in document  # read before the revocation
    for _ in range(2):  # the next request, and the one after it (the fast path)
        status, _, document, _ = wsgi_get(path, None, **JSON_LD)
        assert status == 410 and document["revoked"] is True


@pytest.mark.django_db
def test_a_cached_document_costs_one_query_and_no_django(document_cache):
    """The fast path reads the document's versions (one indexed query) and answers from
    the cache: counted on SQLite's own statement trace, since it bypasses Django."""
    if connection.vendor != "sqlite":
        pytest.skip("counts statements with SQLite's trace hook")
    award = AssertionFactory()
    for kind, entity_id in (
        ("assertions", award.entity_id),
        ("badges", award.badge_class.entity_id),
        ("issuers", award.issuer.entity_id),
    ):
        path = f"/public/{kind}/{entity_id}"
        first = wsgi_get(path, None, **JSON_LD)
        statements: list[str] = []
        connection.ensure_connection()
        connection.connection.set_trace_callback(statements.append)
        try:
            again = wsgi_get(path, None, **JSON_LD)
        finally:
            connection.connection.set_trace_callback(None)
        assert (again[0], again[2]) == (first[0], first[2]) == (200, first[2])
        assert (again[3], len(statements)) == (0, 1), statements


@pytest.mark.django_db
def test_a_host_django_refuses_gets_no_cached_document():
    award = AssertionFactory()
    path = f"/public/assertions/{award.entity_id}"
    assert wsgi_get(path, None, **JSON_LD)[0] == 200
    assert wsgi_get(path, None, host="attacker.example", **JSON_LD)[0] == 400
