"""The issuer's award lists (web/awards_list_views.py) with the test client on the real
database: permissions per role, the recipient search (a range on the index, never a
scan), filters and their validation, keyset paging, revoking one award and many, the
streamed CSV export and its formula escaping, and the queries a page costs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from laurels.issuing.models import Assertion, IssuerStaff, Role
from laurels.web.awards_list_views import PAGE_SIZE, csv_cell
from tests.factories import (
    BadgeClassFactory,
    IssuerFactory,
    UserFactory,
    award_to,
)

pytestmark = pytest.mark.django_db

HTML = "text/html"


@pytest.fixture
def issuer(user):
    return IssuerFactory(name="Harbour College", owner=user)


@pytest.fixture
def badge(issuer):
    return BadgeClassFactory(issuer=issuer, name="Knot Tying")


def listing(issuer, badge=None) -> str:
    if badge is None:
        return f"/issuers/{issuer.entity_id}/awards/"
    return f"/issuers/{issuer.entity_id}/badges/{badge.entity_id}/awards/"


def member(issuer, role: str, email: str) -> Client:
    person = UserFactory(email=email)
    IssuerStaff.objects.create(issuer=issuer, user=person, role=role)
    client = Client()
    client.force_login(person)
    return client


def shown(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def recipients_in(html: str) -> list[str]:
    return [
        cell.split("<", 1)[0].strip()
        for cell in html.split('<td class="awards-recipient" data-label="Recipient">')[1:]
    ]


# Signed out, other people, roles


def test_anonymous_people_are_sent_to_log_in(client, issuer, badge):
    award = award_to(badge, "sam@example.org")
    base = f"/issuers/{issuer.entity_id}"
    for path in (
        listing(issuer),
        listing(issuer, badge),
        f"{base}/awards/export.csv",
        f"{base}/awards/{award.entity_id}/revoke/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login")
    response = client.post(f"{base}/awards/revoke/", {"award": award.entity_id})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login")


def test_other_peoples_issuers_are_not_found(client_logged_in, badge):
    theirs = BadgeClassFactory(issuer=IssuerFactory(owner=UserFactory(email="bob@example.org")))
    award = award_to(theirs, "sam@example.org")
    base = f"/issuers/{theirs.issuer.entity_id}"
    for path in (
        listing(theirs.issuer),
        listing(theirs.issuer, theirs),
        f"{base}/awards/export.csv",
        f"{base}/awards/{award.entity_id}/revoke/",
        "/issuers/no-such-issuer/awards/",
        "/issuers/" + "x" * 5000 + "/awards/",
        # My badge class under their issuer, their award under my issuer.
        f"/issuers/{theirs.issuer.entity_id}/badges/{badge.entity_id}/awards/",
        f"/issuers/{badge.issuer.entity_id}/awards/{award.entity_id}/revoke/",
    ):
        assert client_logged_in.get(path).status_code == 404, path
    assert (
        client_logged_in.post(
            f"{base}/awards/{award.entity_id}/revoke/", {"revocation_reason": "No"}
        ).status_code
        == 404
    )
    assert (
        client_logged_in.post(
            f"{base}/awards/revoke/", {"award": award.entity_id, "revocation_reason": "No"}
        ).status_code
        == 404
    )
    award.refresh_from_db()
    assert not award.revoked


def test_staff_see_the_list_and_export_but_cannot_revoke(issuer, badge):
    award = award_to(badge, "sam@example.org")
    staff = member(issuer, Role.STAFF, "staff@example.org")
    html = shown(staff.get(listing(issuer)))
    assert "sam@example.org" in html
    assert "Revoke selected" not in html and "/revoke/" not in html
    assert staff.get(f"/issuers/{issuer.entity_id}/awards/export.csv").status_code == 200
    revoke = f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/"
    assert staff.get(revoke).status_code == 403
    assert staff.post(revoke, {"revocation_reason": "Mistake"}).status_code == 403
    bulk = f"/issuers/{issuer.entity_id}/awards/revoke/"
    assert (
        staff.post(bulk, {"award": award.entity_id, "revocation_reason": "Mistake"}).status_code
        == 403
    )
    award.refresh_from_db()
    assert not award.revoked


@pytest.mark.parametrize("role", [Role.EDITOR, Role.OWNER])
def test_editors_and_owners_may_revoke(issuer, badge, role):
    award = award_to(badge, "sam@example.org")
    person = member(issuer, role, f"{role}@example.org")
    html = shown(person.get(listing(issuer)))
    assert "Revoke selected" in html
    response = person.post(
        f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/",
        {"revocation_reason": "Issued in error"},
    )
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Issued in error"


def test_writes_need_the_csrf_token(csrf_client_logged_in, issuer, badge):
    award = award_to(badge, "sam@example.org")
    base = f"/issuers/{issuer.entity_id}/awards"
    assert (
        csrf_client_logged_in.post(
            f"{base}/{award.entity_id}/revoke/", {"revocation_reason": "x"}
        ).status_code
        == 403
    )
    assert (
        csrf_client_logged_in.post(
            f"{base}/revoke/", {"award": award.entity_id, "revocation_reason": "x"}
        ).status_code
        == 403
    )
    award.refresh_from_db()
    assert not award.revoked


def test_pages_answer_only_their_methods(client_logged_in, issuer, badge):
    award = award_to(badge, "sam@example.org")
    assert client_logged_in.post(listing(issuer)).status_code == 405
    assert (
        client_logged_in.post(f"/issuers/{issuer.entity_id}/awards/export.csv").status_code == 405
    )
    assert client_logged_in.get(f"/issuers/{issuer.entity_id}/awards/revoke/").status_code == 405
    revoke = f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/"
    assert client_logged_in.delete(revoke).status_code == 405


# The list


def test_the_list_shows_each_award_with_its_status_and_answer(client_logged_in, issuer, badge):
    other = BadgeClassFactory(issuer=issuer, name="Rowing")
    award_to(badge, "valid@example.org", recipient_name="Val Id", acceptance="Accepted")
    award_to(badge, "revoked@example.org", revoked=True, revocation_reason="Copied the work")
    award_to(other, "expired@example.org", expires=timezone.now() - timedelta(days=1))
    html = shown(client_logged_in.get(listing(issuer)))
    assert recipients_in(html) == [
        "expired@example.org",
        "revoked@example.org",
        "valid@example.org",
    ]
    for recipient, state in [
        ("valid@example.org", "valid"),
        ("revoked@example.org", "revoked"),
        ("expired@example.org", "expired"),
    ]:
        row = html.split(recipient, 1)[1].split("</tr>", 1)[0]
        assert f"status-{state}" in row, recipient
    assert "Val Id" in html and "Accepted" in html and "Copied the work" in html
    assert "Rowing" in html and "Knot Tying" in html
    badge_only = shown(client_logged_in.get(listing(issuer, badge)))
    assert recipients_in(badge_only) == ["revoked@example.org", "valid@example.org"]


def test_an_empty_list_says_what_to_do(client_logged_in, issuer, badge):
    html = shown(client_logged_in.get(listing(issuer)))
    assert "No awards yet" in html and "CSV file" in html
    assert f'href="/issuers/{issuer.entity_id}/badges/"' in html
    html = shown(client_logged_in.get(listing(issuer, badge)))
    assert f'href="/issuers/{issuer.entity_id}/badges/{badge.entity_id}/award/"' in html
    html = shown(client_logged_in.get(listing(issuer) + "?recipient=nobody"))
    assert "No awards match" in html


def test_search_by_recipient_prefix_and_exact(client_logged_in, issuer, badge):
    for recipient in (
        "ada@example.org",
        "ada.l@example.org",
        "adam@example.org",
        "bob@example.org",
    ):
        award_to(badge, recipient)
    html = shown(client_logged_in.get(listing(issuer) + "?recipient=%20ADA"))
    assert sorted(recipients_in(html)) == [
        "ada.l@example.org",
        "ada@example.org",
        "adam@example.org",
    ]
    html = shown(client_logged_in.get(listing(issuer) + "?recipient=Ada@Example.org&match=exact"))
    assert recipients_in(html) == ["ada@example.org"]
    html = shown(client_logged_in.get(listing(issuer) + "?recipient=ada.&match=prefix"))
    assert recipients_in(html) == ["ada.l@example.org"]
    # A substring in the middle is no prefix: nothing is scanned for it.
    html = shown(client_logged_in.get(listing(issuer) + "?recipient=example"))
    assert recipients_in(html) == []


RECIPIENT_INDEX = next(
    index.name
    for index in Assertion._meta.indexes
    if index.fields == ["issuer", "recipient_plaintext", "id"]
)


@pytest.mark.parametrize("of_badge_class", [False, True])
def test_the_prefix_search_is_a_range_on_the_recipient_index(
    client_logged_in, issuer, badge, of_badge_class
):
    award_to(badge, "ada@example.org")
    with CaptureQueriesContext(connection) as captured:
        html = shown(
            client_logged_in.get(
                listing(issuer, badge if of_badge_class else None) + "?recipient=ad"
            )
        )
    assert recipients_in(html) == ["ada@example.org"]
    (listed,) = [
        q["sql"] for q in captured.captured_queries if 'recipient_plaintext" >=' in q["sql"]
    ]
    assert "LIKE" not in listed.upper() and 'recipient_plaintext" <' in listed
    if connection.vendor == "sqlite":
        # The page's own query, as run: a SEARCH on the recipient index by the range.
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + listed)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert (
            f"USING INDEX {RECIPIENT_INDEX} "
            "(issuer_id=? AND recipient_plaintext>? AND recipient_plaintext<?)"
        ) in plan, plan


def test_filters_by_status_and_issue_dates(client_logged_in, issuer, badge):
    day = datetime(2024, 3, 15, 12, tzinfo=UTC)
    award_to(badge, "march@example.org", issued_on=day)
    award_to(badge, "april@example.org", issued_on=day + timedelta(days=31))
    award_to(badge, "revoked@example.org", issued_on=day, revoked=True, revocation_reason="x")
    award_to(badge, "expired@example.org", issued_on=day, expires=day + timedelta(days=1))

    def found(query: str) -> list[str]:
        return sorted(recipients_in(shown(client_logged_in.get(listing(issuer) + "?" + query))))

    assert found("status=valid") == ["april@example.org", "march@example.org"]
    assert found("status=revoked") == ["revoked@example.org"]
    assert found("status=expired") == ["expired@example.org"]
    assert found("issued_from=2024-04-01") == ["april@example.org"]
    assert found("issued_to=2024-03-15&status=valid") == ["march@example.org"]
    assert found("issued_from=2024-03-15&issued_to=2024-03-15") == [
        "expired@example.org",
        "march@example.org",
        "revoked@example.org",
    ]
    assert found("issued_to=9999-12-31&status=revoked") == ["revoked@example.org"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("status=bogus", "Select a valid choice"),
        ("match=contains", "Select a valid choice"),
        ("issued_from=yesterday", "Enter a valid date"),
        ("issued_from=0001-01-01", "between 1900-01-01 and 9999-12-31"),
        ("issued_to=1899-12-31", "between 1900-01-01 and 9999-12-31"),
        ("issued_from=99999-01-01", "Enter a valid date"),
        ("issued_from=2024-05-01&issued_to=2024-04-01", "on or after"),
        ("recipient=" + "a" * 501, "at most 500"),
        ("after=%%%", "start from the first page"),
        ("after=" + "A" * 600, "at most 500"),
        ("before=bm90LWEtbnVtYmVy", "start from the first page"),
        ("after=MQ&before=MQ", "not both"),
    ],
)
def test_a_bad_query_is_a_400_that_says_why(client_logged_in, issuer, badge, query, problem):
    award_to(badge, "ada@example.org")
    response = client_logged_in.get(listing(issuer) + "?" + query)
    assert response.status_code == 400
    assert problem in response.content.decode()
    export = client_logged_in.get(f"/issuers/{issuer.entity_id}/awards/export.csv?" + query)
    assert export.status_code == 400


def test_keyset_paging_walks_forwards_and_back(client_logged_in, issuer, badge):
    made = [award_to(badge, f"p{n:03}@example.org") for n in range(PAGE_SIZE * 2 + 5)]
    newest_first = [a.recipient_plaintext for a in reversed(made)]
    first = shown(client_logged_in.get(listing(issuer) + "?recipient=p"))
    assert recipients_in(first) == newest_first[:PAGE_SIZE]
    assert 'rel="prev"' not in first

    def link(html: str, rel: str) -> str:
        return html.split(f'rel="{rel}"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]

    second_url = link(first, "next").replace("&amp;", "&")
    assert "offset" not in second_url and "page=" not in second_url
    assert parse_qs(urlsplit(second_url).query)["recipient"] == ["p"]
    second = shown(client_logged_in.get(listing(issuer) + second_url))
    assert recipients_in(second) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    third = shown(
        client_logged_in.get(listing(issuer) + link(second, "next").replace("&amp;", "&"))
    )
    assert recipients_in(third) == newest_first[PAGE_SIZE * 2 :]
    assert 'rel="next"' not in third
    back = shown(client_logged_in.get(listing(issuer) + link(third, "prev").replace("&amp;", "&")))
    assert recipients_in(back) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    front = shown(client_logged_in.get(listing(issuer) + link(back, "prev").replace("&amp;", "&")))
    assert recipients_in(front) == newest_first[:PAGE_SIZE]
    assert 'rel="prev"' not in front


@pytest.mark.parametrize("n", [1, PAGE_SIZE + 3])
def test_the_list_costs_the_same_queries_however_many_awards(
    client_logged_in, issuer, badge, n, django_assert_num_queries
):
    other = BadgeClassFactory(issuer=issuer)
    for i in range(n):
        award_to(badge if i % 2 else other, f"q{i}@example.org")
    # session, user, issuer, role, one page of awards (no COUNT)
    with django_assert_num_queries(5) as captured:
        shown(client_logged_in.get(listing(issuer) + "?recipient=q&status=valid"))
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    # session, user, the badge class with its issuer and the role (one read), the page
    with django_assert_num_queries(4):
        shown(client_logged_in.get(listing(issuer, badge)))


# Revoking


def test_revoking_one_award_asks_for_a_reason_and_shows_on_its_public_page(
    client_logged_in, issuer, badge
):
    award = award_to(badge, "sam@example.org")
    revoke = f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/"
    html = shown(client_logged_in.get(revoke + f"?next={listing(issuer, badge)}"))
    assert "Revoke this award?" in html and "sam@example.org" in html
    response = client_logged_in.post(revoke, {"revocation_reason": "   "})
    assert response.status_code == 400
    assert "Say why the award is revoked." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    response = client_logged_in.post(
        revoke, {"revocation_reason": "x" * 501, "next": listing(issuer)}
    )
    assert response.status_code == 400
    award.refresh_from_db()
    assert not award.revoked

    response = client_logged_in.post(
        revoke, {"revocation_reason": "Issued in error", "next": listing(issuer, badge)}
    )
    assert response.status_code == 302 and response["Location"] == listing(issuer, badge)
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Issued in error"
    public = Client().get(f"/public/assertions/{award.entity_id}", HTTP_ACCEPT=HTML)
    assert public.status_code == 200
    page = public.content.decode()
    assert "Revoked" in page and "Issued in error" in page
    listed = shown(client_logged_in.get(listing(issuer)))
    assert "status-revoked" in listed and "Revoked the award to sam@example.org" in listed

    # Again: already revoked, nothing changes.
    again = client_logged_in.post(revoke, {"revocation_reason": "Other"}, follow=True)
    assert "already revoked" in again.content.decode()
    award.refresh_from_db()
    assert award.revocation_reason == "Issued in error"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/account/"])
def test_revoking_never_redirects_off_the_issuer(client_logged_in, issuer, badge, target):
    award = award_to(badge, "sam@example.org")
    response = client_logged_in.post(
        f"/issuers/{issuer.entity_id}/awards/{award.entity_id}/revoke/",
        {"revocation_reason": "Mistake", "next": target},
    )
    assert response.status_code == 302 and response["Location"] == listing(issuer)


def test_revoking_the_ticked_awards_skips_those_already_revoked(client_logged_in, issuer, badge):
    live = [award_to(badge, f"live{n}@example.org") for n in range(3)]
    done = award_to(badge, "done@example.org", revoked=True, revocation_reason="Earlier")
    theirs = award_to(BadgeClassFactory(), "elsewhere@example.org")
    response = client_logged_in.post(
        f"/issuers/{issuer.entity_id}/awards/revoke/",
        {
            "award": [a.entity_id for a in live] + [done.entity_id, theirs.entity_id],
            "revocation_reason": "Course cancelled",
            "next": listing(issuer, badge),
        },
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == listing(issuer, badge)
    assert "Revoked 3 awards." in html
    assert "Skipped 1 already revoked: done@example.org." in html
    assert "1 of the ticked awards are not this issuer" in html
    for award in live:
        award.refresh_from_db()
        assert award.revoked and award.revocation_reason == "Course cancelled"
    done.refresh_from_db()
    theirs.refresh_from_db()
    assert done.revocation_reason == "Earlier" and not theirs.revoked


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"revocation_reason": "No awards"}, "Tick the awards to revoke first."),
        ({"award": ["x"] * 1, "revocation_reason": ""}, "Say why the award is revoked."),
        ({"award": [f"a{n}" for n in range(101)], "revocation_reason": "x"}, "at most 100"),
        ({"award": ["<script>"], "revocation_reason": "x"}, "not a list of awards"),
    ],
)
def test_a_bad_bulk_revoke_is_a_400_and_keeps_the_ticks(
    client_logged_in, issuer, badge, data, problem
):
    award = award_to(badge, "sam@example.org")
    if data.get("award") == ["x"]:
        data = {**data, "award": [award.entity_id]}
    response = client_logged_in.post(f"/issuers/{issuer.entity_id}/awards/revoke/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert problem in html
    if data.get("award") == [award.entity_id]:
        assert f'value="{award.entity_id}"' in html and "checked" in html
    award.refresh_from_db()
    assert not award.revoked


# Export


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="awards-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_is_the_filtered_list_as_csv(client_logged_in, issuer, badge, monkeypatch):
    from laurels.web import awards_list_views

    monkeypatch.setattr(awards_list_views, "EXPORT_CHUNK", 2)  # several keyset chunks
    made = [award_to(badge, f"e{n}@example.org") for n in range(5)]
    award_to(badge, "other@example.org")
    award_to(badge, "gone@example.org", revoked=True, revocation_reason="Wrong person")
    rows = read_csv(
        client_logged_in.get(f"/issuers/{issuer.entity_id}/awards/export.csv?recipient=e")
    )
    assert [r["recipient"] for r in rows] == [a.recipient_plaintext for a in reversed(made)]
    assert rows[0]["award"] == made[-1].entity_id
    assert rows[0]["badge_class_name"] == "Knot Tying" and rows[0]["status"] == "valid"
    assert rows[0]["url"].endswith(f"/public/assertions/{made[-1].entity_id}")
    revoked = read_csv(
        client_logged_in.get(
            f"/issuers/{issuer.entity_id}/badges/{badge.entity_id}/awards/export.csv?status=revoked"
        )
    )
    assert [(r["recipient"], r["status"], r["revocation_reason"]) for r in revoked] == [
        ("gone@example.org", "revoked", "Wrong person")
    ]


def test_the_export_escapes_what_a_spreadsheet_would_run(client_logged_in, issuer, badge):
    award_to(
        badge,
        "formula@example.org",
        recipient_name='=HYPERLINK("http://evil.example","x")',
        revoked=True,
        revocation_reason="+1+cmd|' /C calc'!A0",
    )
    award_to(badge, "at@example.org", recipient_name="@SUM(1+1)")
    award_to(badge, "minus@example.org", recipient_name="-2+3")
    award_to(badge, "plain@example.org", recipient_name="Plain Name")
    rows = read_csv(client_logged_in.get(f"/issuers/{issuer.entity_id}/awards/export.csv"))
    by = {r["recipient"]: r for r in rows}
    assert by["formula@example.org"]["recipient_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert by["formula@example.org"]["revocation_reason"] == "'+1+cmd|' /C calc'!A0"
    assert by["at@example.org"]["recipient_name"] == "'@SUM(1+1)"
    assert by["minus@example.org"]["recipient_name"] == "'-2+3"
    assert by["plain@example.org"]["recipient_name"] == "Plain Name"
    assert csv_cell("\t=1") == "'\t=1" and csv_cell(None) == "" and csv_cell(3) == "3"


def test_the_export_reads_in_chunks_not_all_at_once(client_logged_in, issuer, badge, monkeypatch):
    from laurels.web import awards_list_views

    monkeypatch.setattr(awards_list_views, "EXPORT_CHUNK", 3)
    for n in range(7):
        award_to(badge, f"c{n}@example.org")
    response = client_logged_in.get(f"/issuers/{issuer.entity_id}/awards/export.csv")
    with CaptureQueriesContext(connection) as captured:
        body = b"".join(response.streaming_content).decode()
    reads = [q["sql"] for q in captured.captured_queries if "issuing_assertion" in q["sql"]]
    assert len(reads) == 3  # 3 + 3 + 1 rows, by keyset
    assert all("LIMIT 3" in sql for sql in reads) and "OFFSET" not in " ".join(reads).upper()
    assert body.count("@example.org") == 7
