"""The account pages, driven like a browser would (form posts, emailed links)."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from laurels.accounts.models import EmailAddress, User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db
STRONG = "a sturdy passphrase"


def link_in(message, path_fragment: str) -> str:
    """The path of the first link in the email that contains `path_fragment`."""
    url = re.search(rf"https?://\S*{path_fragment}\S*", message.body).group(0)
    return urlsplit(url).path


def signup(client, email="new@example.org", password=STRONG, **extra):
    data = {"email": email, "password1": password, "password2": password, **extra}
    return client.post("/accounts/signup/", data)


def login(client, email, password=DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_signup_verify_login_then_the_api_knows_the_user(django_capture_on_commit_callbacks):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = signup(client, first_name="Nova", last_name="Reyes")
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    assert len(delivered()) == 1

    # Not verified yet: log-in is refused with a way forward.
    refused = login(client, "new@example.org", STRONG)
    assert refused.status_code == 400
    assert "verify your email address" in refused.content.decode()

    link = link_in(delivered()[0], "/accounts/verify/")
    asked = client.get(link)
    assert asked.status_code == 200 and 'name="password"' in asked.content.decode()
    assert "is verified" not in asked.content.decode()
    wrong = client.post(link, {"password": "not the password"})
    assert wrong.status_code == 400
    verified = client.post(link, {"password": STRONG})
    assert verified.status_code == 200
    assert "is verified" in verified.content.decode()

    assert login(client, "new@example.org", STRONG).status_code == 302
    result = client.get("/v2/users/self").json()["result"][0]
    assert (result["firstName"], result["lastName"]) == ("Nova", "Reyes")
    assert result["emails"] == [
        {"email": "new@example.org", "verified": True, "primary": True, "caseVariants": []}
    ]


def test_signup_form_errors_are_shown_and_nothing_is_created():
    client = Client()
    response = signup(client, email="bad", password="short")
    assert response.status_code == 400
    assert not User.objects.exists()
    mismatch = client.post(
        "/accounts/signup/",
        {"email": "a@example.org", "password1": STRONG, "password2": STRONG + "x"},
    )
    assert "The two passwords differ" in mismatch.content.decode()


def test_signup_weak_password_reports_the_validator_message():
    response = signup(Client(), password="password1234")
    assert response.status_code == 400
    assert "too common" in response.content.decode()
    assert not User.objects.exists()


def test_signup_for_an_existing_account_looks_the_same(django_capture_on_commit_callbacks):
    UserFactory(email="ada@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = signup(Client(), email="ada@example.org")
    assert "Check your inbox" in response.content.decode()
    assert User.objects.count() == 1
    assert "already belongs to an account" in delivered()[0].body


def test_signup_can_be_closed(settings):
    settings.LAURELS_SIGNUP_ENABLED = False
    response = signup(Client())
    assert response.status_code == 403
    assert not User.objects.exists()


def test_a_bad_verification_link_says_so():
    response = Client().get("/accounts/verify/not-a-token/")
    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()


def test_resend_verification(django_capture_on_commit_callbacks):
    UserFactory(email="late@example.org", verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/verify/resend/", {"email": "late@example.org"})
    assert response.status_code == 302
    assert delivered()[0].to == ["late@example.org"]
    # A verified or unknown address gets the same answer and no email.
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/accounts/verify/resend/", {"email": "nobody@example.org"})
    assert len(delivered()) == 1


def test_login_with_any_of_the_users_addresses(user):
    EmailAddress.objects.create(user=user, email="ada@work.example", verified=True)
    client = Client()
    assert login(client, "ADA@work.example").status_code == 302
    assert client.get("/v2/users/self").status_code == 200


def test_wrong_password_is_refused(user):
    response = login(Client(), user.email, "wrong password")
    assert response.status_code == 400
    assert "do not match an account" in response.content.decode()


def test_login_is_rate_limited_per_account_and_client_address(user, settings):
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 3
    client = Client()
    for _ in range(3):
        assert login(client, user.email, "wrong password").status_code == 400
    limited = login(client, user.email)  # even the right password
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert "Too many attempts" in limited.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_needs_post(client_logged_in):
    assert client_logged_in.get("/accounts/logout/").status_code == 405
    assert client_logged_in.post("/accounts/logout/").status_code == 302
    assert client_logged_in.get("/v2/users/self").status_code == 401


def test_password_reset_by_email_link(user):
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "ADA@example.org"})
    assert response.status_code == 302
    assert len(delivered()) == 1
    reset_link = link_in(delivered()[0], "/accounts/password/reset/")
    assert delivered()[0].body.count("http://127.0.0.1:8000/accounts/password/reset/") == 1

    form_page = client.get(reset_link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new secret", "new_password2": "a brand new secret"},
    )
    assert done.status_code == 302
    assert login(Client(), user.email, "a brand new secret").status_code == 302
    assert login(Client(), user.email, DEFAULT_PASSWORD).status_code == 400


def test_password_reset_for_an_unknown_address_sends_nothing():
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert delivered() == []


def test_password_reset_ignores_unverified_addresses():
    UserFactory(email="unproven@example.org", verified=False)
    Client().post("/accounts/password/reset/", {"email": "unproven@example.org"})
    assert delivered() == []
