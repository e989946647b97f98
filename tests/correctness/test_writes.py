"""One request's writes commit together or not at all, and every write goes through the
services: the API, the admin and the CLI alike."""

import json

import pytest
from django.test import Client

from laurels import cli
from laurels.accounts.models import User
from laurels.connect.models import Application, AuditEvent
from laurels.core.errors import Conflict
from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion, Issuer, IssuerStaff, StaffInvitation
from laurels.openbadges.documents import badge_class_criteria_url, badge_class_document
from tests.connect.oauth_helpers import register_app
from tests.factories import AssertionFactory, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db


def put(client, path, data):
    return client.put(path, json.dumps(data), content_type="application/json")


@pytest.fixture
def issuer(user):
    return IssuerFactory(owner=user, name="Before")


class TestIssuerWithStaff:
    """`PUT /v2/issuers/{id}` changes the details and the staff in one transaction."""

    @pytest.mark.parametrize(
        "staff",
        [
            [{"user": "no-such-entity-id", "role": "staff"}],  # not a member
            [{"email": "colleague@example.org", "role": "owner"}],  # leaves no owner member
            [{"role": "owner"}],  # names nobody
        ],
    )
    def test_a_bad_staff_list_changes_nothing(self, client_logged_in, issuer, user, staff):
        response = put(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}",
            {"name": "After", "description": "Changed", "staff": staff},
        )
        assert response.status_code == 400, response.content
        issuer.refresh_from_db()
        assert (issuer.name, issuer.description) == ("Before", "Awards badges.")
        assert list(IssuerStaff.objects.filter(issuer=issuer).values_list("user", "role")) == [
            (user.pk, "owner")
        ]
        assert not StaffInvitation.objects.filter(issuer=issuer).exists()
        fixed = [{"user": user.entity_id, "role": "owner"}]
        response = put(
            client_logged_in, f"/v2/issuers/{issuer.entity_id}", {"name": "After", "staff": fixed}
        )
        assert response.status_code == 200, response.content
        assert Issuer.objects.get(pk=issuer.pk).name == "After"


# --- audit ---------------------------------------------------------------------------------


def audit(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=kind).order_by("pk"))


class TestAudit:
    """Revocations, staff changes, deletions and signing keys leave an audit row, written
    with the change, naming who made it."""

    def test_a_revocation(self, client_logged_in, user):
        award = AssertionFactory(badge_class=BadgeClassFactory(issuer=IssuerFactory(owner=user)))
        response = client_logged_in.delete(
            f"/v2/assertions/{award.entity_id}",
            json.dumps({"revocation_reason": "Issued by mistake"}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        [event] = audit("award_revoked")
        assert event.user == user
        assert event.detail["assertion"] == award.entity_id
        assert event.detail["reason"] == "Issued by mistake"

    def test_a_staff_change_and_an_accepted_invitation(self, client_logged_in, user, issuer):
        colleague = UserFactory()
        put(
            client_logged_in,
            f"/v2/issuers/{issuer.entity_id}/staff",
            {
                "staff": [
                    {"user": user.entity_id, "role": "owner"},
                    {"email": colleague.email, "role": "editor"},
                ]
            },
        )
        [changed] = audit("staff_changed")
        assert (changed.user, changed.detail["invited"]) == (user, [colleague.email])
        invitation = StaffInvitation.objects.get(issuer=issuer)
        issuing.staff_invitation_accept(user=colleague, entity_id=invitation.entity_id)
        joined = audit("staff_changed")[-1]
        assert joined.user == colleague
        assert [colleague.entity_id, "editor"] in joined.detail["staff"]

    def test_deleting_a_badge_class_and_an_issuer(self, client_logged_in, user, issuer):
        badge_class = BadgeClassFactory(issuer=issuer)
        assert (
            client_logged_in.delete(f"/v2/badgeclasses/{badge_class.entity_id}").status_code == 204
        )
        assert client_logged_in.delete(f"/v2/issuers/{issuer.entity_id}").status_code == 204
        [gone_class] = audit("badge_class_deleted")
        [gone_issuer] = audit("issuer_deleted")
        assert gone_class.detail["badge_class"] == badge_class.entity_id
        assert (gone_issuer.user, gone_issuer.detail["issuer"]) == (user, issuer.entity_id)

    def test_signing_keys_from_the_command_line(self, issuer):
        for action in ("enable", "rotate", "disable"):
            assert cli.main(["signing", action, issuer.entity_id]) == 0
        changes = [e.detail["change"] for e in audit("signing_key_changed")]
        assert changes == ["enabled", "rotated", "disabled"]

    def test_two_revocations_at_once_make_one(self, user):
        """The second revoke reads the award again under a lock: a copy loaded before the
        first committed cannot revoke it twice (nor write a second audit row)."""
        award = AssertionFactory()
        stale = Assertion.objects.get(pk=award.pk)
        issuing.assertion_revoke(assertion=award, reason="First")
        with pytest.raises(Conflict):
            issuing.assertion_revoke(assertion=stale, reason="Second")
        award.refresh_from_db()
        assert award.revocation_reason == "First"
        assert len(audit("award_revoked")) == 1


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture
def admin_user():
    return User.objects.create_superuser("root@example.org", "an admin passphrase")


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


class TestAdmin:
    def test_awards_are_read_only(self, admin_client):
        award = AssertionFactory()
        page = admin_client.get(f"/admin/issuing/assertion/{award.pk}/change/")
        assert page.status_code == 200
        assert b'name="recipient_plaintext"' not in page.content
        posted = admin_client.post(
            f"/admin/issuing/assertion/{award.pk}/change/",
            {"recipient_plaintext": "someone-else@example.org"},
        )
        assert posted.status_code == 403
        assert (
            admin_client.post(
                f"/admin/issuing/assertion/{award.pk}/delete/", {"post": "yes"}
            ).status_code
            == 403
        )
        award.refresh_from_db()
        assert award.recipient_plaintext != "someone-else@example.org"

    def test_revoking_awards_goes_through_the_service(self, admin_client, admin_user):
        awards = [AssertionFactory(), AssertionFactory()]
        admin_client.post(
            "/admin/issuing/assertion/",
            {"action": "revoke", "reason": "", "_selected_action": [a.pk for a in awards]},
        )
        assert not Assertion.objects.filter(revoked=True).exists()  # a reason is needed
        response = admin_client.post(
            "/admin/issuing/assertion/",
            {
                "action": "revoke",
                "reason": "Exam fraud",
                "_selected_action": [a.pk for a in awards],
            },
        )
        assert response.status_code == 302
        for award in awards:
            award.refresh_from_db()
            assert (award.revoked, award.revocation_reason) == (True, "Exam fraud")
        assert [e.user for e in audit("award_revoked")] == [admin_user, admin_user]

    def test_staff_are_shown_not_edited(self, admin_client, user, issuer):
        page = admin_client.get(f"/admin/issuing/issuer/{issuer.pk}/change/")
        assert page.status_code == 200
        assert b"staff-0-role" not in page.content

    def test_an_issuer_edit_goes_through_the_service(self, admin_client, issuer):
        response = admin_client.post(
            f"/admin/issuing/issuer/{issuer.pk}/change/",
            {
                "name": "Renamed",
                "url": issuer.url,
                "email": " Badges@Example.ORG ",
                "description": issuer.description,
                "staff-TOTAL_FORMS": "1",
                "staff-INITIAL_FORMS": "1",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        issuer.refresh_from_db()
        assert (issuer.name, issuer.email) == ("Renamed", "badges@example.org")

    def test_a_badge_class_may_do_without_criteria(self, admin_client):
        """Criteria are optional, as in Badgr: the public page stands for them."""
        badge_class = BadgeClassFactory()
        response = admin_client.post(
            f"/admin/issuing/badgeclass/{badge_class.pk}/change/",
            {
                "name": "No criteria",
                "description": "x",
                "criteria_url": "",
                "criteria_narrative": "",
                "alignments": "[]",
                "tags": "[]",
            },
        )
        assert response.status_code == 302
        badge_class.refresh_from_db()
        assert badge_class.name == "No criteria"
        document = badge_class_document(badge_class)
        assert document["criteria"] == {"id": badge_class_criteria_url(badge_class)}

    def test_deleting_an_issuer_is_audited(self, admin_client, admin_user, issuer):
        response = admin_client.post(f"/admin/issuing/issuer/{issuer.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not Issuer.objects.filter(pk=issuer.pk).exists()
        [event] = audit("issuer_deleted")
        assert event.user == admin_user

    def test_approving_apps_uses_the_review_service(self, admin_client, admin_user):
        apps = [
            register_app(name=f"Waiting {n}", review=Application.Review.PENDING).application
            for n in range(2)
        ]
        response = admin_client.post(
            "/admin/connect/application/",
            {"action": "approve", "_selected_action": [a.pk for a in apps]},
        )
        assert response.status_code == 302
        for application in apps:
            application.refresh_from_db()
            assert application.review == Application.Review.APPROVED
        events = audit("app_reviewed")
        assert {(e.application, e.user, e.detail["review"]) for e in events} == {
            (application, admin_user, "approved") for application in apps
        }

    def test_disabling_apps_in_the_admin_is_audited_with_the_admin(self, admin_client, admin_user):
        apps = [register_app(name=f"Busy {n}").application for n in range(2)]
        response = admin_client.post(
            "/admin/connect/application/",
            {"action": "disable", "_selected_action": [a.pk for a in apps]},
        )
        assert response.status_code == 302
        assert not Application.objects.filter(pk__in=[a.pk for a in apps], enabled=True).exists()
        events = audit("app_changed")
        assert {(e.application, e.user, e.detail["enabled"]) for e in events} == {
            (application, admin_user, False) for application in apps
        }

    def test_the_audit_trail_cannot_be_edited_or_deleted(self, admin_client):
        register_app(name="Audited")
        event = AuditEvent.objects.get()
        base = f"/admin/connect/auditevent/{event.pk}"
        assert admin_client.post(f"{base}/change/", {"kind": "token_issued"}).status_code == 403
        assert admin_client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
        admin_client.post(
            "/admin/connect/auditevent/",
            {"action": "delete_selected", "post": "yes", "_selected_action": [event.pk]},
        )
        assert AuditEvent.objects.filter(pk=event.pk, kind="app_registered").exists()


# --- the command line ----------------------------------------------------------------------


class TestCommandLineAward:
    """`laurels award --as` asks connect.permissions whether that person may award."""

    def csv(self, tmp_path):
        path = tmp_path / "awards.csv"
        path.write_text("learner@example.org\n")
        return str(path)

    def test_only_an_active_member_may(self, tmp_path, user, issuer):
        badge_class = BadgeClassFactory(issuer=issuer)
        csv = self.csv(tmp_path)
        stranger = UserFactory()
        closed = UserFactory(is_active=False)
        IssuerStaff.objects.create(issuer=issuer, user=closed, role="owner")
        for refused in (stranger, closed):
            args = ["award", badge_class.entity_id, "--csv", csv, "--as", refused.email]
            assert cli.main(args) == 2
        assert not Assertion.objects.exists()
        assert cli.main(["award", badge_class.entity_id, "--csv", csv, "--as", user.email]) == 0
        assert Assertion.objects.get().created_by == user
