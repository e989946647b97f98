"""The page that deletes one's account (`/account/delete/`, `web.account_delete_views`):
what it shows, the proof it asks for, the issuers that block it, CSRF, hostile input
(4xx, never 500), and the goodbye page."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client

from laurels.accounts.models import User
from laurels.backpack import services as backpack
from laurels.issuing import services as issuing
from laurels.issuing.models import IssuerStaff
from tests.factories import DEFAULT_PASSWORD, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/account/delete/"


def proof(user: User, **changes) -> dict:
    return {"current_password": DEFAULT_PASSWORD, "confirmation": user.email, **changes}


def test_anonymous_visitors_are_sent_to_log_in(client):
    for answer in (client.get(PAGE), client.post(PAGE, {"confirmation": "x"})):
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/login/?next=")


def test_the_page_says_what_goes_and_what_stays(client_logged_in, user):
    page = client_logged_in.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "What goes" in html and "What stays" in html
    assert 'for="id_current_password"' in html and 'for="id_confirmation"' in html
    assert 'aria-current="page">Delete account</a>' in html
    assert user.email in html
    home = client_logged_in.get("/account/").content.decode()
    assert "Danger zone" in home and 'href="/account/delete/"' in home


def test_deleting_logs_out_and_says_goodbye(client_logged_in, user):
    answer = client_logged_in.post(PAGE, proof(user))
    assert answer.status_code == 302 and answer["Location"] == "/account/deleted/"
    assert not User.objects.filter(pk=user.pk).exists()
    assert SESSION_KEY not in client_logged_in.session
    goodbye = client_logged_in.get("/account/deleted/")
    assert goodbye.status_code == 200
    assert "Your account was deleted" in goodbye.content.decode()
    assert client_logged_in.get("/account/").status_code == 302  # to log in


def test_a_wrong_password_is_a_400_with_the_error_on_its_field(client_logged_in, user):
    answer = client_logged_in.post(PAGE, proof(user, current_password="wrong"))
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "This is not your current password." in html
    assert 'aria-invalid="true"' in html and 'id="id_current_password-errors"' in html
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_an_administrator_is_told_to_ask_another_one(client_logged_in, user, flag):
    setattr(user, flag, True)
    user.save()
    page = client_logged_in.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ask another administrator" in html and "the admin log records who did" in html
    assert 'for="id_confirmation"' not in html
    answer = client_logged_in.post(PAGE, proof(user))
    assert answer.status_code == 403
    assert "Ask another administrator" in answer.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


def test_a_wrong_confirmation_is_a_400(client_logged_in, user):
    answer = client_logged_in.post(PAGE, proof(user, confirmation="grace@example.org"))
    assert answer.status_code == 400
    assert "Type your primary email address" in answer.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"current_password": "x" * 5000, "confirmation": "a"},
        {"current_password": DEFAULT_PASSWORD, "confirmation": "a" * 300},
        {"current_password": ["a", "b"], "confirmation": "\u202e@example.org"},
    ],
)
def test_hostile_input_is_refused_without_a_server_error(client_logged_in, user, body):
    answer = client_logged_in.post(PAGE, body)
    assert answer.status_code == 400
    assert User.objects.filter(pk=user.pk).exists()


def test_without_the_csrf_token_nothing_happens(csrf_client_logged_in, user):
    answer = csrf_client_logged_in.post(PAGE, proof(user))
    assert answer.status_code == 403
    assert User.objects.filter(pk=user.pk).exists()


def test_issuers_the_person_alone_owns_are_listed_and_block_the_form(client_logged_in, user):
    issuer = IssuerFactory(name="Ada's <Academy>", owner=user)
    page = client_logged_in.get(PAGE)
    html = page.content.decode()
    assert "First, hand these issuers over" in html
    assert f'href="http://127.0.0.1:8000/public/issuers/{issuer.entity_id}"' in html
    assert "Ada&#x27;s &lt;Academy&gt;" in html
    assert "Delete my account" not in html  # no form to fill in vain

    answer = client_logged_in.post(PAGE, proof(user))

    assert answer.status_code == 409
    assert "First, hand these issuers over" in answer.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


def test_a_co_owner_makes_the_way_free(client_logged_in, user):
    issuer = IssuerFactory(owner=user)
    IssuerStaff.objects.create(issuer=issuer, user=UserFactory(), role="owner")
    assert "Delete my account" in client_logged_in.get(PAGE).content.decode()
    assert client_logged_in.post(PAGE, proof(user)).status_code == 302


def test_an_account_without_a_password_confirms_with_its_address(user):
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    html = client.get(PAGE).content.decode()
    assert "id_current_password" not in html
    assert client.post(PAGE, {"confirmation": user.email}).status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()


def test_after_deletion_the_share_page_is_gone_and_the_award_still_verifies(client_logged_in, user):
    award = issuing.assertion_award(
        badge_class=BadgeClassFactory(),
        actor=None,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity=user.email)),
    )
    collection = backpack.collection_save(
        user=user, name="Proud", assertions=[award.entity_id], published=True
    )
    share = f"/share/collections/{collection.share_hash}"
    hosted = f"/public/assertions/{award.entity_id}"
    assert Client().get(share).status_code == 200

    assert client_logged_in.post(PAGE, proof(user)).status_code == 302

    assert Client().get(share).status_code == 404
    document = Client().get(hosted, HTTP_ACCEPT="application/ld+json")
    assert document.status_code == 200
    assert json.loads(document.content)["recipient"]["identity"] == award.recipient_identity


def test_another_persons_sessions_are_untouched(client_logged_in, user):
    other = UserFactory()
    theirs = Client()
    theirs.force_login(other)
    assert client_logged_in.post(PAGE, proof(user)).status_code == 302
    assert theirs.get("/account/").status_code == 200
    assert Session.objects.filter(pk=theirs.session.session_key).exists()
