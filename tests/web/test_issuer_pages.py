"""Issuer pages of the workspace (web/issuer_views.py), with the test client on the real
database: the list, making and editing an issuer (verified addresses, PNG and SVG
images), its staff and invitations, deleting it, its dashboard's numbers, the domain
check against a real loopback web server, hostile input, and the queries pages cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from laurels.accounts.models import EmailAddress
from laurels.issuing import selectors, services
from laurels.issuing.models import Issuer, IssuerStaff, IssuerVerification, StaffInvitation
from laurels.issuing.verification import WELL_KNOWN_PATH, issuer_domain_check_token
from laurels.web.issuer_views import DOMAIN_CHECKS_PER_HOUR
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    EmailAddressFactory,
    IssuerFactory,
    UserFactory,
    png_bytes,
)
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle r="4"/></svg>'
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b'<script>alert(2)</script><circle r="4" fill="gold"/></svg>'
)


def issuer_of(user, role: str = "owner", **fields) -> Issuer:
    issuer = IssuerFactory(**fields)
    IssuerStaff.objects.create(issuer=issuer, user=user, role=role)
    return issuer


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(response) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:2000])
    return response.content.decode()


def new_issuer_data(**fields) -> dict:
    data = {
        "name": "Harbour College",
        "description": "Sailing school.",
        "url": "https://harbour.example.org",
        "email": "ada@example.org",
    }
    data.update(fields)
    return data


@pytest.fixture
def issuer(user) -> Issuer:
    return issuer_of(user, "owner", name="Harbour College")


def staff_url(issuer: Issuer) -> str:
    return f"/issuers/{issuer.entity_id}/staff/"


# The list


def test_the_list_of_nobody_says_what_to_do_next(client_logged_in):
    html = page(client_logged_in.get("/issuers/"))
    assert "You do not issue badges yet" in html
    assert 'href="/issuers/new/"' in html


def test_the_list_shows_each_issuer_with_my_role_and_counts(client_logged_in, user):
    mine = issuer_of(user, "editor", name="Knots Club")
    BadgeClassFactory(issuer=mine)
    issuer_of(UserFactory(), "owner", name="Not Mine")
    html = page(client_logged_in.get("/issuers/"))
    assert "Knots Club" in html and "You are editor" in html and "1 badge class " in html
    assert "Not Mine" not in html


def test_the_list_costs_the_same_queries_however_many_issuers(client_logged_in, user):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(client_logged_in.get("/issuers/"))
        return len(queries)

    issuer_of(user)
    one = count()
    for _ in range(5):
        BadgeClassFactory(issuer=issuer_of(user))
    assert count() == one


# Making an issuer


def test_a_new_issuer_with_a_png_makes_me_its_owner(client_logged_in, user):
    image = SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png")
    response = client_logged_in.post("/issuers/new/", {**new_issuer_data(), "image": image})
    made = Issuer.objects.get(name="Harbour College")
    assert response.status_code == 302
    assert response["Location"] == f"/issuers/{made.entity_id}/"
    assert made.image and made.email == "ada@example.org"
    assert IssuerStaff.objects.get(issuer=made, user=user).role == "owner"


def test_a_new_issuer_with_an_svg_keeps_it_without_its_script(client_logged_in):
    image = SimpleUploadedFile("logo.svg", SVG_WITH_SCRIPT, content_type="image/svg+xml")
    response = client_logged_in.post("/issuers/new/", {**new_issuer_data(), "image": image})
    assert response.status_code == 302
    made = Issuer.objects.get(name="Harbour College")
    made.image.open()
    stored = made.image.read()
    assert b"<circle" in stored and b"script" not in stored and b"onload" not in stored


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"GIF89a not an image", "must be a PNG or an SVG"),
        (b"\x89PNG\r\n\x1a\n broken", "corrupt"),
        (b"<svg><circle/></svg>", "xmlns"),
    ],
)
def test_a_bad_image_is_a_field_error(client_logged_in, content, problem):
    image = SimpleUploadedFile("x.png", content, content_type="image/png")
    response = client_logged_in.post("/issuers/new/", {**new_issuer_data(), "image": image})
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert not Issuer.objects.exists()


@override_settings(LAURELS_IMAGE_MAX_BYTES=2048)
def test_a_too_large_image_is_a_field_error(client_logged_in):
    image = SimpleUploadedFile("big.png", png_bytes((400, 400)) + b"0" * 4096)
    response = client_logged_in.post("/issuers/new/", {**new_issuer_data(), "image": image})
    assert response.status_code == 400 and "larger than 2 KB" in response.content.decode()


def test_only_my_verified_addresses_can_be_the_contact(client_logged_in, user):
    EmailAddressFactory(user=user, email="unverified@example.org", verified=False)
    html = page(client_logged_in.get("/issuers/new/"))
    assert "ada@example.org" in html and "unverified@example.org" not in html
    response = client_logged_in.post(
        "/issuers/new/", new_issuer_data(email="unverified@example.org")
    )
    assert response.status_code == 400 and not Issuer.objects.exists()


def test_without_a_verified_address_nobody_makes_an_issuer(client_logged_in, user):
    """An account acts only while it holds a verified address (`accounts.backends`), so
    the form's "verify an address first" message is a fallback: the session ends."""
    EmailAddress.objects.filter(user=user).update(verified=False)
    response = client_logged_in.post("/issuers/new/", new_issuer_data())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Issuer.objects.exists()


def test_the_form_pages_allow_the_image_preview(client_logged_in, issuer):
    for url in ("/issuers/new/", f"/issuers/{issuer.entity_id}/edit/"):
        response = client_logged_in.get(url)
        policy = response["Content-Security-Policy"]
        assert "blob:" in policy.split("img-src", 1)[1].split(";", 1)[0], policy
        assert "web/image_preview" in response.content.decode()


# Editing


def test_an_editor_edits_the_issuer(user):
    issuer = issuer_of(user, "editor")
    response = client_of(user).post(
        f"/issuers/{issuer.entity_id}/edit/",
        new_issuer_data(name="Renamed", email="ada@example.org"),
    )
    assert response.status_code == 302
    issuer.refresh_from_db()
    assert issuer.name == "Renamed" and issuer.url == "https://harbour.example.org"


def test_an_edit_keeps_another_owners_contact_address(client_logged_in, issuer):
    html = page(client_logged_in.get(f"/issuers/{issuer.entity_id}/edit/"))
    assert issuer.email in html
    response = client_logged_in.post(
        f"/issuers/{issuer.entity_id}/edit/", new_issuer_data(email=issuer.email)
    )
    assert response.status_code == 302


def test_staff_may_not_edit_and_strangers_do_not_see_the_issuer(user):
    issuer = issuer_of(user, "staff")
    client = client_of(user)
    assert client.get(f"/issuers/{issuer.entity_id}/edit/").status_code == 403
    assert client.post(f"/issuers/{issuer.entity_id}/edit/", new_issuer_data()).status_code == 403
    stranger = client_of(UserFactory())
    for path in ("", "edit/", "staff/", "delete/"):
        assert stranger.get(f"/issuers/{issuer.entity_id}/{path}").status_code == 404
    assert client.get("/issuers/no-such-issuer/").status_code == 404


def test_an_invalid_website_is_a_field_error(client_logged_in, issuer):
    response = client_logged_in.post(
        f"/issuers/{issuer.entity_id}/edit/", new_issuer_data(url="javascript:alert(1)")
    )
    assert response.status_code == 400
    issuer.refresh_from_db()
    assert issuer.name == "Harbour College"


# Staff


def test_inviting_sends_an_email_and_lists_the_invitation(client_logged_in, issuer):
    response = client_logged_in.post(
        staff_url(issuer), {"action": "invite", "email": "grace@example.org", "role": "editor"}
    )
    assert response.status_code == 302
    [message] = delivered()
    assert message.to == ["grace@example.org"] and "Harbour College" in message.body
    html = page(client_logged_in.get(staff_url(issuer)))
    assert "grace@example.org" in html and "As editor" in html


@override_settings(LAURELS_STAFF_INVITATION_RATE_PER_USER=3)
def test_invitations_past_the_limit_are_429(client_logged_in, issuer):
    answers = [
        client_logged_in.post(
            staff_url(issuer), {"action": "invite", "email": f"p{n}@example.org", "role": "staff"}
        ).status_code
        for n in range(4)
    ]
    assert answers == [302, 302, 302, 429], answers
    assert selectors.staff_invitations_pending(issuer=issuer).count() == 3


def test_cancelling_an_invitation(client_logged_in, issuer):
    client_logged_in.post(
        staff_url(issuer), {"action": "invite", "email": "grace@example.org", "role": "staff"}
    )
    invitation = selectors.staff_invitations_pending(issuer=issuer).get()
    response = client_logged_in.post(
        staff_url(issuer), {"action": "cancel", "invitation": invitation.entity_id}
    )
    assert response.status_code == 302
    assert not selectors.staff_invitations_pending(issuer=issuer).exists()
    again = client_logged_in.post(
        staff_url(issuer), {"action": "cancel", "invitation": invitation.entity_id}
    )
    assert again.status_code == 400


def test_changing_a_role_and_removing_a_member(client_logged_in, issuer):
    grace = UserFactory(email="grace@example.org")
    IssuerStaff.objects.create(issuer=issuer, user=grace, role="staff")
    response = client_logged_in.post(
        staff_url(issuer), {"action": "role", "member": grace.entity_id, "role": "editor"}
    )
    assert response.status_code == 302
    assert IssuerStaff.objects.get(issuer=issuer, user=grace).role == "editor"
    response = client_logged_in.post(
        staff_url(issuer), {"action": "remove", "member": grace.entity_id}
    )
    assert response.status_code == 302
    assert not IssuerStaff.objects.filter(issuer=issuer, user=grace).exists()


def test_the_last_owner_can_be_neither_removed_nor_demoted(client_logged_in, user, issuer):
    for data in (
        {"action": "remove", "member": user.entity_id},
        {"action": "role", "member": user.entity_id, "role": "staff"},
    ):
        response = client_logged_in.post(staff_url(issuer), data)
        assert response.status_code == 400, data
        assert "owner" in response.content.decode()
    assert IssuerStaff.objects.get(issuer=issuer, user=user).role == "owner"


def test_only_owners_manage_the_staff(user):
    issuer = issuer_of(user, "editor")
    client = client_of(user)
    assert client.get(staff_url(issuer)).status_code == 403
    response = client.post(
        staff_url(issuer), {"action": "invite", "email": "x@example.org", "role": "owner"}
    )
    assert response.status_code == 403 and not StaffInvitation.objects.exists()


# Deleting


def test_an_issuer_with_live_awards_is_not_deleted(client_logged_in, issuer):
    AssertionFactory(badge_class=BadgeClassFactory(issuer=issuer))
    response = client_logged_in.post(f"/issuers/{issuer.entity_id}/delete/")
    assert response.status_code == 409
    assert f'href="/issuers/{issuer.entity_id}/awards/"' in response.content.decode()
    assert Issuer.objects.filter(pk=issuer.pk).exists()


def test_deleting_an_issuer_without_live_awards(client_logged_in, issuer):
    AssertionFactory(badge_class=BadgeClassFactory(issuer=issuer), revoked=True)
    page(client_logged_in.get(f"/issuers/{issuer.entity_id}/delete/"))
    response = client_logged_in.post(f"/issuers/{issuer.entity_id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/issuers/"
    assert not Issuer.objects.filter(pk=issuer.pk).exists()


def test_editors_may_not_delete(user):
    issuer = issuer_of(user, "editor")
    assert client_of(user).post(f"/issuers/{issuer.entity_id}/delete/").status_code == 403
    assert Issuer.objects.filter(pk=issuer.pk).exists()


# The dashboard


def test_the_dashboard_counts_months_acceptance_and_activity(client_logged_in, user, issuer):
    badge_class = BadgeClassFactory(issuer=issuer)
    AssertionFactory.create_batch(3, badge_class=badge_class, acceptance="Accepted")
    AssertionFactory(badge_class=badge_class, acceptance="Rejected")
    revoked = AssertionFactory(badge_class=badge_class)
    AssertionFactory(
        badge_class=badge_class, issued_on=timezone.now() - timedelta(days=800)
    )  # older than a year: not in the months, but live
    services.assertion_revoke(assertion=revoked, reason="Issued by mistake", actor=user)
    html = page(client_logged_in.get(f"/issuers/{issuer.entity_id}/"))
    assert html.count('<progress max="5" value="5"') == 1  # this month: 5, revoked included
    assert "<strong>60%</strong> of 5 valid awards" in html
    assert "Issued by mistake" in html and "ada@example.org" in html


def test_the_dashboard_of_a_new_issuer_says_what_to_do(client_logged_in, issuer):
    html = page(client_logged_in.get(f"/issuers/{issuer.entity_id}/"))
    assert "No awards in the last 12 months" in html
    assert f'href="/issuers/{issuer.entity_id}/badges/"' in html
    assert "No valid awards yet" in html and "Nothing recorded yet" in html


def test_staff_see_the_dashboard_without_owner_links(user):
    issuer = issuer_of(user, "staff")
    html = page(client_of(user).get(f"/issuers/{issuer.entity_id}/"))
    assert "/staff/" not in html and "/delete/" not in html and "Verification" not in html


def test_the_dashboard_costs_the_same_queries_however_much_happened(client_logged_in, user, issuer):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(client_logged_in.get(f"/issuers/{issuer.entity_id}/"))
        return len(queries)

    badge_class = BadgeClassFactory(issuer=issuer)
    services.assertion_revoke(
        assertion=AssertionFactory(badge_class=badge_class), reason="a", actor=user
    )
    one = count()
    for award in AssertionFactory.create_batch(5, badge_class=badge_class):
        services.assertion_revoke(assertion=award, reason="b", actor=user)
    for _ in range(3):
        IssuerStaff.objects.create(issuer=issuer, user=UserFactory(), role="staff")
    assert count() == one


# The domain check


@pytest.fixture
def home_issuer(user, serve):
    """An issuer whose website is a real web server on the loopback address."""

    def make(routes: dict):
        server = serve(routes=routes)
        return issuer_of(user, "owner", url=server.url + "/about")

    return make


@pytest.mark.django_db(transaction=True)  # the check refuses to fetch inside one
@override_settings(LAURELS_ALLOW_PRIVATE_FETCH="1")
def test_the_domain_check_finds_the_token_and_verifies(client_logged_in, home_issuer):
    routes = {"/": (404, {}, b"", 0)}  # the server reads this dict on each request
    made = home_issuer(routes)
    token = issuer_domain_check_token(made)
    routes[WELL_KNOWN_PATH] = (200, {"Content-Type": "text/plain"}, f"{token}\n".encode(), 0)
    html = page(client_logged_in.get(f"/issuers/{made.entity_id}/"))
    assert token in html and "Check my website" in html
    response = client_logged_in.post(f"/issuers/{made.entity_id}/verify-domain/")
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.verified_by == IssuerVerification.DOMAIN and made.verified_at
    html = page(client_logged_in.get(f"/issuers/{made.entity_id}/"))
    assert "by a domain check" in html and "Check my website" not in html


@pytest.mark.django_db(transaction=True)  # the check refuses to fetch inside one
@override_settings(LAURELS_ALLOW_PRIVATE_FETCH="1")
def test_a_domain_check_without_the_token_is_a_400_on_the_dashboard(client_logged_in, home_issuer):
    made = home_issuer({WELL_KNOWN_PATH: (200, {"Content-Type": "text/plain"}, b"other\n", 0)})
    response = client_logged_in.post(f"/issuers/{made.entity_id}/verify-domain/")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="verify-problem"' in html and issuer_domain_check_token(made) in html
    made.refresh_from_db()
    assert made.verified_at is None


@pytest.mark.django_db(transaction=True)
@override_settings(LAURELS_ALLOW_PRIVATE_FETCH="1")
def test_domain_checks_past_the_limit_are_429(client_logged_in, home_issuer):
    made = home_issuer({WELL_KNOWN_PATH: (404, {}, b"", 0)})
    url = f"/issuers/{made.entity_id}/verify-domain/"
    answers = [client_logged_in.post(url).status_code for _ in range(DOMAIN_CHECKS_PER_HOUR + 1)]
    assert answers == [400] * DOMAIN_CHECKS_PER_HOUR + [429], answers


def test_only_owners_check_the_domain(user):
    issuer = issuer_of(user, "editor")
    client = client_of(user)
    assert client.post(f"/issuers/{issuer.entity_id}/verify-domain/").status_code == 403
    assert client.get(f"/issuers/{issuer.entity_id}/verify-domain/").status_code == 405
    stranger = client_of(UserFactory())
    assert stranger.post(f"/issuers/{issuer.entity_id}/verify-domain/").status_code == 404


# Hostile input


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode"},
        {},
        {"action": "invite", "email": "x" * 10_000 + "@example.org", "role": "owner"},
        {"action": "invite", "email": "a@example.org", "role": "emperor"},
        {"action": "role", "member": "\x00" * 100, "role": "owner"},
        {"action": "role", "member": "nobody", "role": "owner"},
        {"action": "remove", "member": "x" * 5000},
        {"action": "remove", "member": "nobody"},
        {"action": "cancel", "invitation": "\u202e" * 70},
        {"action": ["invite", "remove"], "member": ["a", "b"]},
    ],
)
def test_hostile_staff_posts_are_4xx(client_logged_in, issuer, data):
    status = client_logged_in.post(staff_url(issuer), data).status_code
    assert 400 <= status < 500, (data, status)


@pytest.mark.parametrize(
    "data",
    [
        new_issuer_data(name="x" * 100_000),
        new_issuer_data(name="\x00"),
        new_issuer_data(url="http://" + "a" * 5000 + ".org"),
        new_issuer_data(email="someone-else@example.org"),
        new_issuer_data(description="d" * 50_000),
        {"image": "not a file"},
    ],
)
def test_hostile_issuer_forms_are_400(client_logged_in, data):
    assert client_logged_in.post("/issuers/new/", data).status_code == 400
    assert not Issuer.objects.exists()


def test_odd_ids_are_4xx(client_logged_in):
    for issuer_id in ("%00", "x" * 500, "..", "%E2%80%AE", "'%3B--"):
        status = client_logged_in.get(f"/issuers/{issuer_id}/").status_code
        assert status in (400, 404), (issuer_id, status)
