"""The Import page (web/import_views.py): each way in, a check that keeps nothing, a save
that verifies again, this server's own awards recognised, and hostile input answered with
a 4xx page. Remote issuers are stub hosts over real HTTP on loopback."""

import json

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from laurels.backpack.models import ImportedBadge
from laurels.openbadges import baking
from laurels.web.import_views import SOURCE_SALT
from tests.factories import AssertionFactory, UserFactory, png_bytes, png_data_uri

pytestmark = pytest.mark.django_db
PATH = "/backpack/import/"
CONTEXT = "https://w3id.org/openbadges/v2"
JSON = {"Content-Type": "application/ld+json"}
ADA = "ada@example.org"


def document(body: dict) -> tuple:
    return (200, JSON, json.dumps(body).encode(), 0)


def assertion_of(base: str, identity: str = ADA) -> dict:
    return {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": f"{base}/assertion",
        "badge": f"{base}/badge",
        "recipient": {"type": "email", "hashed": False, "identity": identity},
        "issuedOn": "2026-01-01T00:00:00Z",
        "verification": {"type": "HostedBadge"},
    }


@pytest.fixture
def issuer(serve, settings):
    """A hosted issuer on a loopback stub host, with one badge awarded to Ada."""
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    host = serve()
    base = host.url
    host.routes.update(
        {
            "/issuer": document(
                {
                    "@context": CONTEXT,
                    "type": "Issuer",
                    "id": f"{base}/issuer",
                    "name": "Far College",
                    "url": "https://far.example.org",
                }
            ),
            "/badge": document(
                {
                    "@context": CONTEXT,
                    "type": "BadgeClass",
                    "id": f"{base}/badge",
                    "name": "Far Badge",
                    "description": "Earned far away.",
                    "image": png_data_uri(),
                    "criteria": {"narrative": "Work."},
                    "issuer": f"{base}/issuer",
                }
            ),
            "/assertion": document(assertion_of(base)),
        }
    )
    return host


def check(client: Client, **fields):
    return client.post(PATH, fields)


def html(response) -> str:
    return response.content.decode()


def signed(source: dict) -> str:
    return signing.dumps(source, salt=SOURCE_SALT)


# Anonymous, methods, CSRF


def test_anonymous_people_are_sent_to_log_in(client):
    for response in (client.get(PATH), client.post(PATH, {"url": "https://x.example/a"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login")


def test_the_form_offers_three_ways_in(client_logged_in):
    response = client_logged_in.get(PATH)
    assert response.status_code == 200
    page = html(response)
    assert page.count("<fieldset>") == 3 and 'enctype="multipart/form-data"' in page
    assert 'for="id_url"' in page and 'for="id_image"' in page and 'for="id_assertion"' in page


def test_a_post_without_the_csrf_token_is_refused(csrf_client_logged_in, issuer):
    response = csrf_client_logged_in.post(PATH, {"url": f"{issuer.url}/assertion"})
    assert response.status_code == 403


# Each way in: step 1 keeps nothing, step 2 keeps it


def test_by_url_check_keeps_nothing_then_save_keeps_it(client_logged_in, user, issuer):
    response = check(client_logged_in, url=f"{issuer.url}/assertion")
    assert response.status_code == 200, html(response)
    page = html(response)
    assert "Verified: Far Badge" in page and "Far College" in page and ADA in page
    assert not ImportedBadge.objects.exists()
    source = response.context["source"]
    saved = client_logged_in.post(PATH, {"source": source})
    badge = ImportedBadge.objects.get(user=user)
    assert saved.status_code == 302
    assert saved["Location"] == f"/backpack/badges/{badge.entity_id}/"
    again = check(client_logged_in, url=f"{issuer.url}/assertion")
    assert "You imported this badge before" in html(again)
    client_logged_in.post(PATH, {"source": source})
    assert ImportedBadge.objects.count() == 1


def test_by_baked_png(client_logged_in, user, issuer):
    baked = baking.bake_png(png_bytes(), f"{issuer.url}/assertion")
    upload = SimpleUploadedFile("badge.png", baked, content_type="image/png")
    response = client_logged_in.post(PATH, {"image": upload})
    assert response.status_code == 200, html(response)
    assert "Verified: Far Badge" in html(response)
    assert not ImportedBadge.objects.exists()
    client_logged_in.post(PATH, {"source": response.context["source"]})
    assert ImportedBadge.objects.filter(user=user).count() == 1


def test_by_pasted_json(client_logged_in, user, issuer):
    response = check(client_logged_in, assertion=json.dumps(assertion_of(issuer.url)))
    assert response.status_code == 200, html(response)
    assert "Verified: Far Badge" in html(response)
    assert not ImportedBadge.objects.exists()


def test_the_save_verifies_again(client_logged_in, issuer):
    """A badge revoked between the check and the save is not kept."""
    response = check(client_logged_in, url=f"{issuer.url}/assertion")
    issuer.routes["/assertion"] = (410, JSON, b'{"revocationReason": "Cheated"}', 0)
    saved = client_logged_in.post(PATH, {"source": response.context["source"]})
    assert saved.status_code == 400
    assert "revoked" in html(saved) and "Cheated" in html(saved)
    assert not ImportedBadge.objects.exists()


def test_a_forged_or_stale_source_is_refused(client_logged_in, issuer, monkeypatch):
    from laurels.web import import_views

    forged = json.dumps({"url": f"{issuer.url}/assertion", "token": ""})
    other_salt = signing.dumps({"url": f"{issuer.url}/assertion", "token": ""}, salt="other")
    for source in (forged, other_salt):
        response = client_logged_in.post(PATH, {"source": source})
        assert response.status_code == 400 and "check the badge again" in html(response)
    monkeypatch.setattr(import_views, "SOURCE_MAX_AGE", -1)
    stale = client_logged_in.post(PATH, {"source": signed({"url": f"{issuer.url}/assertion"})})
    assert stale.status_code == 400 and "too old" in html(stale)
    assert not ImportedBadge.objects.exists()


def test_a_badge_for_someone_else_is_refused(client_logged_in, issuer):
    issuer.routes["/assertion"] = document(assertion_of(issuer.url, "bob@example.org"))
    response = check(client_logged_in, url=f"{issuer.url}/assertion")
    assert response.status_code == 400
    assert "awarded to someone else" in html(response)


# This server's own awards


def test_an_award_of_this_server_is_recognised_by_its_url(client_logged_in, settings):
    """No fetch (this server may be on a loopback address, refused as private), no
    duplicate: the check points at the award itself, and a save answers it too."""
    settings.LAURELS_BASE_URL = "http://127.0.0.1:8500"
    settings.LAURELS_ALLOW_PRIVATE_FETCH = ""
    award = AssertionFactory(recipient_plaintext=ADA, recipient_identity=ADA)
    url = f"http://127.0.0.1:8500/public/assertions/{award.entity_id}"
    response = check(client_logged_in, url=url)
    assert response.status_code == 200, html(response)
    assert "already in your backpack" in html(response)
    assert f"/backpack/badges/{award.entity_id}/" in html(response)
    saved = client_logged_in.post(PATH, {"source": signed({"url": url, "token": ""})})
    assert saved["Location"] == f"/backpack/badges/{award.entity_id}/"
    assert not ImportedBadge.objects.exists()


def test_an_award_of_this_server_to_someone_else_is_refused(client_logged_in, settings):
    settings.LAURELS_BASE_URL = "http://127.0.0.1:8500"
    award = AssertionFactory(recipient_plaintext="bob@example.org")
    response = check(
        client_logged_in, url=f"http://127.0.0.1:8500/public/assertions/{award.entity_id}"
    )
    assert response.status_code == 400
    assert "no such award" in html(response)


def test_pasted_json_of_an_award_of_this_server_is_recognised(client_logged_in, settings):
    settings.LAURELS_BASE_URL = "http://127.0.0.1:8500"
    award = AssertionFactory(recipient_plaintext=ADA, recipient_identity=ADA)
    pasted = {"id": f"http://127.0.0.1:8500/public/assertions/{award.entity_id}"}
    response = check(client_logged_in, assertion=json.dumps(pasted))
    assert response.status_code == 200 and "already in your backpack" in html(response)


def test_the_api_answers_an_award_of_this_server_as_itself(client_logged_in, settings):
    """/v2/backpack/import shares the service: 200 with the local award, no import."""
    settings.LAURELS_BASE_URL = "http://127.0.0.1:8500"
    settings.LAURELS_ALLOW_PRIVATE_FETCH = ""
    award = AssertionFactory(recipient_plaintext=ADA, recipient_identity=ADA)
    response = client_logged_in.post(
        "/v2/backpack/import",
        json.dumps({"url": f"http://127.0.0.1:8500/public/assertions/{award.entity_id}"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    result = response.json()["result"][0]
    assert result["entityId"] == award.entity_id and result["source"] == "local"
    assert not ImportedBadge.objects.exists()


# Hostile input: a 4xx page with a message, never a 500


def test_nothing_given_or_two_given(client_logged_in):
    assert "Give exactly one" in html(check(client_logged_in))
    both = check(client_logged_in, url="https://x.example/a", assertion="{}")
    assert both.status_code == 400 and "Give exactly one" in html(both)


def test_a_two_megabyte_paste(client_logged_in):
    response = check(client_logged_in, assertion="{" + "x" * (2 * 1024 * 1024) + "}")
    assert response.status_code == 400
    assert 'aria-describedby="id_assertion-errors"' in html(response)


def test_a_non_image_upload(client_logged_in):
    upload = SimpleUploadedFile("badge.png", b"MZ\x90\x00 not an image", content_type="image/png")
    response = client_logged_in.post(PATH, {"image": upload})
    assert response.status_code == 400 and "must be a PNG or an SVG" in html(response)


def test_a_broken_png(client_logged_in):
    broken = png_bytes()[:60]
    upload = SimpleUploadedFile("badge.png", broken, content_type="image/png")
    response = client_logged_in.post(PATH, {"image": upload})
    assert response.status_code == 400 and "cannot be imported" in html(response)


def test_a_png_that_carries_no_badge(client_logged_in):
    upload = SimpleUploadedFile("badge.png", png_bytes(), content_type="image/png")
    response = client_logged_in.post(PATH, {"image": upload})
    assert response.status_code == 400 and "cannot be imported" in html(response)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "not a url", "http://"]
)
def test_a_url_that_is_not_http(client_logged_in, url):
    response = check(client_logged_in, url=url)
    assert response.status_code == 400
    assert "must be an http or https URL" in html(response)
    assert 'href="javascript:' not in html(response)
    assert 'aria-describedby="id_url-help id_url-errors"' in html(response)


def test_a_private_address(client_logged_in, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = ""
    response = check(client_logged_in, url="http://10.0.0.1/assertion")
    assert response.status_code == 400
    assert "could not be fetched" in html(response)


@pytest.mark.parametrize("pasted", ["not json", "[1, 2]", '{"type": "Assertion"}', "a.b.c"])
def test_pastes_that_are_not_badges(client_logged_in, pasted):
    response = check(client_logged_in, assertion=pasted)
    assert response.status_code == 400 and "cannot be imported" in html(response)


# Rate limits: each check and each save fetches, so both count (LAURELS_IMPORT_RATE_*)


@pytest.fixture
def two_a_day(settings):
    """Two fetching steps a person (three a client address) a day: a test never straddles
    a window."""
    settings.LAURELS_IMPORT_RATE_PER_USER = 2
    settings.LAURELS_IMPORT_RATE_PER_IP = 3
    settings.LAURELS_IMPORT_RATE_WINDOW = 86400


def test_checks_beyond_the_limit_are_refused_with_429_and_no_fetch(
    client_logged_in, issuer, two_a_day
):
    url = f"{issuer.url}/assertion"
    for _ in range(2):
        assert check(client_logged_in, url=url).status_code == 200
    fetched = issuer.connections
    refused = check(client_logged_in, url=url)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    page = html(refused)
    assert "Too many badges checked or imported in a row. Try again in" in page
    assert 'role="alert"' in page and f'value="{url}"' in page  # what was given is kept
    assert "Verified:" not in page and "cannot be imported" not in page
    assert issuer.connections == fetched  # refused before anything was fetched
    assert not ImportedBadge.objects.exists()


def test_a_save_counts_too(client_logged_in, issuer, two_a_day):
    """A checked badge's form may be posted again and again: each save fetches, so each
    one counts, and one beyond the limit keeps nothing."""
    checked = check(client_logged_in, url=f"{issuer.url}/assertion")
    source = checked.context["source"]
    assert client_logged_in.post(PATH, {"source": source}).status_code == 302
    ImportedBadge.objects.all().delete()
    refused = client_logged_in.post(PATH, {"source": source})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many badges checked or imported in a row" in html(refused)
    assert not ImportedBadge.objects.exists()


def test_one_client_address_is_limited_whoever_asks(client_logged_in, issuer, two_a_day):
    """Three a day from one address (two_a_day): a second account does not get more."""
    url = f"{issuer.url}/assertion"
    other = Client()
    other.force_login(UserFactory(email="bob@example.org"))
    for client in (client_logged_in, client_logged_in, other):
        assert client.post(PATH, {"url": url}, REMOTE_ADDR="192.0.2.7").status_code in (200, 400)
    assert other.post(PATH, {"url": url}, REMOTE_ADDR="192.0.2.7").status_code == 429
    elsewhere = Client()
    elsewhere.force_login(UserFactory(email="cy@example.org"))
    assert elsewhere.post(PATH, {"url": url}, REMOTE_ADDR="192.0.2.8").status_code == 400


def test_a_form_that_fetches_nothing_does_not_count(client_logged_in, two_a_day):
    for _ in range(3):
        assert check(client_logged_in).status_code == 400  # nothing given
    assert check(client_logged_in, url="javascript:alert(1)").status_code == 400
