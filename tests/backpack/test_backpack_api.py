"""The backpack API with awards made on this server, collections and share pages, and a
displayer app reading it through OAuth."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from laurels.issuing.models import Assertion
from tests.connect.oauth_helpers import bearer, exchange, obtain_code, register_app
from tests.factories import AssertionFactory, EmailAddressFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(user):
    """Three awards to the user's verified address, one revoked, one to an unverified one."""
    awards = [
        AssertionFactory(
            recipient_plaintext=user.email, issued_on=timezone.now() - timedelta(days=n)
        )
        for n in range(3)
    ]
    AssertionFactory(recipient_plaintext=user.email, revoked=True, revocation_reason="x")
    EmailAddressFactory(user=user, email="second@example.org", verified=False)
    AssertionFactory(recipient_plaintext="second@example.org")
    AssertionFactory(recipient_plaintext="stranger@example.org")
    return awards


def listed(client, query=""):
    response = client.get(f"/v2/backpack/assertions{query}")
    assert response.status_code == 200, response.content
    return response


def test_awards_to_verified_addresses_appear(client_logged_in, mine):
    result = listed(client_logged_in).json()["result"]
    assert [b["entityId"] for b in result] == [a.entity_id for a in mine]
    assert all(b["source"] == "local" for b in result)
    with_revoked = listed(client_logged_in, "?include_revoked=true").json()["result"]
    assert len(with_revoked) == 4


def test_verifying_an_address_brings_its_awards(client_logged_in, mine, user):
    user.email_addresses.filter(email="second@example.org").update(verified=True)
    assert len(listed(client_logged_in).json()["result"]) == 4


def test_expired_can_be_left_out(client_logged_in, mine):
    mine[0].expires = timezone.now() - timedelta(hours=1)
    mine[0].save()
    assert len(listed(client_logged_in, "?include_expired=false").json()["result"]) == 2


def test_pagination_across_pages(client_logged_in, user):
    for n in range(7):
        AssertionFactory(
            recipient_plaintext=user.email, issued_on=timezone.now() - timedelta(minutes=n % 3)
        )
    seen, response = [], listed(client_logged_in, "?num=3")
    while True:
        seen += [b["entityId"] for b in response.json()["result"]]
        if "Link" not in response:
            break
        response = client_logged_in.get(
            response["Link"].split(">")[0].lstrip("<").replace("http://testserver", "")
        )
    assert len(seen) == len(set(seen)) == 7


def test_accept_reject_and_remove(client_logged_in, mine):
    target = mine[0].entity_id
    accepted = client_logged_in.put(
        f"/v2/backpack/assertions/{target}",
        json.dumps({"acceptance": "Accepted"}),
        content_type="application/json",
    )
    assert accepted.json()["result"][0]["acceptance"] == "Accepted"
    # The issuer's change feed (and the kept list answers) see the earner's choice.
    assert Assertion.objects.get(entity_id=target).updated_at > mine[0].updated_at
    bad = client_logged_in.put(
        f"/v2/backpack/assertions/{target}",
        json.dumps({"acceptance": "Maybe"}),
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert client_logged_in.delete(f"/v2/backpack/assertions/{target}").status_code == 200
    assert Assertion.objects.get(entity_id=target).acceptance == "Rejected"  # kept, hidden
    assert target not in [b["entityId"] for b in listed(client_logged_in).json()["result"]]


def test_someone_elses_award_is_not_found(client_logged_in):
    other = AssertionFactory(recipient_plaintext="stranger@example.org")
    assert client_logged_in.get(f"/v2/backpack/assertions/{other.entity_id}").status_code == 404
    assert client_logged_in.delete(f"/v2/backpack/assertions/{other.entity_id}").status_code == 404


def test_collections_and_sharing(client_logged_in, mine):
    created = client_logged_in.post(
        "/v2/backpack/collections",
        json.dumps(
            {
                "name": "Sailing",
                "description": "My sailing badges",
                "assertions": [mine[0].entity_id, mine[1].entity_id],
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201
    collection = created.json()["result"][0]
    assert collection["assertions"] == [mine[0].entity_id, mine[1].entity_id]
    assert collection["shareUrl"] is None

    published = client_logged_in.put(
        f"/v2/backpack/collections/{collection['entityId']}",
        json.dumps({"published": True}),
        content_type="application/json",
    ).json()["result"][0]
    share_path = published["shareUrl"].replace("http://127.0.0.1:8000", "")
    page = Client().get(share_path)
    assert page.status_code == 200
    assert mine[0].badge_class.name in page.content.decode()
    as_json = Client().get(share_path, HTTP_ACCEPT="application/json").json()
    assert len(as_json["badges"]) == 2

    client_logged_in.put(
        f"/v2/backpack/collections/{collection['entityId']}",
        json.dumps({"published": False}),
        content_type="application/json",
    )
    assert Client().get(share_path).status_code == 404
    republished = client_logged_in.put(
        f"/v2/backpack/collections/{collection['entityId']}",
        json.dumps({"published": True}),
        content_type="application/json",
    ).json()["result"][0]
    assert republished["shareHash"] != published["shareHash"]  # the old link stays dead


def test_collections_refuse_foreign_badges_and_keep_nothing(client_logged_in):
    foreign = AssertionFactory(recipient_plaintext="stranger@example.org")
    response = client_logged_in.post(
        "/v2/backpack/collections",
        json.dumps({"name": "Stolen", "assertions": [foreign.entity_id]}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert client_logged_in.get("/v2/backpack/collections").json()["result"] == []
    nameless = client_logged_in.post(
        "/v2/backpack/collections", json.dumps({"name": " "}), content_type="application/json"
    )
    assert nameless.status_code == 400


def test_collection_of_another_user_is_not_found(client_logged_in):
    other = Client()
    other.force_login(UserFactory())
    made = other.post(
        "/v2/backpack/collections", json.dumps({"name": "Theirs"}), content_type="application/json"
    ).json()["result"][0]
    assert client_logged_in.get(f"/v2/backpack/collections/{made['entityId']}").status_code == 404
    assert (
        client_logged_in.delete(f"/v2/backpack/collections/{made['entityId']}").status_code == 404
    )


def test_list_query_count_is_constant(client_logged_in, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(n):
        for _ in range(n):
            AssertionFactory(recipient_plaintext=user.email)
        with CaptureQueriesContext(connection) as queries:
            listed(client_logged_in)
        return len(queries)

    assert count(2) == count(10)


class TestDisplayerApp:
    def token(self, user, scope):
        app = register_app(scopes="r:profile r:backpack", name="Badge Wall")
        browser = Client()
        browser.force_login(user)
        return exchange(Client(), app, obtain_code(browser, app, scope=scope)).json()[
            "access_token"
        ]

    def test_r_backpack_lists_the_badges(self, user, mine):
        token = self.token(user, "r:backpack")
        response = Client().get("/v2/backpack/assertions", headers=bearer(token))
        assert response.status_code == 200
        assert len(response.json()["result"]) == 3
        write = Client().post(
            "/v2/backpack/collections",
            json.dumps({"name": "x"}),
            content_type="application/json",
            headers=bearer(token),
        )
        assert write.status_code == 403

    def test_only_r_profile_is_403(self, user, mine):
        token = self.token(user, "r:profile")
        response = Client().get("/v2/backpack/assertions", headers=bearer(token))
        assert response.status_code == 403
        assert 'scope="r:backpack"' in response["WWW-Authenticate"]
