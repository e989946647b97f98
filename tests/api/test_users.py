import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from laurels.accounts.models import EmailAddress
from tests.factories import EmailAddressFactory, UserFactory

pytestmark = pytest.mark.django_db


def success_result(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == {"success": True, "description": "ok"}
    assert body["validationErrors"] == [] and body["fieldErrors"] == {}
    assert len(body["result"]) == 1
    return body["result"][0]


@pytest.mark.parametrize("path", ["/v2/users/self", "/v2/user/profile"])
def test_profile_shows_names_and_addresses(client_logged_in, user, path):
    EmailAddressFactory(user=user, email="ada@work.example", verified=False)
    result = success_result(client_logged_in.get(path))
    assert result["entityType"] == "BadgeUser"
    assert result["entityId"] == user.entity_id and len(result["entityId"]) == 22
    assert result["firstName"] == "Ada"
    assert result["lastName"] == "Lovelace"
    assert result["emails"] == [
        {"email": "ada@example.org", "verified": True, "primary": True},
        {"email": "ada@work.example", "verified": False, "primary": False},
    ]
    assert result["recipient"] == {"identity": "ada@example.org", "type": "email"}
    assert result["hasPasswordSet"] is True


def test_profile_shows_only_the_callers_own_data(client_logged_in):
    UserFactory(email="someone@example.org")
    result = success_result(client_logged_in.get("/v2/users/self"))
    assert [e["email"] for e in result["emails"]] == ["ada@example.org"]


def test_profile_query_count_is_constant(client_logged_in, user):
    for n in range(5):
        EmailAddressFactory(user=user, email=f"extra{n}@example.org")
    with CaptureQueriesContext(connection) as queries:
        client_logged_in.get("/v2/users/self")
    # 1 session, 2 the session's user, 3 the user again with 4 its addresses (prefetch).
    assert len(queries) == 4, [q["sql"] for q in queries]


def test_put_changes_both_names(client_logged_in, user):
    result = success_result(
        client_logged_in.put(
            "/v2/users/self",
            {"firstName": " Grace ", "lastName": "Hopper"},
            content_type="application/json",
        )
    )
    assert (result["firstName"], result["lastName"]) == ("Grace", "Hopper")
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")


def test_put_with_one_name_keeps_the_other(client_logged_in, user):
    result = success_result(
        client_logged_in.put(
            "/v2/users/self", {"lastName": "Byron"}, content_type="application/json"
        )
    )
    assert (result["firstName"], result["lastName"]) == ("Ada", "Byron")


def test_put_ignores_read_only_fields_sent_back(client_logged_in, user):
    original = success_result(client_logged_in.get("/v2/users/self"))
    sent = {**original, "firstName": "Augusta", "emails": [{"email": "evil@example.org"}]}
    result = success_result(
        client_logged_in.put("/v2/users/self", sent, content_type="application/json")
    )
    assert result["firstName"] == "Augusta"
    assert not EmailAddress.objects.filter(email="evil@example.org").exists()
    assert result["entityId"] == original["entityId"]


def test_put_requires_authentication(client):
    response = client.put("/v2/users/self", {"firstName": "X"}, content_type="application/json")
    assert response.status_code == 401
