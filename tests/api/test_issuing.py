"""The issuing endpoints through a signed-in session: shapes, writes, and bad input."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    IssuerFactory,
    UserFactory,
    png_data_uri,
)
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db


def post(client, path, data, **headers):
    return client.post(path, json.dumps(data), content_type="application/json", headers=headers)


def put(client, path, data):
    return client.put(path, json.dumps(data), content_type="application/json")


def results(response, status=200):
    assert response.status_code == status, response.content[:1000]
    body = response.json()
    assert body["status"]["success"] is True
    return body["result"]


@pytest.fixture
def issuer(user):
    return IssuerFactory(owner=user)


@pytest.fixture
def badge_class(issuer):
    return BadgeClassFactory(issuer=issuer)


def award_body(identity="earner@example.org", **extra):
    return {"recipient": {"identity": identity, "type": "email"}, **extra}


class TestIssuers:
    def test_create_makes_the_creator_owner(self, client_logged_in, user):
        created = results(
            post(
                client_logged_in,
                "/v2/issuers",
                {
                    "name": "Open University",
                    "url": "https://ou.example.org",
                    "email": "Badges@OU.example.org",
                    "description": "We teach.",
                    "image": png_data_uri(),
                },
            ),
            201,
        )[0]
        assert created["entityType"] == "Issuer"
        assert (
            created["openBadgeId"] == f"http://127.0.0.1:8000/public/issuers/{created['entityId']}"
        )
        assert created["email"] == "badges@ou.example.org"
        assert created["createdBy"] == user.entity_id
        assert created["staff"] == [{"user": user.entity_id, "email": user.email, "role": "owner"}]
        assert created["image"].endswith("/image")
        assert created["createdAt"].endswith("Z")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "", "url": "https://x.example.org", "email": "a@x.example.org"}, "name"),
            ({"name": "X", "url": "not a url", "email": "a@x.example.org"}, "url"),
            ({"name": "X", "url": "https://x.example.org", "email": "nope"}, "email"),
            (
                {
                    "name": "X",
                    "url": "https://x.example.org",
                    "email": "a@x.example.org",
                    "image": "data:image/gif;base64,R0lGODlh",
                },
                "image",
            ),
        ],
    )
    def test_invalid_input_creates_nothing(self, client_logged_in, body, field):
        response = post(client_logged_in, "/v2/issuers", body)
        assert response.status_code == 400
        assert field in response.json()["fieldErrors"]
        assert not Issuer.objects.exists()

    def test_list_shows_only_my_issuers(self, client_logged_in, issuer):
        IssuerFactory(owner=UserFactory())
        listed = results(client_logged_in.get("/v2/issuers"))
        assert [i["entityId"] for i in listed] == [issuer.entity_id]

    def test_update_and_staff(self, client_logged_in, issuer, user):
        colleague = UserFactory(email="colleague@example.org")
        updated = results(
            put(
                client_logged_in,
                f"/v2/issuers/{issuer.entity_id}",
                {
                    "name": "Renamed",
                    "staff": [
                        {"user": user.entity_id, "role": "owner"},
                        {"email": "colleague@example.org", "role": "editor"},
                    ],
                },
            )
        )[0]
        assert updated["name"] == "Renamed"
        # The colleague is invited, not added: nobody joins without accepting.
        assert {(s["email"], s["role"]) for s in updated["staff"]} == {(user.email, "owner")}
        invited = results(client_logged_in.get(f"/v2/issuers/{issuer.entity_id}/staff/invitations"))
        assert [(i["email"], i["role"]) for i in invited] == [(colleague.email, "editor")]
        # Once a member, the same list changes their role at once.
        IssuerStaff.objects.create(issuer=issuer, user=colleague, role="staff")
        changed = results(
            put(
                client_logged_in,
                f"/v2/issuers/{issuer.entity_id}/staff",
                {
                    "staff": [
                        {"user": user.entity_id, "role": "owner"},
                        {"email": "COLLEAGUE@example.org", "role": "editor"},
                    ]
                },
            )
        )
        assert {(s["email"], s["role"]) for s in changed} == {
            (user.email, "owner"),
            (colleague.email, "editor"),
        }

    def test_staff_must_keep_an_owner(self, client_logged_in, issuer, user):
        response = put(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/staff",
            {"staff": [{"user": user.entity_id, "role": "editor"}]},
        )
        assert response.status_code == 400
        assert IssuerStaff.objects.get(issuer=issuer).role == "owner"

    def test_staff_with_unknown_person(self, client_logged_in, issuer, user):
        response = put(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/staff",
            {
                "staff": [
                    {"user": user.entity_id, "role": "owner"},
                    {"user": "no-such-entity-id", "role": "staff"},
                ]
            },
        )
        assert response.status_code == 400
        assert "no-such-entity-id" in response.json()["fieldErrors"]["staff"][0]

    def test_staff_with_an_address_nobody_holds_is_invited(self, client_logged_in, issuer, user):
        response = put(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/staff",
            {
                "staff": [
                    {"user": user.entity_id, "role": "owner"},
                    {"email": "ghost@example.org", "role": "staff"},
                ]
            },
        )
        assert response.status_code == 200
        assert [s["email"] for s in response.json()["result"]] == [user.email]
        invited = results(client_logged_in.get(f"/v2/issuers/{issuer.entity_id}/staff/invitations"))
        assert [(i["email"], i["role"]) for i in invited] == [("ghost@example.org", "staff")]

    def test_delete(self, client_logged_in, issuer):
        response = client_logged_in.delete(f"/v2/issuers/{issuer.entity_id}")
        assert (response.status_code, response.content) == (204, b"")
        assert not Issuer.objects.exists()

    def test_delete_refused_once_it_has_awarded(self, client_logged_in, badge_class):
        AssertionFactory(badge_class=badge_class)
        response = client_logged_in.delete(f"/v2/issuers/{badge_class.issuer.entity_id}")
        assert response.status_code == 409


class TestBadgeClasses:
    def test_create_with_expiry_and_criteria(self, client_logged_in, issuer):
        created = results(
            post(
                client_logged_in,
                f"/v2/issuers/{issuer.entity_id}/badgeclasses",
                {
                    "name": "First Aid",
                    "description": "Can help.",
                    "image": png_data_uri(),
                    "criteriaNarrative": "Pass the **course**.",
                    "tags": ["health", " "],
                    "alignments": [{"targetName": "Safety", "targetUrl": "https://x.example.org"}],
                    "expires": {"amount": 2, "duration": "years"},
                },
            ),
            201,
        )[0]
        assert created["issuer"] == issuer.entity_id
        assert created["expires"] == {"amount": 2, "duration": "years"}
        assert created["tags"] == ["health"]
        assert created["criteriaNarrative"] == "Pass the **course**."

    def test_needs_an_image_but_not_criteria(self, client_logged_in, issuer):
        no_criteria = post(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/badgeclasses",
            {"name": "X", "description": "Y", "image": png_data_uri()},
        )
        assert no_criteria.status_code == 201
        BadgeClass.objects.all().delete()
        no_image = post(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/badgeclasses",
            {"name": "X", "description": "Y", "criteriaUrl": "https://c.example.org"},
        )
        assert no_image.status_code == 400
        assert "image" in no_image.json()["fieldErrors"]
        assert not BadgeClass.objects.exists()

    @pytest.mark.parametrize(
        "alignments",
        [
            [{"targetName": "X", "targetUrl": "javascript:alert(1)"}],
            [{"targetName": "X", "targetUrl": "data:text/html,<script>alert(1)</script>"}],
            ["not an object"],
        ],
    )
    def test_alignments_must_link_to_the_web(self, client_logged_in, badge_class, alignments):
        """An alignment's targetUrl is published and linked: only http(s), on create and
        on update alike."""
        created = post(
            client_logged_in,
            f"/v2/issuers/{badge_class.issuer.entity_id}/badgeclasses",
            {"name": "A", "description": "A", "image": png_data_uri(), "alignments": alignments},
        )
        assert created.status_code == 400, created.content
        assert any(k.startswith("alignments") for k in created.json()["fieldErrors"])
        updated = put(
            client_logged_in,
            f"/v2/badgeclasses/{badge_class.entity_id}",
            {"alignments": alignments},
        )
        assert updated.status_code == 400, updated.content
        badge_class.refresh_from_db()
        assert badge_class.alignments == []

    def test_svg_image_is_sanitized_on_the_way_in(self, client_logged_in, issuer):
        svg = (
            'data:image/svg+xml;utf8,<svg xmlns="http://www.w3.org/2000/svg">'
            '<script>alert(1)</script><circle r="4"/></svg>'
        )
        created = results(
            post(
                client_logged_in,
                f"/v2/issuers/{issuer.entity_id}/badgeclasses",
                {
                    "name": "S",
                    "description": "S",
                    "image": svg,
                    "criteriaUrl": "https://c.example.org",
                },
            ),
            201,
        )
        stored = BadgeClass.objects.get(entity_id=created[0]["entityId"]).image.read()
        assert b"script" not in stored and b"circle" in stored

    def test_update_and_list(self, client_logged_in, badge_class):
        results(
            put(
                client_logged_in,
                f"/v2/badgeclasses/{badge_class.entity_id}",
                {"name": "Renamed", "expires": {"amount": 30, "duration": "days"}},
            )
        )
        listed = results(client_logged_in.get("/v2/badgeclasses"))
        assert listed[0]["name"] == "Renamed"
        assert listed[0]["expires"] == {"amount": 30, "duration": "days"}

    def test_delete_is_refused_with_409_while_awards_exist(self, client_logged_in, badge_class):
        AssertionFactory(badge_class=badge_class)
        response = client_logged_in.delete(f"/v2/badgeclasses/{badge_class.entity_id}")
        assert response.status_code == 409
        assert BadgeClass.objects.filter(pk=badge_class.pk).exists()

    def test_delete_without_awards(self, client_logged_in, badge_class):
        response = client_logged_in.delete(f"/v2/badgeclasses/{badge_class.entity_id}")
        assert (response.status_code, response.content) == (204, b"")
        assert not BadgeClass.objects.exists()


class TestAwards:
    def test_award_hashes_the_recipient_and_applies_the_expiry_rule(
        self, client_logged_in, badge_class
    ):
        badge_class.expires_amount, badge_class.expires_duration = 1, "months"
        badge_class.save()
        awarded = results(
            post(
                client_logged_in,
                f"/v2/badgeclasses/{badge_class.entity_id}/assertions",
                award_body(
                    "Earner@Example.org",
                    narrative="Well done",
                    issuedOn="2026-01-31T10:00:00Z",
                    evidence=[{"url": "https://e.example.org/1"}],
                ),
            ),
            201,
        )[0]
        recipient = awarded["recipient"]
        assert recipient["hashed"] is True and recipient["type"] == "email"
        assert recipient["plaintextIdentity"] == "earner@example.org"
        import hashlib

        assert (
            recipient["identity"]
            == "sha256$"
            + hashlib.sha256(("earner@example.org" + recipient["salt"]).encode()).hexdigest()
        )
        assert awarded["issuedOn"] == "2026-01-31T10:00:00Z"
        assert awarded["expires"] == "2026-02-28T10:00:00Z"  # month end clamped
        assert awarded["evidence"] == [{"url": "https://e.example.org/1", "narrative": None}]
        assert awarded["acceptance"] == "Unaccepted"

    def test_badgr_s_open_badge_id_recipient_type_is_an_id(self, client_logged_in, badge_class):
        """Badgr named a recipient by URL of its profile `openBadgeId`; Open Badges 2.0 calls
        that `id`, which is what the award shows."""
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        body = {"recipient": {"identity": "https://me.example.org/p", "type": "openBadgeId"}}
        made = results(post(client_logged_in, path, body), 201)[0]
        assert made["recipient"]["type"] == "id"
        assert made["recipient"]["identity"] == "https://me.example.org/p"
        assert made["recipient"]["hashed"] is False

    def test_unhashed_and_other_identity_types(self, client_logged_in, badge_class):
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        url = results(
            post(
                client_logged_in,
                path,
                {
                    "recipient": {
                        "identity": "https://me.example.org",
                        "type": "url",
                        "hashed": False,
                    }
                },
            ),
            201,
        )[0]
        assert url["recipient"]["identity"] == "https://me.example.org"
        phone = results(
            post(
                client_logged_in,
                path,
                {"recipient": {"identity": "+1 (555) 010-9999", "type": "telephone"}},
            ),
            201,
        )[0]
        assert phone["recipient"]["plaintextIdentity"] == "+15550109999"

    @pytest.mark.parametrize(
        "body",
        [
            {"recipient": {"identity": "not-an-email"}},
            {"recipient": {"identity": "x", "type": "url"}},
            {"recipient": {"identity": "a@example.org", "type": "fax"}},
            {"recipient": {"identity": "a@example.org"}, "evidence": [{"url": "nope"}]},
            {"recipient": {"identity": "a@example.org"}, "evidence": [{}]},
            {
                "recipient": {"identity": "a@example.org"},
                "issuedOn": "2026-02-01T00:00:00Z",
                "expires": "2026-01-01T00:00:00Z",
            },
            {},
        ],
    )
    def test_invalid_awards_are_refused(self, client_logged_in, badge_class, body):
        response = post(
            client_logged_in, f"/v2/badgeclasses/{badge_class.entity_id}/assertions", body
        )
        assert response.status_code == 400, response.content
        assert response.json()["fieldErrors"] or response.json()["validationErrors"]
        assert not Assertion.objects.exists()

    def test_notify_emails_the_recipient(
        self, client_logged_in, badge_class, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            results(
                post(
                    client_logged_in,
                    f"/v2/badgeclasses/{badge_class.entity_id}/assertions",
                    award_body(notify=True),
                ),
                201,
            )
        assert delivered()[0].to == ["earner@example.org"]
        assert badge_class.name in delivered()[0].subject

    def test_no_duplicate_awards_when_asked(self, client_logged_in, badge_class):
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        results(post(client_logged_in, path, award_body()), 201)
        refused = post(client_logged_in, path, award_body(allowDuplicateAwards=False))
        assert refused.status_code == 409
        results(post(client_logged_in, path, award_body()), 201)  # allowed by default
        assert Assertion.objects.count() == 2

    def test_award_through_the_issuer_by_each_name(self, client_logged_in, badge_class):
        path = f"/v2/issuers/{badge_class.issuer.entity_id}/assertions"
        for naming in (
            {"badgeclass": badge_class.entity_id},
            {
                "badgeclassOpenBadgeId": f"http://127.0.0.1:8000/public/badges/{badge_class.entity_id}"
            },
            {"badgeclassName": badge_class.name},
        ):
            awarded = results(post(client_logged_in, path, award_body(**naming)), 201)[0]
            assert awarded["badgeclass"] == badge_class.entity_id
        both = post(
            client_logged_in,
            path,
            award_body(badgeclass=badge_class.entity_id, badgeclassName=badge_class.name),
        )
        assert both.status_code == 400
        neither = post(client_logged_in, path, award_body())
        assert neither.status_code == 400
        other = post(client_logged_in, path, award_body(badgeclass=BadgeClassFactory().entity_id))
        assert other.status_code == 400

    def test_idempotency_key_awards_once(self, client_logged_in, badge_class):
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        first = post(client_logged_in, path, award_body(), **{"Idempotency-Key": "k-1"})
        again = post(client_logged_in, path, award_body(), **{"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert Assertion.objects.count() == 1
        different = post(
            client_logged_in, path, award_body("other@example.org"), **{"Idempotency-Key": "k-1"}
        )
        assert different.status_code == 422
        assert Assertion.objects.count() == 1

    def test_revoke_keeps_the_award_visible(self, client_logged_in, badge_class):
        assertion = AssertionFactory(badge_class=badge_class)
        missing = client_logged_in.delete(f"/v2/assertions/{assertion.entity_id}")
        assert missing.status_code == 400
        revoked = results(
            client_logged_in.delete(
                f"/v2/assertions/{assertion.entity_id}",
                json.dumps({"revocation_reason": "Cheated"}),
                content_type="application/json",
            )
        )[0]
        assert revoked["revoked"] is True and revoked["revocationReason"] == "Cheated"
        shown = results(client_logged_in.get(f"/v2/assertions/{assertion.entity_id}"))[0]
        assert shown["revoked"] is True
        twice = client_logged_in.delete(f"/v2/assertions/{assertion.entity_id}?revocation_reason=x")
        assert twice.status_code == 409

    def test_batch_revoke_reports_each_item(self, client_logged_in, badge_class):
        mine = AssertionFactory(badge_class=badge_class)
        foreign = AssertionFactory()
        answer = results(
            post(
                client_logged_in,
                "/v2/assertions/revoke",
                [
                    {"entityId": mine.entity_id, "revocationReason": "Error"},
                    {"entityId": foreign.entity_id, "revocationReason": "Error"},
                    {"entityId": "nope", "revocationReason": "Error"},
                ],
            )
        )
        assert [r["revoked"] for r in answer] == [True, False, False]
        foreign.refresh_from_db()
        assert not foreign.revoked

    def test_update_an_award(self, client_logged_in, badge_class):
        assertion = AssertionFactory(badge_class=badge_class)
        updated = results(
            put(
                client_logged_in,
                f"/v2/assertions/{assertion.entity_id}",
                {"narrative": "Updated", "evidence": [{"narrative": "Did it"}]},
            )
        )[0]
        assert updated["narrative"] == "Updated"
        assert updated["evidence"] == [{"url": None, "narrative": "Did it"}]


class TestBatch:
    def test_ten_thousand_recipients_in_one_request(self, client_logged_in, badge_class):
        body = {
            "assertions": [{"recipient": {"identity": f"r{n}@example.org"}} for n in range(10_000)]
        }
        created = results(
            post(client_logged_in, f"/v2/badgeclasses/{badge_class.entity_id}/issue", body), 201
        )
        assert len(created) == 10_000
        assert Assertion.objects.filter(badge_class=badge_class).count() == 10_000

    def test_one_invalid_recipient_awards_nobody(self, client_logged_in, badge_class):
        recipients = [{"recipient": {"identity": f"r{n}@example.org"}} for n in range(50)]
        recipients[37] = {"recipient": {"identity": "broken"}}
        response = post(
            client_logged_in,
            f"/v2/badgeclasses/{badge_class.entity_id}/issue",
            {"assertions": recipients},
        )
        assert response.status_code == 400
        assert "assertions.37.recipient" in response.json()["fieldErrors"]
        assert not Assertion.objects.exists()

    def test_a_retried_batch_awards_once(self, client_logged_in, badge_class):
        body = {"assertions": [{"recipient": {"identity": f"r{n}@example.org"}} for n in range(20)]}
        path = f"/v2/badgeclasses/{badge_class.entity_id}/issue"
        first = post(client_logged_in, path, body, **{"Idempotency-Key": "batch-7"})
        second = post(client_logged_in, path, body, **{"Idempotency-Key": "batch-7"})
        assert first.json() == second.json()
        assert Assertion.objects.count() == 20

    def test_duplicates_inside_a_batch_when_refused(self, client_logged_in, badge_class):
        body = {
            "allowDuplicateAwards": False,
            "assertions": [
                {"recipient": {"identity": "a@example.org"}},
                {"recipient": {"identity": "A@example.org"}},
            ],
        }
        response = post(client_logged_in, f"/v2/badgeclasses/{badge_class.entity_id}/issue", body)
        assert response.status_code == 409
        assert not Assertion.objects.exists()


class TestListsAndFeeds:
    def test_filters_and_cursor_pagination(self, client_logged_in, badge_class):
        for n in range(7):
            AssertionFactory(badge_class=badge_class, recipient_plaintext=f"p{n % 2}@example.org")
        AssertionFactory(badge_class=badge_class, revoked=True)
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        first = client_logged_in.get(path, {"num": 3, "include_revoked": "true"})
        assert len(results(first)) == 3
        next_url = first["Link"].split(">")[0].lstrip("<")
        seen = [a["entityId"] for a in results(first)]
        while next_url:
            page = client_logged_in.get(next_url.replace("http://testserver", ""))
            seen += [a["entityId"] for a in results(page)]
            next_url = page.get("Link", "").split(">")[0].lstrip("<")
        assert len(seen) == len(set(seen)) == 8
        assert len(results(client_logged_in.get(path, {"revoked": "true"}))) == 1
        assert len(results(client_logged_in.get(path, {"recipient": "P1@example.org"}))) == 3
        issuer_path = f"/v2/issuers/{badge_class.issuer.entity_id}/assertions"
        assert len(results(client_logged_in.get(issuer_path, {"revoked": "false"}))) == 7

    def test_bad_cursor_and_num(self, client_logged_in, badge_class):
        path = f"/v2/badgeclasses/{badge_class.entity_id}/assertions"
        assert client_logged_in.get(path, {"cursor": "%%%"}).status_code == 400
        assert client_logged_in.get(path, {"num": "many"}).status_code == 400

    def test_change_feeds(self, client_logged_in, badge_class):
        first = client_logged_in.get("/v2/assertions/changed").json()
        assert first["result"] == [] and first["timestamp"].endswith("Z")
        assertion = AssertionFactory(badge_class=badge_class)
        changed = client_logged_in.get(
            "/v2/assertions/changed", {"since": first["timestamp"]}
        ).json()
        assert [a["entityId"] for a in changed["result"]] == [assertion.entity_id]
        later = client_logged_in.get(
            "/v2/assertions/changed", {"since": changed["timestamp"]}
        ).json()
        assert later["result"] == []
        assert (
            results(client_logged_in.get("/v2/badgeclasses/changed"))[0]["entityId"]
            == badge_class.entity_id
        )
        assert (
            results(client_logged_in.get("/v2/issuers/changed"))[0]["entityId"]
            == badge_class.issuer.entity_id
        )

    @pytest.mark.parametrize(
        "path",
        [
            "/v2/issuers",
            "/v2/badgeclasses",
            "/v2/issuers/{issuer}/assertions",
            "/v2/badgeclasses/{badge}/assertions",
            "/v2/issuers/{issuer}/badgeclasses",
            "/v2/assertions/changed",
        ],
    )
    def test_query_count_does_not_grow_with_rows(self, client_logged_in, user, path):
        def count_for(n):
            issuer = IssuerFactory(owner=user)
            badge = BadgeClassFactory(issuer=issuer)
            for _ in range(n):
                AssertionFactory(badge_class=badge)
                BadgeClassFactory(issuer=issuer)
            with CaptureQueriesContext(connection) as queries:
                response = client_logged_in.get(
                    path.format(issuer=issuer.entity_id, badge=badge.entity_id)
                )
            assert response.status_code == 200
            return len(queries)

        assert count_for(2) == count_for(12)


class TestImages:
    def test_the_image_urls_answer_with_the_stored_image(self, client_logged_in, issuer, client):
        created = results(
            post(
                client_logged_in,
                f"/v2/issuers/{issuer.entity_id}/badgeclasses",
                {
                    "name": "Pic",
                    "description": "D",
                    "image": png_data_uri(),
                    "criteriaUrl": "https://c.example.org",
                },
            ),
            201,
        )[0]
        image = client.get(created["image"].replace("http://127.0.0.1:8000", ""))
        assert image.status_code == 200
        assert image["Content-Type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
        assert "default-src 'none'" in image["Content-Security-Policy"]
        assert client.get("/public/badges/nope/image").status_code == 404
        assert client.get(f"/public/issuers/{issuer.entity_id}/image").status_code == 404


class TestMultipartImages:
    def test_upload_png_and_svg(self, client_logged_in, badge_class):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from tests.factories import png_bytes

        def upload(name, data, content_type):
            # PUT with a multipart body, as curl -X PUT -F image=@file sends it
            from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

            body = encode_multipart(
                BOUNDARY, {"image": SimpleUploadedFile(name, data, content_type)}
            )
            return client_logged_in.put(
                f"/v2/badgeclasses/{badge_class.entity_id}/image",
                body,
                content_type=MULTIPART_CONTENT,
            )

        assert upload("b.png", png_bytes(), "image/png").status_code == 200
        badge_class.refresh_from_db()
        assert badge_class.image.name.endswith(".png")
        svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><circle r="3"/></svg>'
        assert upload("b.svg", svg, "image/svg+xml").status_code == 200
        badge_class.refresh_from_db()
        assert b"onload" not in badge_class.image.read()
        refused = upload("b.gif", b"GIF89a...", "image/gif")
        assert refused.status_code == 400
        assert "PNG or an SVG" in str(refused.json()["fieldErrors"])

    def test_upload_over_the_cap(self, client_logged_in, issuer, settings):
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

        settings.LAURELS_IMAGE_MAX_BYTES = 1024
        body = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("big.png", b"\0" * 5000)})
        response = client_logged_in.put(
            f"/v2/issuers/{issuer.entity_id}/image", body, content_type=MULTIPART_CONTENT
        )
        assert response.status_code == 413


def test_an_award_reads_back_from_the_database_as_it_was_answered(client_logged_in, badge_class):
    """Batch awards are inserted with prepared statements: every column must round-trip."""
    body = {
        "assertions": [
            {
                "recipient": {
                    "identity": "Round@Trip.example.org",
                    "plaintextIdentity": "Rou Trip",
                },
                "narrative": "Narrated",
                "issuedOn": "2026-03-01T08:30:00Z",
                "expires": "2027-03-01T08:30:00Z",
                "evidence": [{"url": "https://e.example.org/1", "narrative": "Look"}],
            },
            {"recipient": {"identity": "https://me.example.org", "type": "url", "hashed": False}},
        ]
    }
    answered = results(
        post(client_logged_in, f"/v2/badgeclasses/{badge_class.entity_id}/issue", body), 201
    )
    for award in answered:
        stored = results(client_logged_in.get(f"/v2/assertions/{award['entityId']}"))[0]
        assert stored == award
    assert Assertion.objects.get(entity_id=answered[0]["entityId"]).recipient_name == "Rou Trip"
