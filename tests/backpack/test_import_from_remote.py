"""Importing badges awarded by a second, real Laurels running on another loopback port:
by URL, by JSON, by JWS, by baked PNG and baked SVG; refusals store nothing."""

import base64
import json
import subprocess

import httpx
import pytest
from django.test import Client

from laurels.backpack.models import ImportedBadge
from tests.factories import EmailAddressFactory, UserFactory
from tests.servers import (
    LAURELS,
    api_client_for,
    issuer_with_badge,
    laurels_server,
    server_env,
)

pytestmark = [pytest.mark.server, pytest.mark.django_db]
SVG = (
    'data:image/svg+xml;utf8,<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    '<rect width="64" height="64" fill="teal"/></svg>'
)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """Another Laurels: an issuer there with a PNG badge and an SVG badge."""
    with laurels_server(tmp_path_factory.mktemp("remote") / "var") as server:
        env = server_env(server.home, LAURELS_BASE_URL=server.base_url)
        api = api_client_for(server, "registrar@remote.example.org")
        server.api, server.env = api, env
        _, server.png_badge = issuer_with_badge(api, "Remote University", badge_name="Remote Badge")
        _, server.svg_badge = issuer_with_badge(
            api, "Remote Arts", badge_name="Remote Badge", image=SVG
        )
        yield server
        api.close()


@pytest.fixture
def me(settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"  # the remote server is on loopback
    user = UserFactory(email="learner@example.org")
    client = Client()
    client.force_login(user)
    return user, client


def award(remote, badge, identity="learner@example.org", **extra):
    answer = remote.api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": identity}, **extra},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["result"][0]


def do_import(client, **body):
    return client.post("/v2/backpack/import", json.dumps(body), content_type="application/json")


def data_uri(content: bytes, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(content).decode()


def test_import_by_url_then_listed_and_not_duplicated(remote, me):
    user, client = me
    awarded = award(remote, remote.png_badge, narrative="Top of the class")
    first = do_import(client, url=awarded["openBadgeId"])
    assert first.status_code == 201, first.content
    badge = first.json()["result"][0]
    assert badge["source"] == "imported"
    assert badge["openBadgeId"] == awarded["openBadgeId"]
    expanded = client.get(
        f"/v2/backpack/assertions/{badge['entityId']}?expand=badgeclass&expand=issuer"
    ).json()["result"][0]
    assert expanded["badgeclass"]["name"] == "Remote Badge"
    assert expanded["badgeclass"]["issuer"]["name"] == "Remote University"
    again = do_import(client, url=awarded["openBadgeId"])
    assert again.status_code == 200
    assert ImportedBadge.objects.filter(user=user).count() == 1
    listed = client.get("/v2/backpack/assertions").json()["result"]
    assert [b["entityId"] for b in listed] == [badge["entityId"]]
    image = client.get(badge["image"].replace("http://127.0.0.1:8000", ""))
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_import_by_json(remote, me):
    _, client = me
    awarded = award(remote, remote.png_badge)
    document = httpx.get(awarded["openBadgeId"], headers={"Accept": "application/ld+json"}).json()
    response = do_import(client, assertion=document)
    assert response.status_code == 201, response.content


def test_import_by_baked_png(remote, me):
    _, client = me
    awarded = award(remote, remote.png_badge)
    baked = httpx.get(awarded["image"]).content
    response = do_import(client, image=data_uri(baked, "image/png"))
    assert response.status_code == 201, response.content
    assert response.json()["result"][0]["openBadgeId"] == awarded["openBadgeId"]


def test_import_by_baked_svg(remote, me):
    _, client = me
    awarded = award(remote, remote.svg_badge)
    baked = httpx.get(awarded["image"]).content
    assert b"openbadges:assertion" in baked
    response = do_import(client, image=data_uri(baked, "image/svg+xml"))
    assert response.status_code == 201, response.content


def test_import_a_signed_badge_by_jws(remote, me, tmp_path):
    _, client = me
    issuer, badge = issuer_with_badge(remote.api, "Signing College", badge_name="Signed Badge")
    subprocess.run(
        [str(LAURELS), "signing", "enable", issuer["entityId"]],
        env=remote.env,
        check=True,
        capture_output=True,
    )
    awarded = award(remote, badge)
    from laurels.openbadges.baking import unbake

    token = unbake(httpx.get(awarded["image"]).content)
    response = do_import(client, assertion=token)
    assert response.status_code == 201, response.content
    assert ImportedBadge.objects.get(source_id=awarded["openBadgeId"]).signed_jws == token


def test_a_revoked_remote_badge_is_refused(remote, me):
    user, client = me
    awarded = award(remote, remote.png_badge)
    remote.api.request(
        "DELETE", f"/v2/assertions/{awarded['entityId']}", json={"revocation_reason": "Plagiarism"}
    )
    response = do_import(client, url=awarded["openBadgeId"])
    assert response.status_code == 400
    assert "revoked" in response.json()["status"]["description"]
    assert "Plagiarism" in response.json()["status"]["description"]
    assert not ImportedBadge.objects.filter(user=user).exists()


def test_a_badge_for_someone_else_is_refused(remote, me):
    user, client = me
    awarded = award(remote, remote.png_badge, identity="somebody.else@example.org")
    response = do_import(client, url=awarded["openBadgeId"])
    assert response.status_code == 400
    assert "awarded to someone else" in response.json()["status"]["description"]
    assert not ImportedBadge.objects.filter(user=user).exists()


def test_an_unverified_address_does_not_count(remote, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    user = UserFactory(email="proven@example.org")
    EmailAddressFactory(user=user, email="pending@example.org", verified=False)
    client = Client()
    client.force_login(user)
    awarded = award(remote, remote.png_badge, identity="pending@example.org")
    assert do_import(client, url=awarded["openBadgeId"]).status_code == 400


def test_without_the_allow_setting_loopback_sources_are_refused(remote, me, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = ""
    _, client = me
    awarded = award(remote, remote.png_badge)
    response = do_import(client, url=awarded["openBadgeId"])
    assert response.status_code == 400
    assert "does not fetch from" in response.json()["status"]["description"]
    assert not ImportedBadge.objects.exists()


def test_reverify_marks_a_badge_revoked_since(remote, me):
    user, client = me
    awarded = award(remote, remote.png_badge)
    assert do_import(client, url=awarded["openBadgeId"]).status_code == 201
    remote.api.request(
        "DELETE", f"/v2/assertions/{awarded['entityId']}", json={"revocation_reason": "Withdrawn"}
    )
    from laurels import cli

    assert cli.main(["backpack", "reverify"]) == 0
    badge = ImportedBadge.objects.get(user=user)
    assert badge.status == "revoked"
    listed = client.get("/v2/backpack/assertions").json()["result"]
    assert listed == []
    with_revoked = client.get("/v2/backpack/assertions?include_revoked=true").json()["result"]
    assert with_revoked[0]["revoked"] is True
