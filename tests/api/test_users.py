import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from laurels.accounts import services as accounts_services
from laurels.accounts.models import EmailAddress
from laurels.connect import services as connect_services
from tests.connect.oauth_helpers import bearer, register_app, token_for
from tests.factories import DEFAULT_PASSWORD, EmailAddressFactory, UserFactory
from tests.mailbox import delivered

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
        {"email": "ada@example.org", "verified": True, "primary": True, "caseVariants": []},
        {"email": "ada@work.example", "verified": False, "primary": False, "caseVariants": []},
    ]
    assert result["recipient"] == {"identity": "ada@example.org", "type": "email"}
    assert result["hasPasswordSet"] is True


def test_profile_has_badgrs_other_fields_as_true_for_laurels(client_logged_in, settings):
    settings.LAURELS_BASE_URL = "https://badges.example.org:8443"
    result = success_result(client_logged_in.get("/v2/users/self"))
    assert result["url"] == [] and result["telephone"] == []
    assert result["agreedTermsVersion"] == 0
    assert result["hasAgreedToLatestTermsVersion"] is True
    assert result["marketingOptIn"] is False
    assert result["badgrDomain"] == "badges.example.org:8443"


def test_profile_shows_only_the_callers_own_data(client_logged_in):
    UserFactory(email="someone@example.org")
    result = success_result(client_logged_in.get("/v2/users/self"))
    assert [e["email"] for e in result["emails"]] == ["ada@example.org"]


def test_profile_query_count_is_constant(client_logged_in, user):
    for n in range(5):
        EmailAddressFactory(user=user, email=f"extra{n}@example.org")
    with CaptureQueriesContext(connection) as queries:
        client_logged_in.get("/v2/users/self")
    # 1 session, 2 the session's user, 3 its addresses (a read: the user is not read again).
    assert len(queries) == 3, [q["sql"] for q in queries]


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


def test_put_of_the_profile_read_changes_only_what_was_edited(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@work.example", verified=False)
    original = success_result(client_logged_in.get("/v2/users/self"))
    sent = {**original, "firstName": "Augusta", "entityId": "someone-else", "url": ["x"]}
    result = success_result(
        client_logged_in.put("/v2/users/self", sent, content_type="application/json")
    )
    assert result == {**original, "firstName": "Augusta"}
    assert delivered() == []  # no address was added: no verification mail


def test_put_accepts_null_and_badgrs_settings_fields(client_logged_in, user):
    body = {
        "firstName": None,
        "lastName": None,
        "emails": None,
        "password": None,
        "marketingOptIn": True,
        "agreedTermsVersion": 3,
    }
    result = success_result(
        client_logged_in.put("/v2/users/self", body, content_type="application/json")
    )
    assert (result["firstName"], result["lastName"]) == ("Ada", "Lovelace")
    assert result["marketingOptIn"] is False  # accepted; Laurels sends no marketing mail
    assert len(result["emails"]) == 1


def test_put_requires_authentication(client):
    response = client.put("/v2/users/self", {"firstName": "X"}, content_type="application/json")
    assert response.status_code == 401


# --- Badgr's `emails` list: add, verify, make primary, remove --------------------------------


def put_emails(client, emails, **headers):
    return client.put(
        "/v2/users/self", {"emails": emails}, content_type="application/json", headers=headers
    )


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["fieldErrors"]


def verification_link(to: str) -> str:
    """The path of the last verification link mailed to `to`."""
    [*_, message] = [m for m in delivered() if m.to == [to]]
    return re.search(r"https?://[^/\s]+(/accounts/verify/\S+)", message.body).group(1)


def addresses_of(user) -> list[tuple[str, bool, bool]]:
    return list(user.email_addresses.order_by("email").values_list("email", "verified", "primary"))


def test_a_new_address_is_added_unverified_and_its_link_mailed(client_logged_in, user):
    result = success_result(
        put_emails(
            client_logged_in,
            [{"email": "ada@example.org", "primary": True}, {"email": " Ada@Work.Example "}],
        )
    )
    assert result["emails"] == [
        {"email": "ada@example.org", "verified": True, "primary": True, "caseVariants": []},
        {"email": "ada@work.example", "verified": False, "primary": False, "caseVariants": []},
    ]
    assert verification_link("ada@work.example").startswith("/accounts/verify/")
    user.refresh_from_db()
    assert user.email == "ada@example.org"


def test_the_link_asks_for_the_accounts_password_then_the_address_may_become_primary(
    client_logged_in, user
):
    put_emails(
        client_logged_in,
        [{"email": "ada@example.org", "primary": True}, {"email": "ada@new.example"}],
    )
    link = verification_link("ada@new.example")
    assert Client().post(link, {"password": "not hers"}).status_code == 400
    assert not EmailAddress.objects.get(email="ada@new.example").verified
    Client().post(link, {"password": DEFAULT_PASSWORD})
    assert EmailAddress.objects.get(email="ada@new.example").verified
    result = success_result(
        put_emails(client_logged_in, [{"email": "ada@new.example", "primary": True}])
    )
    assert [(e["email"], e["primary"]) for e in result["emails"]] == [("ada@new.example", True)]
    assert result["recipient"]["identity"] == "ada@new.example"
    user.refresh_from_db()
    assert user.email == "ada@new.example"
    assert addresses_of(user) == [("ada@new.example", True, True)]  # the old one is removed


def test_addresses_left_out_are_removed(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@old.example", verified=True)
    EmailAddressFactory(user=user, email="ada@pending.example", verified=False)
    success_result(put_emails(client_logged_in, [{"email": "ada@example.org", "primary": True}]))
    assert addresses_of(user) == [("ada@example.org", True, True)]


def test_the_primary_address_must_be_verified(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@pending.example", verified=False)
    response = put_emails(
        client_logged_in,
        [{"email": "ada@example.org"}, {"email": "ada@pending.example", "primary": True}],
    )
    assert "verified" in field_errors(response)["emails"][0]
    assert addresses_of(user) == [
        ("ada@example.org", True, True),
        ("ada@pending.example", False, False),
    ]


def test_removing_the_last_verified_address_is_refused_and_nothing_changes(client_logged_in, user):
    response = client_logged_in.put(
        "/v2/users/self",
        {"firstName": "Changed", "emails": [{"email": "ada@elsewhere.example", "primary": True}]},
        content_type="application/json",
    )
    assert "verified" in field_errors(response)["emails"][0]
    user.refresh_from_db()
    assert user.first_name == "Ada"  # all or nothing
    assert addresses_of(user) == [("ada@example.org", True, True)]
    assert delivered() == []


@pytest.mark.parametrize(
    "emails",
    [
        [],
        [{"email": "ada@example.org"}],  # no primary
        [
            {"email": "ada@example.org", "primary": True},
            {"email": "b@example.org", "primary": True},
        ],
        [
            {"email": "not an address", "primary": False},
            {"email": "ada@example.org", "primary": True},
        ],
        [
            {"email": "ada@example.org", "primary": True},
            *({"email": f"a{n}@example.org"} for n in range(20)),
        ],
    ],
)
def test_lists_badgr_refused_are_a_400_on_emails(client_logged_in, user, emails):
    assert "emails" in field_errors(put_emails(client_logged_in, emails))
    assert addresses_of(user) == [("ada@example.org", True, True)]


@pytest.mark.parametrize(
    "emails",
    [
        "ada@example.org",
        {"email": "ada@example.org"},
        [None],
        ["ada@example.org"],
        [{"email": 7, "primary": True}],
        [{"email": "ada@example.org", "primary": "perhaps"}],
        [{"primary": True}],
        [{"email": "a" * 300 + "@example.org", "primary": True}],
        [{"email": "ada@example.org", "primary": True}] * 101,
    ],
)
def test_hostile_lists_are_a_clear_400(client_logged_in, user, emails):
    response = put_emails(client_logged_in, emails)
    assert response.status_code == 400, response.content
    assert any(key.startswith("emails") for key in response.json()["fieldErrors"])


def test_an_address_another_account_verified_gets_the_same_answer_as_a_free_one(
    client_logged_in, user
):
    owner = UserFactory(email="grace@example.org")
    taken = put_emails(
        client_logged_in,
        [{"email": "ada@example.org", "primary": True}, {"email": "grace@example.org"}],
    )
    free = put_emails(
        client_logged_in,
        [
            {"email": "ada@example.org", "primary": True},
            {"email": "grace@example.org"},
            {"email": "free@example.org"},
        ],
    )
    assert taken.status_code == free.status_code == 200
    rows = {e["email"]: e for e in success_result(free)["emails"]}
    assert {k: v for k, v in rows["grace@example.org"].items() if k != "email"} == {
        k: v for k, v in rows["free@example.org"].items() if k != "email"
    }
    # Both got the same verification mail; Grace's link cannot give her address away.
    link = verification_link("grace@example.org")
    assert verification_link("free@example.org").startswith("/accounts/verify/")
    Client().post(link, {"password": DEFAULT_PASSWORD})
    assert addresses_of(owner) == [("grace@example.org", True, True)]
    assert not EmailAddress.objects.filter(
        user=user, email="grace@example.org", verified=True
    ).exists()


def test_adding_again_and_again_sends_mail_within_the_resend_limit(
    client_logged_in, user, settings
):
    settings.LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT = 2
    primary = {"email": "ada@example.org", "primary": True}
    for _ in range(4):
        success_result(put_emails(client_logged_in, [primary, {"email": "inbox@example.org"}]))
        success_result(put_emails(client_logged_in, [primary]))
    assert len([m for m in delivered() if m.to == ["inbox@example.org"]]) == 2


def test_accounts_adding_an_address_never_evict_its_pending_sign_up(settings):
    """Three accounts adding somebody's address again and again (beyond the mail limits)
    must not withdraw the sign-up waiting for it: its owner's link still proves it."""
    settings.LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT = 1
    accounts_services.user_signup(email="victim@example.org", password="the victim's own")
    attackers = [UserFactory(email=f"attacker{n}@example.org") for n in range(3)]
    for _ in range(2):
        for attacker in attackers:
            client = Client()
            client.force_login(attacker)
            primary = {"email": attacker.email, "primary": True}
            success_result(put_emails(client, [primary, {"email": "victim@example.org"}]))

    link = verification_link("victim@example.org")
    response = Client().post(link, {"password": "the victim's own"})

    assert response.status_code in (200, 302), response.content
    proven = EmailAddress.objects.get(email="victim@example.org", verified=True)
    assert proven.user.email_addresses.count() == 1  # the sign-up's account, not an attacker's
    assert not EmailAddress.objects.filter(email="victim@example.org", verified=False).exists()


# --- who may change the addresses ------------------------------------------------------------


def test_a_connected_app_may_rename_but_not_change_addresses(user):
    app = register_app(scopes="r:profile rw:profile")
    headers = bearer(token_for(user, app, "r:profile rw:profile"))
    client = Client()
    read = success_result(client.get("/v2/users/self", headers=headers))
    sent_back = client.put(
        "/v2/users/self",
        {**read, "lastName": "King"},
        content_type="application/json",
        headers=headers,
    )
    assert success_result(sent_back)["lastName"] == "King"  # the same list: no change
    changed = put_emails(
        client,
        [{"email": "ada@example.org", "primary": True}, {"email": "app@example.org"}],
        **headers,
    )
    assert changed.status_code == 403, changed.content
    assert "email addresses" in changed.json()["status"]["description"]
    assert addresses_of(user) == [("ada@example.org", True, True)]


def test_badgrs_password_log_in_may_change_addresses(user):
    connect_services.builtin_apps_ensure()
    tokens = (
        Client()
        .post("/o/token", {"username": "ada@example.org", "password": DEFAULT_PASSWORD})
        .json()
    )
    response = put_emails(
        Client(),
        [{"email": "ada@example.org", "primary": True}, {"email": "ada@script.example"}],
        **bearer(tokens["access_token"]),
    )
    assert success_result(response)["emails"][1]["email"] == "ada@script.example"


def test_changing_addresses_needs_rw_profile(user):
    app = register_app(scopes="r:profile rw:profile")
    headers = bearer(token_for(user, app, "r:profile"))
    response = put_emails(Client(), [{"email": "ada@example.org", "primary": True}], **headers)
    assert response.status_code == 403


def test_a_password_change_with_a_refused_address_list_changes_nothing(client_logged_in, user):
    response = client_logged_in.put(
        "/v2/users/self",
        {
            "currentPassword": DEFAULT_PASSWORD,
            "password": "a brand new passphrase",
            "emails": [{"email": "ada@example.org"}],  # no primary
        },
        content_type="application/json",
    )
    assert "emails" in field_errors(response)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert [m.subject for m in delivered()] == []  # no "password changed" mail either
