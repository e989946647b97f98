"""One award's page on the issuer's side (web/award_detail_views.py) with the test client
on the real database: who may see it (the issuer's staff, any role; others a 404, as the
awards list and the revoke view decide), what it shows of a valid, revoked or expired
award, nothing where a piece is empty, the revoke link by role, the LTI buttons of the
`assertion` location, and the queries it costs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from laurels.issuing.models import Assertion, IssuerStaff, Role
from tests.factories import (
    BadgeClassFactory,
    IssuerFactory,
    UserFactory,
    award_to,
)
from tests.lti.helpers import connect, form_of, press, register_tool

pytestmark = pytest.mark.django_db

BUTTON = "Open in Course Tool"


@pytest.fixture
def issuer(user):
    return IssuerFactory(name="Harbour College", owner=user)


@pytest.fixture
def badge(issuer):
    return BadgeClassFactory(issuer=issuer, name="Knot Tying")


def detail(award: Assertion, issuer=None) -> str:
    return f"/issuers/{(issuer or award.issuer).entity_id}/awards/{award.entity_id}/"


def member(issuer, role: str, email: str) -> Client:
    person = UserFactory(email=email, first_name="", last_name="")
    IssuerStaff.objects.create(issuer=issuer, user=person, role=role)
    client = Client()
    client.force_login(person)
    return client


def shown(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def fact(html: str, term: str) -> str:
    """The text of the <dd> after <dt>term</dt>, tags stripped."""
    found = re.search(rf"<dt>{re.escape(term)}</dt>\s*<dd>(.*?)</dd>", html, re.S)
    assert found, f"no {term!r} in the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


# Who may see it


def test_anonymous_people_are_sent_to_log_in(client, badge):
    response = client.get(detail(award_to(badge)))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login")


@pytest.mark.parametrize("role", [Role.STAFF, Role.EDITOR, Role.OWNER])
def test_the_issuers_staff_of_every_role_see_it(issuer, badge, role):
    award = award_to(badge, recipient_name="Sam Reed")
    html = shown(member(issuer, role, f"{role}@example.org").get(detail(award)))
    assert '<h1 id="award-heading">Award to sam@example.org</h1>' in html
    assert f'href="/issuers/{issuer.entity_id}/badges/{badge.entity_id}/">Knot Tying</a>' in html
    assert fact(html, "Name") == "Sam Reed" and fact(html, "Type") == "Email address"
    revoke = f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/"
    # Revoking takes an editor (connect.permissions), as in the list.
    assert (revoke in html) == (role != Role.STAFF)


def test_outsiders_and_wrong_addresses_get_a_404(client_logged_in, issuer, badge):
    theirs = award_to(BadgeClassFactory(issuer=IssuerFactory(owner=UserFactory())))
    mine = award_to(badge)
    for path in (
        detail(theirs),  # not on that issuer's staff
        detail(theirs, issuer),  # their award under my issuer's address
        detail(mine, theirs.issuer),  # my award under theirs
        f"/issuers/{issuer.entity_id}/awards/no-such-award/",
        f"/issuers/{issuer.entity_id}/awards/{'x' * 5000}/",
    ):
        assert client_logged_in.get(path).status_code == 404, path[:120]
    assert client_logged_in.post(detail(mine)).status_code == 405


# What it shows


def test_a_valid_award_shows_everything_it_has(client_logged_in, user, badge):
    award = award_to(
        badge,
        recipient_name="Sam Reed",
        narrative="Tied a **bowline** blindfolded.",
        evidence=[
            {"url": "https://evidence.example.org/sam", "narrative": "The video"},
            {"url": "javascript:alert(1)", "narrative": ""},
        ],
        expires=timezone.now() + timedelta(days=30),
        created_by=user,
    )
    html = shown(client_logged_in.get(detail(award)))
    assert f'src="/public/badges/{badge.entity_id}/image"' in html
    assert fact(html, "Status") == "Valid"
    assert fact(html, "Issued") == f"{award.issued_on:%-d %B %Y}"
    assert fact(html, "Expires") == f"{award.expires:%-d %B %Y}"
    assert fact(html, "Earner's answer") == "Unaccepted"
    assert fact(html, "Awarded by") == "Ada Lovelace (ada@example.org)"
    assert fact(html, "Recorded").endswith("UTC")
    assert "<strong>bowline</strong>" in html
    assert 'href="https://evidence.example.org/sam"' in html and "The video" in html
    assert "javascript:" not in html
    public = f"/public/assertions/{award.entity_id}"
    assert re.search(rf'<a class="button secondary" href="[^"]*{public}">Public page</a>', html)
    assert re.search(rf'id="share-url" type="url" readonly value="[^"]*{public}"', html)
    assert "Revoked because" not in html


def test_empty_pieces_say_nothing(client_logged_in, badge):
    award = award_to(badge, created_by=None)
    html = shown(client_logged_in.get(detail(award)))
    assert "None" not in html
    assert fact(html, "Expires") == "Never"
    for absent in ("<dt>Name</dt>", "Awarded by", "Why it was awarded", "Evidence"):
        assert absent not in html, absent


def test_a_revoked_award_says_why_and_offers_no_revoke(client_logged_in, issuer, badge):
    award = award_to(badge, revoked=True, revocation_reason="Copied the work")
    html = shown(client_logged_in.get(detail(award)))
    assert fact(html, "Status") == "Revoked"
    assert fact(html, "Revoked because") == "Copied the work"
    assert "/revoke/" not in html


def test_an_expired_award_says_so(client_logged_in, badge):
    award = award_to(badge, expires=timezone.now() - timedelta(days=1))
    html = shown(client_logged_in.get(detail(award)))
    assert fact(html, "Status") == "Expired"
    assert fact(html, "Expired") == f"{award.expires:%-d %B %Y}"


def test_revoking_from_the_page_comes_back_to_it(client_logged_in, issuer, badge):
    award = award_to(badge)
    html = shown(client_logged_in.get(detail(award)))
    revoke = re.search(r'href="([^"]*/revoke/\?next=[^"]*)"', html).group(1).replace("&amp;", "&")
    assert client_logged_in.get(revoke).status_code == 200
    response = client_logged_in.post(
        revoke.split("?")[0], {"revocation_reason": "Issued in error", "next": detail(award)}
    )
    assert response.status_code == 302 and response["Location"] == detail(award)
    assert fact(shown(client_logged_in.get(detail(award))), "Status") == "Revoked"


# The LTI buttons of the `assertion` location


def test_a_connected_tool_registered_for_awards_has_a_button(client_logged_in, user, badge):
    award = award_to(badge)
    tool = register_tool(locations=["assertion"])
    assert BUTTON not in shown(client_logged_in.get(detail(award)))  # not connected yet
    connect(user, tool)
    html = shown(client_logged_in.get(detail(award)))
    assert BUTTON in html
    assert 'name="location" value="assertion"' in html
    assert f'name="entity" value="{award.entity_id}"' in html
    # The button's form is one /lti/launch takes.
    launched = press(client_logged_in, tool, "assertion", award.entity_id)
    assert launched.status_code == 200 and form_of(launched)[0] == "https://tool.example.org/login"


def test_a_tool_registered_elsewhere_has_no_button_here(client_logged_in, user, badge):
    award = award_to(badge)
    connect(user, register_tool(locations=["badgeclass", "backpack.assertion"]))
    assert BUTTON not in shown(client_logged_in.get(detail(award)))


# Queries


@pytest.mark.parametrize("tools", [0, 3])
def test_the_page_costs_a_few_queries(
    client_logged_in, user, badge, tools, django_assert_max_num_queries
):
    award = award_to(badge, created_by=user, evidence=[{"url": "https://e.example.org/1"}])
    for n in range(tools):
        connect(user, register_tool(locations=["assertion"], name=f"Tool {n}"))
    # session, user, the award with its badge class, issuer, creator and the viewer's
    # role (one read), the LTI buttons (one read, however many tools)
    with django_assert_max_num_queries(4):
        html = shown(client_logged_in.get(detail(award)))
    assert html.count('action="/lti/launch"') == tools
