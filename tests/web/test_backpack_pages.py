"""Home, the backpack grid and a badge's page (web/backpack_views.py), with the test
client on the real database; "Check now" fetches from a stub issuer over real HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from laurels.backpack.models import ImportedBadge
from laurels.issuing.models import Acceptance, Assertion
from tests.connect.oauth_helpers import register_app, token_for
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db
ADA = "ada@example.org"


def award(**fields) -> Assertion:
    return AssertionFactory(recipient_plaintext=ADA, recipient_identity=ADA, **fields)


def imported(user, *, name="Imported Badge", issuer="Far College", **fields) -> ImportedBadge:
    source = fields.pop("source_id", f"https://far.example.org/assertions/{name}")
    return ImportedBadge.objects.create(
        user=user,
        source_id=source,
        assertion=fields.pop("assertion", {"id": source, "narrative": "Far work."}),
        badge_class={"id": "https://far.example.org/badge", "name": name, "description": "Far."},
        issuer={"id": "https://far.example.org/issuer", "name": issuer},
        image="imported/far.png",
        recipient_identity=user.email,
        issued_on=fields.pop("issued_on", timezone.now()),
        verified_at=timezone.now(),
        **fields,
    )


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# Anonymous and other people


@pytest.mark.parametrize("path", ["/backpack/", "/backpack/badges/x/", "/backpack/badges/x/json"])
def test_anonymous_people_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login")


def test_anonymous_check_now_is_sent_to_log_in(client):
    assert client.post("/backpack/badges/x/check")["Location"].startswith("/accounts/login")


def test_another_persons_badge_is_not_found(client_logged_in):
    theirs = AssertionFactory(recipient_plaintext="bob@example.org")
    bob = UserFactory(email="bob@example.org")
    their_import = imported(bob)
    for entity_id in (theirs.entity_id, their_import.entity_id, "no-such-badge"):
        base = f"/backpack/badges/{entity_id}/"
        assert client_logged_in.get(base).status_code == 404
        assert client_logged_in.get(base + "json").status_code == 404
        assert client_logged_in.post(base, {"action": "remove"}).status_code == 404
        assert client_logged_in.post(base + "check").status_code == 404
    assert ImportedBadge.objects.filter(pk=their_import.pk).exists()


# Home


def test_home_says_what_to_do_when_the_backpack_is_empty(client_logged_in):
    shown = page(client_logged_in.get("/"))
    assert "Welcome, Ada" in shown
    assert "Your backpack is empty" in shown
    assert "Waiting for you" not in shown
    assert "Your issuers" not in shown


def test_home_shows_waiting_and_recent_badges_and_issuers(client_logged_in, user):
    waiting = award(badge_class=BadgeClassFactory(name="Knot Tying"))
    award(badge_class=BadgeClassFactory(name="Rowing"), acceptance=Acceptance.ACCEPTED)
    IssuerFactory(name="Harbour College", owner=user)
    shown = page(client_logged_in.get("/"))
    assert "Waiting for you" in shown
    assert f'action="/backpack/badges/{waiting.entity_id}/"' in shown
    assert "Rowing" in shown and "Knot Tying" in shown
    assert "Harbour College" in shown


def test_accepting_on_home_keeps_the_badge_and_returns_home(client_logged_in):
    waiting = award()
    response = client_logged_in.post(
        f"/backpack/badges/{waiting.entity_id}/", {"action": "accept", "back": "home"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    waiting.refresh_from_db()
    assert waiting.acceptance == Acceptance.ACCEPTED
    assert "Waiting for you" not in page(client_logged_in.get("/"))


def test_rejecting_on_home_hides_the_badge(client_logged_in):
    waiting = award(badge_class=BadgeClassFactory(name="Unwanted"))
    client_logged_in.post(
        f"/backpack/badges/{waiting.entity_id}/", {"action": "reject", "back": "home"}
    )
    waiting.refresh_from_db()
    assert waiting.acceptance == Acceptance.REJECTED
    assert "Unwanted" not in page(client_logged_in.get("/"))
    assert "Unwanted" not in page(client_logged_in.get("/backpack/"))


# The grid


def test_the_grid_shows_awards_and_imports_with_their_status(client_logged_in, user):
    award(badge_class=BadgeClassFactory(name="Valid One"), acceptance=Acceptance.ACCEPTED)
    award(badge_class=BadgeClassFactory(name="Pending One"))
    award(badge_class=BadgeClassFactory(name="Revoked One"), revoked_for=True)
    award(
        badge_class=BadgeClassFactory(name="Expired One"),
        expires=timezone.now() - timedelta(days=1),
    )
    imported(user, name="Imported One")
    imported(user, name="Gone One", status=ImportedBadge.Status.GONE)
    shown = page(client_logged_in.get("/backpack/"))
    for name, status in [
        ("Valid One", "valid"),
        ("Pending One", "pending"),
        ("Revoked One", "revoked"),
        ("Expired One", "expired"),
        ("Imported One", "valid"),
        ("Gone One", "revoked"),
    ]:
        card = shown.split(name, 1)[1].split("</li>", 1)[0]
        assert f"status-{status}" in card, name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=valid", {"Valid One", "Imported One"}),
        ("status=pending", {"Pending One"}),
        ("status=revoked", {"Revoked One", "Gone One"}),
        ("status=expired", {"Expired One"}),
        ("q=imported", {"Imported One"}),
        ("q=far+college", {"Imported One", "Gone One"}),
        ("q=harbour", {"Valid One", "Pending One"}),
        ("q=one&status=revoked", {"Revoked One", "Gone One"}),
    ],
)
def test_search_and_filters(client_logged_in, user, query, expected):
    harbour = IssuerFactory(name="Harbour College")
    award(
        badge_class=BadgeClassFactory(name="Valid One", issuer=harbour),
        acceptance=Acceptance.ACCEPTED,
    )
    award(badge_class=BadgeClassFactory(name="Pending One", issuer=harbour))
    award(badge_class=BadgeClassFactory(name="Revoked One"), revoked_for=True)
    award(
        badge_class=BadgeClassFactory(name="Expired One"),
        expires=timezone.now() - timedelta(days=1),
    )
    imported(user, name="Imported One")
    imported(user, name="Gone One", status=ImportedBadge.Status.GONE)
    shown = page(client_logged_in.get(f"/backpack/?{query}"))
    names = {"Valid One", "Pending One", "Revoked One", "Expired One", "Imported One", "Gone One"}
    assert {n for n in names if f'class="badge-card-name">{n}<' in shown} == expected


def test_no_match_says_how_to_see_everything(client_logged_in):
    award()
    assert "Show all your badges" in page(client_logged_in.get("/backpack/?q=nothing-like-it"))


def _many_badges(user, count: int, first: int = 0) -> None:
    start = timezone.now() - timedelta(days=count + first)
    badge_class = BadgeClassFactory()
    for n in range(first, first + count):
        moment = start + timedelta(hours=n)
        if n % 2:
            imported(user, name=f"Far {n:03}", issued_on=moment)
        else:
            award(badge_class=badge_class, issued_on=moment)


def test_paging_48_at_a_time_newest_first(client_logged_in, user):
    _many_badges(user, 50)
    first = page(client_logged_in.get("/backpack/"))
    assert first.count('class="badge-card"') == 48
    assert "Far 049" in first and 'rel="next"' in first and 'rel="prev"' not in first
    second = page(client_logged_in.get("/backpack/?page=2"))
    assert second.count('class="badge-card"') == 2
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "Far 049" not in second


def test_a_page_costs_the_same_queries_for_10_or_200_badges(
    client_logged_in, user, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _many_badges(user, 10)
    with CaptureQueriesContext(connection) as few:
        page(client_logged_in.get("/backpack/"))
    _many_badges(user, 190, first=10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page(client_logged_in.get("/backpack/?page=2&q=a"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page(client_logged_in.get("/backpack/"))
    # session, user, verified addresses, the page's keys, its awards, its imports, the
    # connected apps' LTI buttons
    assert len(few.captured_queries) <= 7


def test_home_costs_the_same_queries_for_few_or_many_badges(
    client_logged_in, user, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    IssuerFactory(owner=user)
    award()
    with CaptureQueriesContext(connection) as few:
        page(client_logged_in.get("/"))
    _many_badges(user, 60)
    for _ in range(20):
        award()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "See all badges waiting for you" in page(client_logged_in.get("/"))


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "page=0",
        "page=-1",
        "page=abc",
        "page=" + "9" * 40,
        "q=" + "a" * 101,
    ],
)
def test_hostile_queries_are_a_400_naming_the_field(client_logged_in, query):
    response = client_logged_in.get(f"/backpack/?{query}")
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode() or "Page:" in (
        response.content.decode()
    )


def test_a_nul_in_the_query_is_a_400(client_logged_in):
    assert client_logged_in.get("/backpack/?q=%00").status_code == 400


def test_odd_but_harmless_queries_are_ignored(client_logged_in):
    award()
    for query in ("q[]=x", "status[]=valid", "page=1&page=2", "q=%27%22%3Cscript%3E", "x=1"):
        assert client_logged_in.get(f"/backpack/?{query}").status_code == 200
    assert "<script>" not in page(client_logged_in.get("/backpack/?q=%3Cscript%3E"))


# A badge's page


def test_a_local_award_page(client_logged_in, user):
    badge_class = BadgeClassFactory(
        name="Knot Tying",
        description="Ties **six** knots.",
        criteria_narrative="Tie them <script>alert(1)</script> blindfolded.",
        issuer=IssuerFactory(name="Harbour College"),
    )
    shown = award(
        badge_class=badge_class,
        narrative="Fastest bowline.",
        evidence=[{"url": "https://evidence.example.org/1", "narrative": "Video"}],
    )
    html = page(client_logged_in.get(f"/backpack/badges/{shown.entity_id}/"))
    assert "<h1>Knot Tying</h1>" in html
    assert "<strong>six</strong>" in html
    assert "<script>alert" not in html
    assert "Harbour College" in html and "Fastest bowline." in html
    assert 'href="https://evidence.example.org/1"' in html
    assert f'value="http://testserver/public/assertions/{shown.entity_id}"' in html or (
        f"/public/assertions/{shown.entity_id}" in html
    )
    assert "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in html
    assert "organizationName=Harbour+College" in html
    assert f"/public/assertions/{shown.entity_id}/image?download=1" in html
    assert "status-pending" in html and 'value="accept"' in html and 'value="reject"' in html
    assert "Check now" not in html


def test_an_imported_badge_page_shows_no_script_links(client_logged_in, user):
    script = "javascript:alert(document.domain)//"
    badge = imported(
        user,
        assertion={"evidence": [{"id": script}, {"narrative": "kept"}]},
    )
    badge.badge_class = {"name": "Old", "criteria": {"id": script}, "id": script}
    badge.issuer = {"name": "Old issuer", "url": script, "id": script}
    badge.save()
    html = page(client_logged_in.get(f"/backpack/badges/{badge.entity_id}/"))
    assert "javascript:" not in html
    assert "kept" in html and "Check now" in html


@pytest.mark.parametrize("narrative", [5, {"a": 1}, ["x"], True])
def test_an_old_import_whose_narrative_is_not_text_still_shows(client_logged_in, user, narrative):
    """Imports kept before text properties were checked may hold any JSON there."""
    badge = imported(user, assertion={"id": "https://far.example.org/a/1", "narrative": narrative})
    assert "Imported Badge" in page(client_logged_in.get(f"/backpack/badges/{badge.entity_id}/"))


def test_download_json(client_logged_in, user):
    local, far = award(), imported(user)
    response = client_logged_in.get(f"/backpack/badges/{local.entity_id}/json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert response.json()["id"].endswith(f"/public/assertions/{local.entity_id}")
    assert response.json()["type"] == "Assertion"
    response = client_logged_in.get(f"/backpack/badges/{far.entity_id}/json")
    assert response.json() == far.assertion


def test_apps_that_can_see_the_backpack_are_named(client_logged_in, user):
    badge = award()
    assert "No connected app can read your backpack" in page(
        client_logged_in.get(f"/backpack/badges/{badge.entity_id}/")
    )
    token_for(user, register_app(name="Profile Only", scopes="r:profile"), "r:profile")
    token_for(user, register_app(name="Displayer", scopes="r:backpack"), "r:backpack")
    html = page(client_logged_in.get(f"/backpack/badges/{badge.entity_id}/"))
    assert "Displayer" in html
    assert "Profile Only" not in html


# Actions


def test_accept_then_remove_a_local_award(client_logged_in):
    badge = award()
    url = f"/backpack/badges/{badge.entity_id}/"
    assert client_logged_in.post(url, {"action": "accept"})["Location"] == url
    badge.refresh_from_db()
    assert badge.acceptance == Acceptance.ACCEPTED
    assert client_logged_in.post(url, {"action": "remove"})["Location"] == "/backpack/"
    badge.refresh_from_db()
    assert badge.acceptance == Acceptance.REJECTED  # the issuer's record stays


def test_removing_an_import_deletes_it(client_logged_in, user):
    badge = imported(user)
    client_logged_in.post(f"/backpack/badges/{badge.entity_id}/", {"action": "remove"})
    assert not ImportedBadge.objects.filter(pk=badge.pk).exists()


@pytest.mark.parametrize("data", [{}, {"action": "delete"}, {"action": "x" * 10_000}])
def test_an_unknown_action_is_a_400(client_logged_in, data):
    badge = award()
    response = client_logged_in.post(f"/backpack/badges/{badge.entity_id}/", data)
    assert response.status_code == 400
    badge.refresh_from_db()
    assert badge.acceptance == Acceptance.UNACCEPTED


def test_actions_need_the_csrf_token(csrf_client_logged_in):
    badge = award()
    base = f"/backpack/badges/{badge.entity_id}/"
    assert csrf_client_logged_in.post(base, {"action": "accept"}).status_code == 403
    assert csrf_client_logged_in.post(base + "check").status_code == 403
    badge.refresh_from_db()
    assert badge.acceptance == Acceptance.UNACCEPTED


def test_pages_answer_only_their_methods(client_logged_in):
    badge = award()
    assert client_logged_in.post("/backpack/").status_code == 405
    assert client_logged_in.get(f"/backpack/badges/{badge.entity_id}/check").status_code == 405


# Check now


def test_check_now_marks_an_import_whose_issuer_lost_it(client_logged_in, user, serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    host = serve()
    host.routes["/assertion"] = (404, {"Content-Type": "application/json"}, b"{}", 0)
    badge = imported(user, source_id=f"{host.url}/assertion")
    response = client_logged_in.post(f"/backpack/badges/{badge.entity_id}/check", follow=True)
    badge.refresh_from_db()
    assert badge.status != ImportedBadge.Status.VERIFIED
    html = page(response)
    assert "Checked:" in html and "status-revoked" in html


def test_check_now_with_the_issuer_down_keeps_the_state(client_logged_in, user, serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    host = serve()
    host.routes["/assertion"] = (503, {"Content-Type": "application/json"}, b"{}", 0)
    badge = imported(user, source_id=f"{host.url}/assertion")
    response = client_logged_in.post(f"/backpack/badges/{badge.entity_id}/check", follow=True)
    badge.refresh_from_db()
    assert badge.status == ImportedBadge.Status.VERIFIED
    assert "could not be reached" in page(response)


def test_check_now_is_limited_per_person(client_logged_in, user, serve, settings, monkeypatch):
    from laurels.backpack import services

    monkeypatch.setattr(services, "CHECK_NOW_LIMIT", 2)
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    host = serve()
    host.routes["/assertion"] = (503, {"Content-Type": "application/json"}, b"{}", 0)
    badge = imported(user, source_id=f"{host.url}/assertion")
    check = f"/backpack/badges/{badge.entity_id}/check"
    for _ in range(2):
        client_logged_in.post(check)
    fetched = host.connections
    assert fetched >= 2
    refused = page(client_logged_in.post(check, follow=True))
    assert "checked badges many times" in refused
    assert host.connections == fetched


def test_check_now_on_a_local_award_fetches_nothing(client_logged_in):
    badge = award()
    response = client_logged_in.post(f"/backpack/badges/{badge.entity_id}/check", follow=True)
    assert "always current" in page(response)


def test_each_page_gets_the_strict_csp(client_logged_in):
    badge = award()
    for path in ("/", "/backpack/", f"/backpack/badges/{badge.entity_id}/"):
        policy = client_logged_in.get(path)["Content-Security-Policy"]
        assert "unsafe-inline" not in policy.split("script-src", 1)[-1].split(";")[0]
        assert "form-action 'self'" in policy
