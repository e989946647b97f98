"""The account settings pages (`web.account_views`): name, email addresses, password, the
download of one's data; each view's permissions, CSRF, and hostile input (4xx, never 500)."""

import io
import json
import re
import zipfile

import pytest
from django.test import Client
from django.utils import timezone

from laurels.accounts.models import EmailAddress
from laurels.backpack import services as backpack_services
from laurels.backpack.models import ImportedBadge
from laurels.web import export
from tests.connect.oauth_helpers import bearer, register_app, token_for
from tests.factories import DEFAULT_PASSWORD, AssertionFactory, EmailAddressFactory, UserFactory
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db

PAGES = ["/account/", "/account/profile/", "/account/emails/", "/account/export/"]
POSTED = ["/account/profile/", "/account/emails/", "/account/export/"]


def addresses_of(user) -> list[tuple[str, bool, bool]]:
    return list(user.email_addresses.order_by("email").values_list("email", "verified", "primary"))


def verification_link(to: str) -> str:
    """The path of the last verification link mailed to `to`."""
    [*_, message] = [m for m in delivered() if m.to == [to]]
    return re.search(r"https?://[^/\s]+(/accounts/verify/\S+)", message.body).group(1)


# --- every page ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", POSTED)
def test_an_anonymous_post_changes_nothing(client, user, path):
    response = client.post(path, {"first_name": "Eve", "email": "eve@example.org"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    user.refresh_from_db()
    assert user.first_name == "Ada" and user.email_addresses.count() == 1


@pytest.mark.parametrize(
    "path",
    [*PAGES, "/accounts/password/change/", "/account/apps/", "/account/tokens/"],
)
def test_each_page_has_the_settings_navigation_and_a_strict_policy(client_logged_in, path):
    response = client_logged_in.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'aria-label="Account settings"' in page
    assert f'href="{path}" aria-current="page"' in page
    assert "web/account.css" in page
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "<script>" not in page and "style=" not in page


@pytest.mark.parametrize("path", POSTED)
def test_a_post_without_the_csrf_token_is_refused(csrf_client_logged_in, user, path):
    response = csrf_client_logged_in.post(path, {"first_name": "Eve", "email": "e@example.org"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.first_name == "Ada" and user.email_addresses.count() == 1


@pytest.mark.parametrize("path", PAGES)
def test_other_methods_are_refused(client_logged_in, path):
    assert client_logged_in.put(path).status_code == 405


# --- name ----------------------------------------------------------------------------------


def test_the_name_is_changed(client_logged_in, user):
    response = client_logged_in.post(
        "/account/profile/", {"first_name": "  Augusta ", "last_name": "King"}
    )
    assert response.status_code == 302 and response["Location"] == "/account/profile/"
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Augusta", "King")
    assert 'value="Augusta"' in client_logged_in.get("/account/profile/").content.decode()


def test_a_name_too_long_is_a_400_tied_to_its_field(client_logged_in, user):
    response = client_logged_in.post("/account/profile/", {"first_name": "A" * 151})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-describedby="id_first_name-errors"' in page
    assert 'id="id_first_name-errors"' in page and 'aria-invalid="true"' in page
    user.refresh_from_db()
    assert user.first_name == "Ada"


# --- email addresses --------------------------------------------------------------------------


def test_an_added_address_is_unverified_until_its_mailed_link_and_then_brings_its_awards(
    client_logged_in, user
):
    award = AssertionFactory(recipient_plaintext="ada@work.example")
    backpack = "/v2/backpack/assertions"
    assert client_logged_in.get(backpack).json()["result"] == []

    response = client_logged_in.post("/account/emails/", {"email": " Ada@Work.Example "})
    assert response.status_code == 302
    assert addresses_of(user) == [
        ("ada@example.org", True, True),
        ("ada@work.example", False, False),
    ]
    page = client_logged_in.get("/account/emails/").content.decode()
    assert "ada@work.example" in page and "Waiting for its link" in page
    assert client_logged_in.get(backpack).json()["result"] == []

    link = verification_link("ada@work.example")
    assert Client().post(link, {"password": DEFAULT_PASSWORD}).status_code == 200
    assert addresses_of(user)[1] == ("ada@work.example", True, False)
    shown = client_logged_in.get(backpack).json()["result"]
    assert [badge["entityId"] for badge in shown] == [award.entity_id]


def test_an_address_another_account_holds_is_answered_alike_and_never_proven(
    client_logged_in, user
):
    UserFactory(email="grace@example.org")
    response = client_logged_in.post("/account/emails/", {"email": "grace@example.org"})
    assert response.status_code == 302  # the same answer as for a free address
    link = verification_link("grace@example.org")
    assert Client().post(link, {"password": DEFAULT_PASSWORD}).status_code == 400
    assert addresses_of(user)[1] == ("grace@example.org", False, False)
    assert EmailAddress.objects.get(email="grace@example.org", verified=True).user != user


@pytest.mark.parametrize(
    "email, problem",
    [
        ("not an address", "Enter a valid email address."),
        ("", "This field is required."),
        ("a" * 250 + "@example.org", "at most 254 characters"),
        ("ADA@example.org", "This address is on your account already."),
    ],
)
def test_a_bad_address_is_a_400_tied_to_its_field(client_logged_in, user, email, problem):
    response = client_logged_in.post("/account/emails/", {"email": email})
    assert response.status_code == 400
    page = response.content.decode()
    assert problem in page
    assert 'aria-describedby="id_email-help id_email-errors"' in page
    assert user.email_addresses.count() == 1


def test_the_account_holds_at_most_so_many_addresses(client_logged_in, user):
    for n in range(19):
        EmailAddressFactory(user=user, email=f"ada{n}@example.org", verified=False)
    response = client_logged_in.post("/account/emails/", {"email": "one.more@example.org"})
    assert response.status_code == 400
    assert "At most 20 addresses." in response.content.decode()


def test_a_verified_address_becomes_primary_and_the_account_follows(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@work.example", verified=True)
    response = client_logged_in.post(
        "/account/emails/", {"action": "primary", "email": "ada@work.example"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "ada@work.example"
    assert addresses_of(user) == [
        ("ada@example.org", True, False),
        ("ada@work.example", True, True),
    ]


def test_an_unverified_address_cannot_become_primary(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@work.example", verified=False)
    response = client_logged_in.post(
        "/account/emails/", {"action": "primary", "email": "ada@work.example"}
    )
    assert response.status_code == 400
    assert "The primary address must be verified" in response.content.decode()
    user.refresh_from_db()
    assert user.email == "ada@example.org"


def test_an_address_is_removed_but_never_the_primary_one(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@work.example", verified=True)
    refused = client_logged_in.post(
        "/account/emails/", {"action": "remove", "email": "ada@example.org"}
    )
    assert refused.status_code == 400
    assert "make another one primary first" in refused.content.decode()
    removed = client_logged_in.post(
        "/account/emails/", {"action": "remove", "email": "ada@work.example"}
    )
    assert removed.status_code == 302
    assert addresses_of(user) == [("ada@example.org", True, True)]


def test_a_new_link_goes_to_an_unverified_address_of_ones_own_only(client_logged_in, user):
    EmailAddressFactory(user=user, email="ada@work.example", verified=False)
    UserFactory(email="grace@example.org")
    sent = client_logged_in.post(
        "/account/emails/", {"action": "resend", "email": "ada@work.example"}
    )
    assert sent.status_code == 302
    assert verification_link("ada@work.example").startswith("/accounts/verify/")
    refused = client_logged_in.post(
        "/account/emails/", {"action": "resend", "email": "grace@example.org"}
    )
    assert refused.status_code == 400
    assert not [m for m in delivered() if m.to == ["grace@example.org"]]


@pytest.mark.parametrize("action", ["primary", "remove"])
def test_another_accounts_address_is_out_of_reach(client_logged_in, user, action):
    grace = UserFactory(email="grace@example.org")
    EmailAddressFactory(user=grace, email="grace@work.example", verified=True)
    response = client_logged_in.post(
        "/account/emails/", {"action": action, "email": "grace@work.example"}
    )
    assert response.status_code == 400
    assert "This is not one of your addresses." in response.content.decode()
    assert addresses_of(grace) == [
        ("grace@example.org", True, True),
        ("grace@work.example", True, False),
    ]
    assert addresses_of(user) == [("ada@example.org", True, True)]


@pytest.mark.parametrize(
    "form",
    [
        {"action": "delete-everything", "email": "ada@example.org"},
        {"action": "remove"},
        {"action": "remove", "email": "x" * 10_000},
        {"action": ["remove", "primary"], "email": "\x00"},
    ],
)
def test_hostile_address_changes_are_a_400(client_logged_in, user, form):
    assert client_logged_in.post("/account/emails/", form).status_code == 400
    assert addresses_of(user) == [("ada@example.org", True, True)]


# --- password ------------------------------------------------------------------------------


def test_a_password_change_ends_apps_tokens_and_other_sessions_but_keeps_this_one(
    client_logged_in, user
):
    app = register_app(scopes="r:profile")
    token = token_for(user, app, "r:profile")
    assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 200
    elsewhere = Client()
    elsewhere.force_login(user)

    response = client_logged_in.post(
        "/accounts/password/change/",
        {
            "current_password": DEFAULT_PASSWORD,
            "password1": "a brand new passphrase",
            "password2": "a brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert Client().get("/v2/users/self", headers=bearer(token)).status_code == 401
    assert elsewhere.get("/account/").status_code == 302
    assert client_logged_in.get("/account/").status_code == 200


# --- your data -----------------------------------------------------------------------------


def zip_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="laurels-data-')
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_the_export_holds_the_persons_data_and_nobody_elses(client_logged_in, user):
    award = AssertionFactory(recipient_plaintext="ada@example.org")
    AssertionFactory(recipient_plaintext="grace@example.org")
    imported = ImportedBadge.objects.create(
        user=user,
        source_id="https://elsewhere.example/assertions/1",
        assertion={"id": "https://elsewhere.example/assertions/1"},
        badge_class={"id": "https://elsewhere.example/badges/1", "name": "Sailing"},
        issuer={"id": "https://elsewhere.example/issuer", "name": "Harbour"},
        image="imported/one.png",
        recipient_identity="ada@example.org",
        issued_on=timezone.now(),
        verified_at=timezone.now(),
    )
    backpack_services.collection_save(
        user=user, name="Best of", assertions=[award.entity_id], published=False
    )
    other = UserFactory(email="grace@example.org")
    backpack_services.collection_save(user=other, name="Grace's")

    archive = zip_of(client_logged_in.post("/account/export/"))
    names = set(archive.namelist())
    assert names == {
        "profile.json",
        "backpack.json",
        f"images/{award.entity_id}.png",
        f"imported/{imported.entity_id}.json",
        "collections.json",
    }
    profile = json.loads(archive.read("profile.json"))
    assert profile["entityId"] == user.entity_id and profile["firstName"] == "Ada"
    backpack = json.loads(archive.read("backpack.json"))
    assert [b["entityId"] for b in backpack] == [award.entity_id, imported.entity_id]
    assert backpack[0]["badgeclass"]["name"] == award.badge_class.name
    image = archive.read(f"images/{award.entity_id}.png")
    assert image.startswith(b"\x89PNG") and b"openbadges" in image
    assert json.loads(archive.read(f"imported/{imported.entity_id}.json"))["badgeclass"] == {
        "id": "https://elsewhere.example/badges/1",
        "name": "Sailing",
    }
    collections = json.loads(archive.read("collections.json"))
    assert [(c["name"], c["assertions"]) for c in collections] == [("Best of", [award.entity_id])]
    assert b"grace@example.org" not in b"".join(archive.read(n) for n in names)


def test_an_empty_account_exports_its_profile(client_logged_in):
    archive = zip_of(client_logged_in.post("/account/export/"))
    assert json.loads(archive.read("backpack.json")) == []
    assert json.loads(archive.read("collections.json")) == []


def test_an_export_over_the_cap_is_refused_with_a_413(client_logged_in, user, monkeypatch):
    AssertionFactory(recipient_plaintext="ada@example.org")
    monkeypatch.setattr(export, "EXPORT_MAX_BYTES", 1000)
    response = client_logged_in.post("/account/export/")
    assert response.status_code == 413
    assert "too large to download" in response.content.decode()


def test_exports_are_limited_per_person(client_logged_in):
    """Each export reads every badge and bakes images: a few a person per hour."""
    for _ in range(export.EXPORT_LIMIT):
        assert client_logged_in.post("/account/export/").status_code == 200
    refused = client_logged_in.post("/account/export/")
    assert refused.status_code == 429
    assert "Try again in" in refused.content.decode()


def test_the_export_page_explains_and_a_get_builds_nothing(client_logged_in):
    response = client_logged_in.get("/account/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Download my data" in response.content.decode()
