"""Hostile sources: every bad answer is refused with a message naming the problem, and
nothing is stored."""

import base64
import hashlib
import json
import struct
import time
import zlib

import pytest
from django.test import Client
from django.utils import timezone

from laurels.backpack.models import ImportedBadge
from tests.factories import UserFactory, png_bytes

pytestmark = pytest.mark.django_db
JSON_LD = {"Content-Type": "application/ld+json"}


def huge_png_header(width=30000, height=30000) -> bytes:
    """A tiny file claiming to be an enormous image (a decompression bomb's header)."""

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def source(serve, settings):
    """A badge source on loopback serving a valid badge unless a test changes a route."""
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    server = serve()
    base = server.url
    salt = "pepper"
    identity = "sha256$" + hashlib.sha256(("hacker@example.org" + salt).encode()).hexdigest()
    documents = {
        "/assertion": {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Assertion",
            "id": f"{base}/assertion",
            "badge": f"{base}/badge",
            "recipient": {"type": "email", "hashed": True, "salt": salt, "identity": identity},
            "issuedOn": "2026-01-01T00:00:00Z",
            "verification": {"type": "HostedBadge"},
        },
        "/badge": {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "BadgeClass",
            "id": f"{base}/badge",
            "name": "Suspicious",
            "description": "d",
            "image": f"{base}/image",
            "criteria": {"narrative": "c"},
            "issuer": f"{base}/issuer",
        },
        "/issuer": {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Issuer",
            "id": f"{base}/issuer",
            "name": "Somewhere",
            "url": "https://x.example.org",
            "email": "x@x.example.org",
        },
    }
    for path, document in documents.items():
        server.routes[path] = (200, JSON_LD, json.dumps(document).encode(), 0)
    server.routes["/image"] = (200, {"Content-Type": "image/png"}, png_bytes(), 0)
    server.documents = documents
    return server


@pytest.fixture
def client():
    client = Client()
    client.force_login(UserFactory(email="hacker@example.org"))
    return client


def import_url(client, url):
    return client.post(
        "/v2/backpack/import", json.dumps({"url": url}), content_type="application/json"
    )


def refused(response, words):
    assert response.status_code in (400, 413), response.content
    assert words in response.json()["status"]["description"]
    assert not ImportedBadge.objects.exists()


def test_the_valid_source_imports(client, source):
    assert import_url(client, source.url + "/assertion").status_code == 201


def test_malformed_json_ld(client, source):
    source.routes["/assertion"] = (200, JSON_LD, b'{"@context": "https://w3id', 0)
    refused(import_url(client, source.url + "/assertion"), "not valid JSON")


def test_not_an_assertion(client, source):
    source.routes["/assertion"] = (200, JSON_LD, b'{"type": "Person", "id": "x"}', 0)
    refused(import_url(client, source.url + "/assertion"), "not an Open Badges Assertion")


def test_id_that_is_not_where_it_is_hosted(client, source):
    document = {**source.documents["/assertion"], "id": "https://elsewhere.example.org/a"}
    source.routes["/assertion"] = (200, JSON_LD, json.dumps(document).encode(), 0)
    refused(import_url(client, source.url + "/assertion"), "not the URL it is hosted at")


def test_wrong_content_type(client, source):
    source.routes["/assertion"] = (200, {"Content-Type": "text/html"}, b"<html></html>", 0)
    refused(import_url(client, source.url + "/assertion"), "text/html")


def test_huge_response(client, source, settings):
    settings.LAURELS_FETCH_MAX_BYTES = 64 * 1024
    source.routes["/assertion"] = (200, JSON_LD, b" " * (1024 * 1024), 0)
    refused(import_url(client, source.url + "/assertion"), "larger than")


def test_slow_response(client, source, settings):
    settings.LAURELS_FETCH_TIMEOUT = 1
    source.routes["/assertion"] = (200, JSON_LD, b"{}", 3)
    refused(import_url(client, source.url + "/assertion"), "did not answer in time")


def test_all_the_fetches_of_an_import_share_one_deadline(client, source, settings):
    """Each document answers within the deadline, but together they take longer."""
    settings.LAURELS_FETCH_DEADLINE = 1
    for path in ("/assertion", "/badge", "/issuer"):
        status, headers, body, _ = source.routes[path]
        source.routes[path] = (status, headers, body, 0.45)
    started = time.monotonic()
    refused(import_url(client, source.url + "/assertion"), "did not answer in time")
    assert time.monotonic() - started < 1.5


def test_png_bomb_image(client, source):
    source.routes["/image"] = (200, {"Content-Type": "image/png"}, huge_png_header(), 0)
    refused(import_url(client, source.url + "/assertion"), "too many pixels")


def test_svg_with_script(client, source):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    source.routes["/image"] = (200, {"Content-Type": "image/svg+xml"}, svg, 0)
    refused(import_url(client, source.url + "/assertion"), "script")


def test_svg_with_external_entity(client, source):
    svg = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
    )
    source.routes["/image"] = (200, {"Content-Type": "image/svg+xml"}, svg, 0)
    refused(import_url(client, source.url + "/assertion"), "forbidden XML")


def test_expired_badge(client, source):
    document = {**source.documents["/assertion"], "expires": "2026-02-01T00:00:00Z"}
    source.routes["/assertion"] = (200, JSON_LD, json.dumps(document).encode(), 0)
    refused(import_url(client, source.url + "/assertion"), "expired")


def test_gone_badge(client, source):
    source.routes["/assertion"] = (404, JSON_LD, b"{}", 0)
    refused(import_url(client, source.url + "/assertion"), "no longer exists")


def test_a_baked_image_without_a_badge(client):
    body = {"image": "data:image/png;base64," + base64.b64encode(png_bytes()).decode()}
    response = client.post("/v2/backpack/import", json.dumps(body), content_type="application/json")
    refused(response, "carries no Open Badges assertion")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "https://x.example.org/a", "assertion": "x"},
        {"assertion": "not json and not a jws"},
        {"assertion": {"no": "id"}},
    ],
)
def test_import_input_errors(client, body):
    response = client.post("/v2/backpack/import", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert not ImportedBadge.objects.exists()


def test_a_private_url_is_refused_when_not_allowed(client, serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = ""
    listener = serve()
    refused(import_url(client, listener.url + "/assertion"), "does not fetch from")
    assert listener.connections == 0


def serve_document(source, path, document):
    source.routes[path] = (200, JSON_LD, json.dumps(document).encode(), 0)


def test_a_document_naming_another_id_is_refused(client, source):
    """An issuer profile passed off as someone else's: its id is not where it was fetched."""
    issuer = {**source.documents["/issuer"], "id": "https://harvard.example.org/issuer"}
    serve_document(source, "/issuer", issuer)
    refused(import_url(client, source.url + "/assertion"), "does not have that URL as its id")


def test_an_embedded_issuer_is_not_trusted(client, source):
    """The badge class embeds a flattering copy of its issuer: the issuer's own document,
    fetched from its id, is what is kept."""
    embedded = {**source.documents["/issuer"], "name": "Harvard University"}
    serve_document(source, "/badge", {**source.documents["/badge"], "issuer": embedded})
    response = import_url(client, source.url + "/assertion")
    assert response.status_code == 201, response.content
    entity_id = response.json()["result"][0]["entityId"]
    expanded = client.get(f"/v2/backpack/assertions/{entity_id}?expand=badgeclass&expand=issuer")
    assert expanded.json()["result"][0]["badgeclass"]["issuer"]["name"] == "Somewhere"


def test_the_issuer_may_narrow_where_its_assertions_are_hosted(client, source):
    issuer = {
        **source.documents["/issuer"],
        "verification": {"type": "VerificationObject", "startsWith": f"{source.url}/awards/"},
    }
    serve_document(source, "/issuer", issuer)
    refused(import_url(client, source.url + "/assertion"), "verification.startsWith")


def test_evidence_is_kept_as_its_known_properties(client, source):
    evidence = [
        {"id": "https://e.example.org/1", "narrative": "Built it.", "onclick": "alert(1)"},
        "https://e.example.org/2",
    ]
    serve_document(source, "/assertion", {**source.documents["/assertion"], "evidence": evidence})
    response = import_url(client, source.url + "/assertion")
    assert response.status_code == 201, response.content
    assert response.json()["result"][0]["evidence"] == [
        {"id": "https://e.example.org/1", "narrative": "Built it."},
        {"id": "https://e.example.org/2"},
    ]


@pytest.mark.parametrize(
    ("where", "change", "words"),
    [
        ("/assertion", {"issuedOn": "2026-01-01T00:00:00"}, "with a time zone"),
        ("/assertion", {"issuedOn": "1900-01-01T02:00:00+05:00"}, "between the years 1900"),
        ("/badge", {"criteria": {"id": "data:text/html,<script>alert(1)</script>"}}, "criteria"),
        ("/issuer", {"image": "data:text/html,x"}, "issuer's image"),
        ("/issuer", {"url": "https://x.example.org/" + "a" * 1000}, "at most 1000"),
    ],
)
def test_hostile_values_are_refused_naming_them(client, source, where, change, words):
    serve_document(source, where, {**source.documents[where], **change})
    refused(import_url(client, source.url + "/assertion"), words)


def test_a_badge_kept_before_urls_were_checked_shows_no_script_link():
    """Imports made before every URL was checked may hold a `javascript:` link; the API
    (and so the share pages) leaves such a link out rather than pass it on."""
    user = UserFactory(email="early@example.org")
    script = "javascript:alert(document.domain)//"
    ImportedBadge.objects.create(
        user=user,
        source_id=script,
        assertion={"evidence": [{"id": script}, {"narrative": "kept"}]},
        badge_class={"id": script, "name": "Old", "criteria": {"id": script}},
        issuer={"id": script, "name": "Old issuer", "url": script},
        image="imported/old.png",
        recipient_identity="early@example.org",
        issued_on=timezone.now(),
        verified_at=timezone.now(),
    )
    client = Client()
    client.force_login(user)
    listed = client.get("/v2/backpack/assertions")
    assert listed.status_code == 200
    assert "javascript:" not in listed.content.decode()
    assert listed.json()["result"][0]["evidence"] == [{"narrative": "kept"}]
