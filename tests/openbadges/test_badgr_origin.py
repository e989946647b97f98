"""Old Badgr URLs keep verifying: objects brought over from a Badgr server keep their
entity ids and the origin their ids lived under (`hosted_origin`), and a live Laurels
serves them there, to the official Open Badges validator too.

The live server listens on http://127.0.0.1:PORT (its LAURELS_BASE_URL); the "old Badgr
server" is http://localhost:PORT, the same server under another host, which only
LAURELS_BADGR_ORIGIN lets in (LAURELS_ALLOWED_HOSTS names 127.0.0.1 alone). The import
(`laurels import-badgr`) is stood in for by writing the rows as it leaves them: Badgr's
entity ids and the old origin, in one SQL transaction, which sends no signal and so
moves no version: what is kept must still never answer with another origin's ids.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from laurels.api.answer_cache import kept_answers
from laurels.config import origin_from_env
from laurels.core.public import validate_origin
from laurels.openbadges.baking import bake_png, unbake
from tests.api.test_answer_cache import kept
from tests.connect.oauth_helpers import register_app, token_for
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    IssuerFactory,
    png_data_uri,
)
from tests.openbadges.test_official_validator import award, errors, make_issuer, validate
from tests.servers import api_client_for, laurels_server

# Entity ids as Badgr made them (22 characters of URL-safe base64).
BADGR_ISSUER = "BadgrIssuer-kept-12345"
BADGR_BADGE = "BadgrBadge_kept-123456"
BADGR_AWARD = "BadgrAward-kept-123456"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def laurels(tmp_path_factory):
    home = tmp_path_factory.mktemp("badgr-origin") / "var"
    with laurels_server(
        home, LAURELS_ALLOWED_HOSTS="127.0.0.1", LAURELS_BADGR_ORIGIN="http://localhost"
    ) as server:
        server.api = api_client_for(server, "issuer@example.org")
        server.old = server.base_url.replace("127.0.0.1", "localhost")
        yield server
        server.api.close()


def import_from_badgr(server, made: dict, assertion: dict, suffix: str = "") -> dict:
    """Give an issuer, its badge class and an award Badgr's ids under the old origin, as
    the import writes them; their old URLs."""
    ids = {
        "issuers": (made["issuer"]["entityId"], (BADGR_ISSUER + suffix)[-22:]),
        "badges": (made["badge"]["entityId"], (BADGR_BADGE + suffix)[-22:]),
        "assertions": (assertion["entityId"], (BADGR_AWARD + suffix)[-22:]),
    }
    tables = {"issuers": "issuer", "badges": "badgeclass", "assertions": "assertion"}
    with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db, db:
        for kind, (ours, badgr) in ids.items():
            db.execute(
                f"UPDATE issuing_{tables[kind]} SET entity_id = ?, hosted_origin = ? "  # noqa: S608
                "WHERE entity_id = ?",
                (badgr, server.old, ours),
            )
    return {kind: f"{server.old}/public/{kind}/{badgr}" for kind, (_, badgr) in ids.items()}


def set_origin(server, table: str, entity_id: str, origin: str) -> None:
    with contextlib.closing(sqlite3.connect(server.home / "laurels.sqlite3")) as db, db:
        db.execute(
            f"UPDATE issuing_{table} SET hosted_origin = ? WHERE entity_id = ?",  # noqa: S608
            (origin, entity_id),
        )


@pytest.fixture(scope="module")
def imported(laurels):
    made = make_issuer(laurels)
    return import_from_badgr(laurels, made, award(laurels, made["badge"]))


@pytest.mark.server
def test_the_old_url_answers_with_the_old_ids(laurels, imported):
    own = imported["assertions"].replace(laurels.old, laurels.base_url)
    for url in (imported["assertions"], own, imported["assertions"] + ".json"):
        document = httpx.get(url, headers=JSON).json()
        assert document["id"] == imported["assertions"], url
        assert document["badge"] == imported["badges"]
        assert document["image"] == imported["assertions"] + "/image"
    badge = httpx.get(imported["badges"], headers=JSON).json()
    assert badge["id"] == imported["badges"] and badge["issuer"] == imported["issuers"]
    assert badge["image"] == imported["badges"] + "/image"
    assert badge["criteria"]["narrative"]
    issuer = httpx.get(imported["issuers"], headers=JSON).json()
    assert issuer["id"] == imported["issuers"]
    assert httpx.get(imported["badges"] + "/image").headers["Content-Type"] == "image/png"
    assert unbake(httpx.get(imported["assertions"] + "/image").content) == imported["assertions"]
    shown = laurels.api.get(f"/v2/assertions/{BADGR_AWARD}").json()["result"][0]
    assert shown["openBadgeId"] == imported["assertions"]
    assert shown["badgeclassOpenBadgeId"] == imported["badges"]


@pytest.mark.server
def test_the_old_url_passes_the_official_validator(laurels, imported):
    report = validate(imported["assertions"])
    assert report["report"]["valid"] is True, errors(report)
    assert report["report"]["errorCount"] == 0


@pytest.mark.server
def test_an_image_baked_by_badgr_passes_the_official_validator(laurels, imported, tmp_path):
    """Badgr baked the whole assertion JSON into the PNG, its ids under its own origin."""
    made_by_badgr = httpx.get(imported["assertions"], headers=JSON).json()
    badge_image = httpx.get(imported["badges"] + "/image").content
    baked = tmp_path / "baked-by-badgr.png"
    baked.write_bytes(bake_png(badge_image, json.dumps(made_by_badgr, indent=2)))
    report = validate(str(baked))
    assert report["report"]["valid"] is True, errors(report)
    assert report["graph"][0]["id"] == imported["assertions"]


@pytest.mark.server
def test_what_an_issuer_brought_over_makes_here_lives_where_its_id_does(laurels, imported):
    """A verifier accepts a hosted award only on its issuer id's host: new badge classes
    and awards of an issuer brought over live under its old origin too."""
    made = laurels.api.post(
        f"/v2/badgeclasses/{BADGR_BADGE}/assertions",
        json={"recipient": {"identity": "newcomer@example.org"}},
    ).json()["result"][0]
    assert made["openBadgeId"] == f"{laurels.old}/public/assertions/{made['entityId']}"
    report = validate(made["openBadgeId"])
    assert report["report"]["valid"] is True, errors(report)
    badge = laurels.api.post(
        f"/v2/issuers/{BADGR_ISSUER}/badgeclasses",
        json={"name": "New", "description": "Made after the move.", "image": png_data_uri()},
    ).json()["result"][0]
    assert badge["openBadgeId"] == f"{laurels.old}/public/badges/{badge['entityId']}"


@pytest.mark.server
def test_objects_made_here_keep_their_ids_on_any_host(laurels):
    made = make_issuer(laurels)
    assertion = award(laurels, made["badge"])
    on_old_host = assertion["openBadgeId"].replace(laurels.base_url, laurels.old)
    for url in (assertion["openBadgeId"], on_old_host, on_old_host):  # the last one, kept
        document = httpx.get(url, headers=JSON).json()
        assert document["id"] == assertion["openBadgeId"], url
        assert document["badge"] == made["badge"]["openBadgeId"]
    issuer = httpx.get(made["issuer"]["openBadgeId"], headers=JSON).json()
    assert "verification" not in issuer


@pytest.mark.server
def test_a_kept_document_never_answers_with_another_origins_ids(laurels):
    """The origin is part of the document, so of what it is kept under: changed by a
    write that moves no version, the next answer already shows it (here: by the fast
    path's host and by Django's, the badge class's origin an award links to)."""
    made = make_issuer(laurels)
    assertion = award(laurels, made["badge"])
    url = assertion["openBadgeId"]
    for _ in range(2):  # made, then kept
        assert httpx.get(url, headers=JSON).json()["badge"] == made["badge"]["openBadgeId"]
    set_origin(laurels, "badgeclass", made["badge"]["entityId"], laurels.old)
    moved = made["badge"]["openBadgeId"].replace(laurels.base_url, laurels.old)
    for asked in (url, url.replace(laurels.base_url, laurels.old), url + "?format=json"):
        assert httpx.get(asked, headers=JSON).json()["badge"] == moved, asked
    assert httpx.get(url + "?expand=badge", headers=JSON).json()["badge"]["id"] == moved
    set_origin(laurels, "assertion", assertion["entityId"], laurels.old)
    assert httpx.get(url, headers=JSON).json()["id"] == url.replace(laurels.base_url, laurels.old)


@pytest.mark.server
def test_a_revoked_award_is_revoked_under_both_origins(laurels):
    made = make_issuer(laurels)
    urls = import_from_badgr(laurels, made, award(laurels, made["badge"]), suffix="R")
    old = urls["assertions"]
    own = old.replace(laurels.old, laurels.base_url)
    for url in (old, own, old, own):  # each made and kept before the revocation
        assert httpx.get(url, headers=JSON).status_code == 200
    revoked = laurels.api.request(
        "DELETE",
        f"/v2/assertions/{old.rsplit('/', 1)[1]}",
        json={"revocation_reason": "Issued by mistake"},
    )
    assert revoked.status_code == 200, revoked.text
    for url in (old, own, old + ".json"):
        answer = httpx.get(url, headers=JSON)
        assert answer.status_code == 410, url
        assert answer.json() == {
            "@context": "https://w3id.org/openbadges/v2",
            "id": old,
            "revoked": True,
            "revocationReason": "Issued by mistake",
        }


@pytest.mark.server
def test_the_api_cannot_set_an_origin(laurels):
    made = laurels.api.post(
        "/v2/issuers",
        json={
            "name": "Sneaky",
            "url": "https://sneaky.example.org",
            "email": "badges@sneaky.example.org",
            "hosted_origin": "https://api.badgr.io",
            "hostedOrigin": "https://api.badgr.io",
        },
    )
    assert made.status_code in (201, 400), made.text
    if made.status_code == 201:
        assert made.json()["result"][0]["openBadgeId"].startswith(laurels.base_url)


@pytest.mark.server
def test_the_setting_lets_only_its_host_in(laurels, imported):
    """LAURELS_ALLOWED_HOSTS names 127.0.0.1 alone: LAURELS_BADGR_ORIGIN adds localhost."""
    assert httpx.get(imported["issuers"], headers=JSON).status_code == 200
    elsewhere = httpx.get(imported["issuers"], headers={**JSON, "Host": "elsewhere.example"})
    assert elsewhere.status_code == 400


@pytest.mark.server
@pytest.mark.parametrize("path", ["/accounts/login/", "/o/authorize?client_id=x", "/v2/issuers"])
def test_the_old_host_serves_only_the_public_paths(laurels, imported, path):
    """Log-in, OAuth and the API on the old host redirect to LAURELS_BASE_URL (one origin
    to sign in on); the public documents stay where the baked URLs say."""
    answer = httpx.get(laurels.old + path, headers=JSON)
    assert answer.status_code == 302
    assert answer.headers["Location"] == laurels.base_url + path
    assert httpx.get(imported["assertions"], headers=JSON).status_code == 200
    assert httpx.get(laurels.base_url + "/accounts/login/").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "https://api.badgr.io/public",
        "https://api.badgr.io?x=1",
        "https://api.badgr.io#top",
        "ftp://api.badgr.io",
        "https://user:pw@api.badgr.io",
        "api.badgr.io",
        "https://api.badgr.io:99999",
        "https://",
    ],
)
def test_an_origin_is_refused_unless_it_is_one(value, monkeypatch):
    with pytest.raises(ValidationError):
        validate_origin(value)
    monkeypatch.setenv("LAURELS_BADGR_ORIGIN", value)
    with pytest.raises(ImproperlyConfigured, match="LAURELS_BADGR_ORIGIN"):
        origin_from_env("LAURELS_BADGR_ORIGIN")


@pytest.mark.parametrize("value", ["https://api.badgr.io", "http://localhost:8000", ""])
def test_an_origin_is_taken_as_written(value, monkeypatch):
    validate_origin(value)
    monkeypatch.setenv("LAURELS_BADGR_ORIGIN", value + "/")
    assert origin_from_env("LAURELS_BADGR_ORIGIN") == value


@pytest.mark.django_db
def test_kept_lists_follow_an_origin_moved_by_a_save(user):
    """/v2 lists show the ids of each award's badge class and issuer: a kept one is not
    given again once their origin moved (`openbadges.receivers`)."""
    kept_answers.clear()
    issuer = IssuerFactory(owner=user)
    badge_class = BadgeClassFactory(issuer=issuer)
    AssertionFactory(badge_class=badge_class, recipient_plaintext=user.email)
    issuer_list = f"/v2/issuers/{issuer.entity_id}/assertions"
    issuer_token = token_for(user, register_app(scopes="r:profile rw:issuer"), "rw:issuer")
    backpack_token = token_for(user, register_app(scopes="r:profile r:backpack"), "r:backpack")
    kept(issuer_list, issuer_token)
    kept("/v2/backpack/assertions", backpack_token)
    badge_class.hosted_origin = issuer.hosted_origin = "https://api.badgr.io"
    badge_class.save()
    shown = kept(issuer_list, issuer_token)[2]["result"][0]
    assert shown["badgeclassOpenBadgeId"].startswith("https://api.badgr.io/public/badges/")
    issuer.save()
    shown = kept("/v2/backpack/assertions", backpack_token)[2]["result"][0]
    assert shown["issuerOpenBadgeId"] == f"https://api.badgr.io/public/issuers/{issuer.entity_id}"
    assert shown["badgeclassOpenBadgeId"].startswith("https://api.badgr.io/public/badges/")
