"""Badgr integrations' writes against a live server: the bodies they send (JSON, HTML
forms, multipart with image files), the nulls they send for what they leave out, the
objects they read and send back, and the answers they expect to deletions."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from laurels.issuing.models import Issuer, IssuerStaff
from tests.factories import IssuerFactory, UserFactory, png_bytes, png_data_uri
from tests.servers import RunningServer, api_client_for, issuer_with_badge, laurels_server


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-bodies") / "var"
    with laurels_server(home, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def api(live) -> Iterator[httpx.Client]:
    client = api_client_for(live, "issuer-admin@example.org")
    yield client
    client.close()


@pytest.fixture(scope="module")
def issuer_and_badge(api) -> tuple[dict, dict]:
    return issuer_with_badge(api, "Bodies Academy")


def result(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()["result"][0]


def image_bytes(api: httpx.Client, url: str) -> bytes:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return response.content


# --- bodies ----------------------------------------------------------------------------------


def test_a_badge_class_is_made_from_a_multipart_form_with_an_image_file(api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    picture = png_bytes((80, 80), "teal")
    badge = result(
        api.post(
            f"/v2/issuers/{issuer['entityId']}/badgeclasses",
            data={"name": "Uploaded", "description": "Sent as a file.", "tags": "files"},
            files={"image": ("badge.png", picture, "image/png")},
        ),
        201,
    )
    assert badge["tags"] == ["files"]
    assert badge["criteriaUrl"] is None and badge["criteriaNarrative"] is None
    assert image_bytes(api, badge["image"]) == picture


def test_a_badge_class_is_made_from_form_fields(api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    badge = result(
        api.post(
            f"/v2/issuers/{issuer['entityId']}/badgeclasses",
            data={
                "name": "Form made",
                "description": "Sent as an HTML form.",
                "image": png_data_uri(),
                "criteriaNarrative": "Fill in the form.",
                "tags": ["forms", "html"],
                "expires": '{"amount": 2, "duration": "years"}',
            },
        ),
        201,
    )
    assert badge["tags"] == ["forms", "html"]
    assert badge["expires"] == {"amount": 2, "duration": "years"}


def test_an_award_is_made_from_a_multipart_form(api, issuer_and_badge):
    _, badge = issuer_and_badge
    award = result(
        api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            files={
                "recipient.identity": (None, "form.earner@example.org"),
                "recipient.type": (None, "email"),
                "narrative": (None, "Multipart all the way."),
            },
        ),
        201,
    )
    assert award["recipient"]["plaintextIdentity"] == "form.earner@example.org"
    assert award["narrative"] == "Multipart all the way."


@pytest.mark.parametrize(
    "form",
    [
        {"recipient.identity": "a@example.org", "recipient": "flat"},
        {"recipient": "[1", "narrative": "x"},
        {"recipient": "[" * 40 + "]" * 40},
        {"recipient.identity": "nul\x00@example.org"},
        {".".join(["deep"] * 100): "x"},
        {"recipient.identity": "a@example.org", "evidence": '{"url": NaN}'},
    ],
)
def test_a_form_that_spells_no_valid_award_is_a_400(api, issuer_and_badge, form):
    _, badge = issuer_and_badge
    response = api.post(f"/v2/badgeclasses/{badge['entityId']}/assertions", data=form)
    assert response.status_code == 400, response.text


def test_a_file_part_that_is_no_image_is_a_400(api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    response = api.post(
        f"/v2/issuers/{issuer['entityId']}/badgeclasses",
        data={"name": "Broken", "description": "Not an image."},
        files={"image": ("badge.png", b"\x89PNG\r\n\x1a\n not really", "image/png")},
    )
    assert response.status_code == 400, response.text
    assert "image" in response.json()["fieldErrors"]


# --- nulls and extensions --------------------------------------------------------------------


def test_a_badge_class_takes_null_for_what_it_leaves_out(api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    badge = result(
        api.post(
            f"/v2/issuers/{issuer['entityId']}/badgeclasses",
            json={
                "name": "Nulls",
                "description": "Everything optional is null.",
                "image": png_data_uri(),
                "criteriaUrl": None,
                "criteriaNarrative": "Send nulls.",
                "alignments": None,
                "tags": None,
                "expires": {"amount": None, "duration": None},
                "extensions": None,
            },
        ),
        201,
    )
    assert badge["expires"] is None
    assert badge["alignments"] == [] and badge["tags"] == []


def test_an_award_takes_null_narrative_and_keeps_its_extensions(api, issuer_and_badge):
    _, badge = issuer_and_badge
    extensions = {
        "extensions:recipientProfile": {
            "@context": "https://openbadgespec.org/extensions/recipientProfile/context.json",
            "type": ["Extension", "extensions:RecipientProfile"],
            "name": "Ada Lovelace",
        }
    }
    award = result(
        api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={
                "recipient": {"identity": "ada@example.org", "type": "email"},
                "narrative": None,
                "evidence": None,
                "expires": None,
                "extensions": extensions,
            },
        ),
        201,
    )
    assert award["narrative"] is None and award["evidence"] == []
    assert award["extensions"] == extensions
    assert result(api.get(f"/v2/assertions/{award['entityId']}"))["extensions"] == extensions


# --- read, then send back --------------------------------------------------------------------


def test_an_issuer_read_and_sent_back_keeps_its_image(api):
    picture = png_bytes((48, 48), "navy")
    made = result(
        api.post(
            "/v2/issuers",
            json={
                "name": "Round Trip",
                "url": "https://round-trip.example.org",
                "email": "badges@round-trip.example.org",
                "image": "data:image/png;base64," + base64.b64encode(picture).decode(),
            },
        ),
        201,
    )
    read = result(api.get(f"/v2/issuers/{made['entityId']}"))
    read["description"] = "Changed after reading."
    sent_back = result(api.put(f"/v2/issuers/{made['entityId']}", json=read))
    assert sent_back["description"] == "Changed after reading."
    assert image_bytes(api, sent_back["image"]) == picture


def test_a_badge_class_read_and_sent_back_keeps_its_image(api, issuer_and_badge):
    _, badge = issuer_and_badge
    before = image_bytes(api, badge["image"])
    read = result(api.get(f"/v2/badgeclasses/{badge['entityId']}"))
    read["name"] = "Badge, renamed"
    sent_back = result(api.put(f"/v2/badgeclasses/{badge['entityId']}", json=read))
    assert sent_back["name"] == "Badge, renamed"
    assert image_bytes(api, sent_back["image"]) == before


# --- recipients ------------------------------------------------------------------------------


def test_recipients_are_hashed_by_default_only_when_they_are_email(api, issuer_and_badge):
    _, badge = issuer_and_badge
    recipients = [
        ("url", "https://ada.example.org/", False),
        ("telephone", "+15555550100", False),
        ("id", "did:example:ada", False),
        ("email", "plain.default@example.org", True),
    ]
    for kind, identity, hashed in recipients:
        award = result(
            api.post(
                f"/v2/badgeclasses/{badge['entityId']}/assertions",
                json={"recipient": {"identity": identity, "type": kind}},
            ),
            201,
        )
        assert award["recipient"]["hashed"] is hashed, kind
        assert (award["recipient"]["identity"] == identity) is not hashed, kind


# --- Badgr's badge class path, and criteria ---------------------------------------------------


def test_a_badge_class_is_made_at_badgrs_path_without_criteria(api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    badge = result(
        api.post(
            "/v2/badgeclasses",
            json={
                "issuer": issuer["entityId"],
                "name": "At Badgr's path",
                "description": "Made with the issuer in the body.",
                "image": png_data_uri(),
            },
        ),
        201,
    )
    assert badge["issuer"] == issuer["entityId"]
    document = httpx.get(badge["openBadgeId"], headers={"Accept": "application/ld+json"}).json()
    assert document["criteria"]["id"] == badge["openBadgeId"] + "/criteria"
    page = httpx.get(document["criteria"]["id"], headers={"Accept": "text/html"})
    assert page.status_code == 200 and "At Badgr&#x27;s path" in page.text


def test_badgrs_badge_class_path_checks_the_issuer(live, api, issuer_and_badge):
    issuer, _ = issuer_and_badge
    stranger = api_client_for(live, "stranger@example.org")
    response = stranger.post(
        "/v2/badgeclasses",
        json={
            "issuer": issuer["entityId"],
            "name": "Not mine",
            "description": "x",
            "image": png_data_uri(),
        },
    )
    assert response.status_code in (403, 404), response.text
    stranger.close()


# --- deletion --------------------------------------------------------------------------------


def award(api: httpx.Client, badge: dict, email: str) -> dict:
    return result(
        api.post(
            f"/v2/badgeclasses/{badge['entityId']}/assertions",
            json={"recipient": {"identity": email}},
        ),
        201,
    )


def test_delete_answers_204_once_every_award_is_revoked(api):
    issuer, badge = issuer_with_badge(api, "Deleting Guild")
    live_award = award(api, badge, "keeps@example.org")
    refused = api.delete(f"/v2/badgeclasses/{badge['entityId']}")
    assert refused.status_code == 409, refused.text
    assert api.delete(f"/v2/issuers/{issuer['entityId']}").status_code == 409
    revoked = api.delete(
        f"/v2/assertions/{live_award['entityId']}", params={"revocation_reason": "Mistake"}
    )
    assert revoked.status_code == 200, revoked.text

    deleted = api.delete(f"/v2/badgeclasses/{badge['entityId']}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert api.get(f"/v2/badgeclasses/{badge['entityId']}").status_code == 404
    assert api.get(f"/v2/assertions/{live_award['entityId']}").status_code == 404
    deleted = api.delete(f"/v2/issuers/{issuer['entityId']}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert api.get(f"/v2/issuers/{issuer['entityId']}").status_code == 404


def test_an_issuer_whose_awards_are_revoked_is_deleted_with_them(api):
    issuer, badge = issuer_with_badge(api, "Short Lived")
    made = award(api, badge, "gone@example.org")
    api.request(
        "DELETE",
        f"/v2/assertions/{made['entityId']}",
        data={"revocation_reason": "Sent as a form."},
    ).raise_for_status()
    deleted = api.delete(f"/v2/issuers/{issuer['entityId']}")
    assert deleted.status_code == 204, deleted.text
    assert httpx.get(
        made["openBadgeId"], headers={"Accept": "application/ld+json"}
    ).status_code == (404)


# --- page sizes ------------------------------------------------------------------------------


def test_num_is_clamped_and_a_list_without_it_gives_up_to_500(api):
    _, badge = issuer_with_badge(api, "Many Awards")
    recipients = [{"recipient": {"identity": f"p{n}@example.org"}} for n in range(150)]
    issued = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/issue", json={"assertions": recipients}
    )
    assert issued.status_code == 201, issued.text
    path = f"/v2/badgeclasses/{badge['entityId']}/assertions"

    everything = api.get(path)
    assert len(everything.json()["result"]) == 150 and "Link" not in everything.headers
    one = api.get(path, params={"num": 0})
    assert len(one.json()["result"]) == 1 and 'rel="next"' in one.headers["Link"]
    most = api.get(path, params={"num": 100_000})
    assert most.status_code == 200 and len(most.json()["result"]) == 150


# --- forms and cookies -----------------------------------------------------------------------


def test_a_form_posted_with_a_session_cookie_needs_the_csrf_token(csrf_client_logged_in):
    """Forms are what a hostile page can post across sites: taking them must not let a
    logged-in browser's cookie write without Django's CSRF token."""
    response = csrf_client_logged_in.post(
        "/v2/issuers",
        {"name": "Forged", "url": "https://forged.example.org", "email": "f@example.org"},
    )
    assert response.status_code == 403
    assert not Issuer.objects.exists()

    token = "a" * 32  # the page's own token: the cookie and the header agree
    csrf_client_logged_in.cookies[settings.CSRF_COOKIE_NAME] = token
    response = csrf_client_logged_in.post(
        "/v2/issuers",
        {"name": "Own page", "url": "https://own.example.org", "email": "o@example.org"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content


def test_an_editor_may_send_back_the_staff_list_it_read(client_logged_in, user):
    """Read-then-PUT by an editor: the staff list comes back unchanged, which is no
    change to the staff (that would take an owner)."""
    issuer = IssuerFactory(owner=UserFactory(email="owner@example.org"))
    IssuerStaff.objects.create(issuer=issuer, user=user, role="editor")
    read = client_logged_in.get(f"/v2/issuers/{issuer.entity_id}").json()["result"][0]
    read["name"] = "Renamed by an editor"
    response = client_logged_in.put(
        f"/v2/issuers/{issuer.entity_id}", read, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["result"][0]["name"] == "Renamed by an editor"

    read["staff"] = [{**read["staff"][0], "role": "staff"}, *read["staff"][1:]]
    changed = client_logged_in.put(
        f"/v2/issuers/{issuer.entity_id}", read, content_type="application/json"
    )
    assert changed.status_code == 403
