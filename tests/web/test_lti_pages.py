"""LTI launch points in the web app (issue 20): the developer portal's registration page
(`web.developer_views.developer_app_lti`, writing through `lti.services`) and the buttons
the pages place with `{% lti_launch_buttons %}`: shown to a person who connected the app,
gone when they revoke it or the tool is paused or removed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from laurels.connect import services as connect_services
from laurels.issuing.models import IssuerStaff
from laurels.lti import services as lti_services
from laurels.lti.models import ToolRegistration
from tests.connect.oauth_helpers import REDIRECT_URI
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db

TOOL = "https://tool.example.org"


@pytest.fixture
def app(user):
    return connect_services.application_create(
        name="Roster Tool", redirect_uris=[REDIRECT_URI], scopes="r:profile", owner=user
    ).application


def lti_path(app) -> str:
    return f"/developer/apps/{app.client_id}/lti/"


def tool_form(**changes) -> dict:
    data = {
        "login_url": f"{TOOL}/login",
        "launch_url": f"{TOOL}/launch",
        "jwks_url": f"{TOOL}/jwks",
        "public_key": "",
        "locations": ["badgeclass", "backpack"],
        "title": "",
        "icon_url": "",
        "custom": "course=sailing\nterm = 2026\n",
        "enabled": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def register(app, actor, **changes):
    fields = {
        "login_url": f"{TOOL}/login",
        "launch_url": f"{TOOL}/launch",
        "jwks_url": f"{TOOL}/jwks",
        "locations": ["badgeclass", "issuer", "backpack", "backpack.assertion", "profile"],
    }
    return lti_services.registration_save(application=app, actor=actor, **{**fields, **changes})


def copied_value(text: str, field_id: str) -> str | None:
    found = re.search(rf'id="{field_id}" type="text" readonly value="([^"]*)"', text)
    return found.group(1) if found else None


# --- the portal page ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_and_others_get_a_404(client, app):
    paths = [lti_path(app), lti_path(app) + "delete/", lti_path(app) + "lti11-secret/"]
    for path in paths:
        response = client.post(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    other = Client()
    other.force_login(UserFactory())
    for path in paths:
        assert other.get(path).status_code in (404, 405), path
        assert other.post(path, tool_form()).status_code == 404, path
    assert not ToolRegistration.objects.exists()


def test_the_app_page_links_to_its_lti_page(client_logged_in, app):
    text = client_logged_in.get(f"/developer/apps/{app.client_id}/").content.decode()
    assert f'href="{lti_path(app)}"' in text


def test_the_page_lists_the_locations_and_the_platform_details(client_logged_in, app, settings):
    page = client_logged_in.get(lti_path(app))
    assert page.status_code == 200
    text = page.content.decode()
    assert copied_value(text, "lti-issuer") == settings.LAURELS_BASE_URL
    assert copied_value(text, "lti-auth-url") == f"{settings.LAURELS_BASE_URL}/lti/authorize"
    assert copied_value(text, "lti-jwks-url") == f"{settings.LAURELS_BASE_URL}/lti/jwks"
    assert copied_value(text, "lti-client-id") is None  # issued when it is saved
    for value in ("issuer", "badgeclass", "assertion", "backpack", "backpack.assertion"):
        assert f'value="{value}"' in text
    assert "A badge class page" in text and "Shown to the issuer&#x27;s staff" in text
    assert "Register the tool" in text


def test_saving_the_form_registers_the_tool_and_shows_its_ids(client_logged_in, app, settings):
    response = client_logged_in.post(lti_path(app), tool_form())
    assert response.status_code == 302 and response["Location"] == lti_path(app)
    registration = ToolRegistration.objects.get(application=app)
    assert registration.locations == ["badgeclass", "backpack"]
    assert registration.custom == {"course": "sailing", "term": "2026"}
    assert registration.launch_url == f"{TOOL}/launch" and registration.enabled
    text = client_logged_in.get(lti_path(app)).content.decode()
    assert "Saved." in text
    assert copied_value(text, "lti-client-id") == registration.client_id
    assert copied_value(text, "lti-deployment-id") == registration.deployment_id
    assert registration.client_id != app.client_id
    assert "ask your server's administrator" in text  # LTI 1.1 is off
    assert "course=sailing\nterm=2026" in text

    # Changing it keeps its ids.
    client_logged_in.post(lti_path(app), tool_form(locations=["profile"], title="Roster"))
    changed = ToolRegistration.objects.get(application=app)
    assert changed.locations == ["profile"] and changed.title == "Roster"
    assert changed.client_id == registration.client_id


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"locations": None}, "locations", "This field is required."),
        ({"custom": "no equals sign"}, "custom", "Line 1: write key=value."),
        ({"custom": "a=1\na=2"}, "custom", "Line 2: a is given twice."),
        ({"login_url": "http://tool.example.org/login"}, "login_url", None),
        ({"jwks_url": "", "public_key": ""}, None, None),
        ({"public_key": "not a key", "jwks_url": ""}, None, None),
    ],
)
def test_a_refused_form_says_why_and_saves_nothing(client_logged_in, app, changes, field, message):
    response = client_logged_in.post(lti_path(app), tool_form(**changes))
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors
    if field:
        assert field in form.errors
    if message:
        assert message in form.errors[field]
    assert 'role="alert"' in response.content.decode()
    assert not ToolRegistration.objects.exists()


def test_removing_the_registration_asks_first(client_logged_in, app, user):
    register(app, user)
    delete = lti_path(app) + "delete/"
    confirm = client_logged_in.get(delete)
    assert confirm.status_code == 200 and "Remove the LTI registration" in confirm.content.decode()
    assert ToolRegistration.objects.filter(application=app).exists()
    response = client_logged_in.post(delete)
    assert response.status_code == 302
    assert not ToolRegistration.objects.filter(application=app).exists()
    assert client_logged_in.post(delete).status_code == 404


def test_a_new_lti11_secret_only_once_an_administrator_turned_it_on(client_logged_in, app, user):
    registration = register(app, user)
    secret_path = lti_path(app) + "lti11-secret/"
    assert client_logged_in.post(secret_path).status_code == 404
    first = lti_services.lti11_set(registration=registration, enabled=True, actor=None)
    text = client_logged_in.get(lti_path(app)).content.decode()
    registration.refresh_from_db()
    assert copied_value(text, "lti11-consumer-key") == registration.lti11_consumer_key
    assert first not in text and copied_value(text, "lti11-secret") is None
    answer = client_logged_in.post(secret_path)
    assert answer.status_code == 200
    secret = copied_value(answer.content.decode(), "lti11-secret")
    assert secret and secret != first
    assert secret not in client_logged_in.get(lti_path(app)).content.decode()


# --- the buttons ----------------------------------------------------------------------------


@pytest.fixture
def staff_page(app, user):
    """A badge class page of an issuer the logged-in person owns, with the tool
    registered for every location."""
    issuer = IssuerFactory()
    IssuerStaff.objects.create(issuer=issuer, user=user, role="owner")
    badge_class = BadgeClassFactory(issuer=issuer)
    register(app, user)
    return f"/issuers/{issuer.entity_id}/badges/{badge_class.entity_id}/"


BUTTON = "Open in Roster Tool"


def test_the_button_shows_only_once_the_person_connected_the_app(
    client_logged_in, user, app, staff_page
):
    assert BUTTON not in client_logged_in.get(staff_page).content.decode()
    connect_services.consent_record(user=user, application=app, scopes=["r:profile"])
    text = client_logged_in.get(staff_page).content.decode()
    assert BUTTON in text and 'action="/lti/launch"' in text
    connect_services.app_access_revoke(user=user, application=app)
    assert BUTTON not in client_logged_in.get(staff_page).content.decode()


def test_a_paused_or_removed_tool_has_no_button(client_logged_in, user, app, staff_page):
    connect_services.consent_record(user=user, application=app, scopes=["r:profile"])
    register(app, user, enabled=False)
    assert BUTTON not in client_logged_in.get(staff_page).content.decode()
    register(app, user, enabled=True)
    assert BUTTON in client_logged_in.get(staff_page).content.decode()
    lti_services.registration_delete(application=app, actor=user)
    assert BUTTON not in client_logged_in.get(staff_page).content.decode()


def test_each_page_shows_its_location_button(client_logged_in, user, app, staff_page):
    connect_services.consent_record(user=user, application=app, scopes=["r:profile"])
    issuer_path = staff_page.split("badges/")[0]
    award = AssertionFactory(recipient_plaintext=user.email, recipient_identity=user.email)
    for path in (
        issuer_path,
        "/backpack/",
        f"/backpack/badges/{award.entity_id}/",
        "/account/",
    ):
        response = client_logged_in.get(path)
        assert response.status_code == 200, path
        assert BUTTON in response.content.decode(), path
    # Another person who did not connect it sees none of them.
    other = Client()
    other.force_login(UserFactory())
    for path in ("/backpack/", "/account/"):
        assert BUTTON not in other.get(path).content.decode(), path


def test_the_page_says_when_the_app_cannot_have_buttons_yet(client_logged_in, app):
    app.review = app.Review.PENDING
    app.save()
    text = client_logged_in.get(lti_path(app)).content.decode()
    assert "Pending review" in text and "No button shows until" in text
