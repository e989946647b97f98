"""Verified issuers: an administrator's mark or a domain check (`issuing.verification`),
audited, cleared by a new name or website, shown on the public pages and in /v2."""

from __future__ import annotations

import pytest
from django.test import Client

from laurels.connect.models import AuditEvent
from laurels.issuing import services
from laurels.issuing.models import IssuerVerification
from laurels.issuing.verification import (
    DomainCheckFailed,
    issuer_domain_check,
    issuer_domain_check_token,
)
from tests.factories import IssuerFactory, UserFactory
from tests.httpstub import serve  # noqa: F401 (a fixture)

WELL_KNOWN = "/.well-known/laurels-issuer.txt"


@pytest.mark.django_db
def test_verify_and_unverify_are_audited():
    admin, issuer = UserFactory(), IssuerFactory()
    services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN, actor=admin)
    issuer.refresh_from_db()
    assert issuer.verified_at is not None and issuer.verified_by == "admin"
    services.issuer_unverify(issuer=issuer, actor=admin)
    issuer.refresh_from_db()
    assert issuer.verified_at is None and issuer.verified_by == ""
    kinds = AuditEvent.objects.filter(kind=AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED)
    assert [e.detail["verified_by"] for e in kinds.order_by("pk")] == ["admin", ""]


@pytest.mark.django_db
def test_an_unknown_kind_of_verification_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.issuer_verify(issuer=IssuerFactory(), by="trust-me")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, cleared",
    [
        ({"name": "Another name"}, True),
        ({"url": "https://elsewhere.example.org"}, True),
        ({"description": "New words"}, False),
        ({"email": "new@issuer.example.org"}, False),
    ],
)
def test_a_new_name_or_website_clears_the_verification(change, cleared):
    issuer = IssuerFactory()
    services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN)
    services.issuer_update(issuer=issuer, **change)
    issuer.refresh_from_db()
    assert (issuer.verified_at is None) is cleared


@pytest.mark.django_db
def test_the_public_page_and_the_api_say_verified():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    page = Client().get(f"/public/issuers/{issuer.entity_id}", HTTP_ACCEPT="text/html")
    assert "Verified issuer" not in page.content.decode()
    services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN)
    page = Client().get(f"/public/issuers/{issuer.entity_id}", HTTP_ACCEPT="text/html")
    assert "Verified issuer" in page.content.decode()
    client = Client()
    client.force_login(owner)
    answer = client.get(f"/v2/issuers/{issuer.entity_id}")
    assert answer.json()["result"][0]["verified"] is True


def test_the_token_is_an_hmac_of_the_issuer_id(settings):
    first, second = IssuerFactory.build(entity_id="abc"), IssuerFactory.build(entity_id="abd")
    token = issuer_domain_check_token(first)
    assert token == issuer_domain_check_token(IssuerFactory.build(entity_id="abc"))
    assert token != issuer_domain_check_token(second)
    settings.SECRET_KEY = "another secret key, long enough for Django's checks 0123456789"
    assert token != issuer_domain_check_token(first)


@pytest.fixture
def website(serve, settings):  # noqa: F811
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"

    def start(routes):
        server = serve(routes=routes)
        return server

    return start


def _issuer_at(server):
    issuer = IssuerFactory(url=f"{server.url}/about/us")
    return issuer


@pytest.mark.django_db(transaction=True)
def test_the_domain_check_finds_the_file(website):
    server = website({})
    issuer = _issuer_at(server)
    token = issuer_domain_check_token(issuer)
    server.routes[WELL_KNOWN] = (200, {"Content-Type": "text/plain"}, f"{token}\n".encode(), 0)
    issuer_domain_check(issuer, actor=None)
    issuer.refresh_from_db()
    assert issuer.verified_by == IssuerVerification.DOMAIN
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED).exists()


@pytest.mark.django_db(transaction=True)
def test_the_domain_check_finds_the_meta_tag(website):
    server = website({})
    issuer = _issuer_at(server)
    token = issuer_domain_check_token(issuer)
    page = f'<html><head><meta name="laurels-issuer-verification" content="{token}"></head>'
    server.routes[WELL_KNOWN] = (404, {"Content-Type": "text/plain"}, b"", 0)
    server.routes["/"] = (200, {"Content-Type": "text/html"}, page.encode(), 0)
    issuer_domain_check(issuer, actor=None)
    issuer.refresh_from_db()
    assert issuer.verified_at is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "route",
    [
        (200, {"Content-Type": "text/plain"}, b"laurels-not-the-token\n", 0),  # wrong
        (404, {"Content-Type": "text/plain"}, b"", 0),  # missing
        (200, {"Content-Type": "text/plain"}, b"x" * 5_000_000, 0),  # huge
    ],
)
def test_the_domain_check_fails_without_the_token(website, route):
    server = website({})
    issuer = _issuer_at(server)
    server.routes[WELL_KNOWN] = route
    server.routes["/"] = (404, {"Content-Type": "text/html"}, b"", 0)
    with pytest.raises(DomainCheckFailed) as failed:
        issuer_domain_check(issuer, actor=None)
    assert issuer_domain_check_token(issuer) in failed.value.message
    issuer.refresh_from_db()
    assert issuer.verified_at is None


@pytest.mark.django_db(transaction=True)
def test_a_token_served_by_another_host_after_a_redirect_does_not_count(website):
    """Whoever controls the redirect's target would otherwise verify the issuer."""
    elsewhere = website({})
    server = website({})
    issuer = _issuer_at(server)
    token = issuer_domain_check_token(issuer)
    page = f'<meta name="laurels-issuer-verification" content="{token}">'.encode()
    elsewhere.routes[WELL_KNOWN] = (200, {"Content-Type": "text/plain"}, f"{token}\n".encode(), 0)
    elsewhere.routes["/"] = (200, {"Content-Type": "text/html"}, page, 0)
    for path in (WELL_KNOWN, "/"):
        server.routes[path] = (302, {"Location": elsewhere.url + path}, b"", 0)
    with pytest.raises(DomainCheckFailed):
        issuer_domain_check(issuer, actor=None)
    # A redirect within the host is followed.
    server.routes[WELL_KNOWN] = (302, {"Location": "/tokens.txt"}, b"", 0)
    server.routes["/tokens.txt"] = (200, {"Content-Type": "text/plain"}, f"{token}\n".encode(), 0)
    issuer_domain_check(issuer, actor=None)
    issuer.refresh_from_db()
    assert issuer.verified_by == IssuerVerification.DOMAIN


@pytest.mark.django_db(transaction=True)
def test_a_huge_file_with_the_token_first_is_still_refused(website):
    server = website({})
    issuer = _issuer_at(server)
    body = (issuer_domain_check_token(issuer) + "\n").encode() + b"x" * 5_000_000
    server.routes[WELL_KNOWN] = (200, {"Content-Type": "text/plain"}, body, 0)
    with pytest.raises(DomainCheckFailed):
        issuer_domain_check(issuer, actor=None)


@pytest.mark.django_db
def test_the_domain_check_refuses_to_run_inside_a_transaction():
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError):
        issuer_domain_check(IssuerFactory(), actor=None)


@pytest.mark.django_db
def test_no_api_field_sets_the_mark():
    owner = UserFactory()
    issuer = IssuerFactory(owner=owner)
    client = Client()
    client.force_login(owner)
    body = {"name": issuer.name, "url": issuer.url, "email": issuer.email, "verified": True}
    answer = client.put(f"/v2/issuers/{issuer.entity_id}", body, content_type="application/json")
    assert answer.status_code in (200, 400), answer.content
    issuer.refresh_from_db()
    assert issuer.verified_at is None
    assert client.get(f"/v2/issuers/{issuer.entity_id}").json()["result"][0]["verified"] is False
