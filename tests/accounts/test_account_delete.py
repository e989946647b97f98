"""Deleting an account (`accounts.services.account_delete`, issue 17): the person's data
goes, awards others made stay verifiable as issued, audit rows keep a pseudonym, and the
last owner of an issuer must hand it over first."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone
from oauth2_provider.models import AccessToken

from laurels.accounts import services
from laurels.accounts.models import EmailAddress, User
from laurels.backpack import services as backpack
from laurels.backpack.models import Collection, ImportedBadge
from laurels.connect import services as connect
from laurels.connect.models import AppConsent, Application, AuditEvent, PersonalToken
from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion, IssuerStaff, StaffInvitation
from laurels.jobs.models import OutboxMail
from tests.factories import DEFAULT_PASSWORD, BadgeClassFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db
EMAIL = "ada@example.org"
LD = {"HTTP_ACCEPT": "application/ld+json"}


@pytest.fixture
def ada():
    return UserFactory(email=EMAIL, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def grace():
    return UserFactory(email="grace@example.org")


def award_to(address: str, *, by: User | None = None, badge_class=None) -> Assertion:
    badge_class = badge_class or BadgeClassFactory(issuer=IssuerFactory(name="Harbour College"))
    return issuing.assertion_award(
        badge_class=badge_class,
        actor=by,
        award=issuing.AwardInput(recipient=issuing.Recipient(identity=address)),
    )


def delete(user: User, **kwargs) -> str:
    kwargs = {"password": DEFAULT_PASSWORD, "confirmation": user.email, **kwargs}
    return services.account_delete(user=user, client_ip="192.0.2.1", **kwargs)


def dumped() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def session_for(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.session.session_key


def assert_hosted_award_verifies(award: Assertion, address: str) -> None:
    """As a verifier does with a hosted award: its document answers, names its badge
    class and issuer (which answer too), is not revoked, and its hashed recipient is
    the address."""
    answer = Client().get(f"/public/assertions/{award.entity_id}", **LD)
    assert answer.status_code == 200
    document = json.loads(answer.content)
    assert document["verification"] == {"type": "HostedBadge"}
    assert "revoked" not in document or document["revoked"] is False
    salted = hashlib.sha256((address + document["recipient"]["salt"]).encode()).hexdigest()
    assert document["recipient"]["identity"] == f"sha256${salted}"
    badge = Client().get(document["badge"].split("127.0.0.1:8000")[-1], **LD)
    assert badge.status_code == 200
    issuer = Client().get(json.loads(badge.content)["issuer"].split("127.0.0.1:8000")[-1], **LD)
    assert issuer.status_code == 200


class TestLastOwner:
    def test_the_last_owner_of_an_issuer_is_refused_and_nothing_is_deleted(self, ada):
        issuer = IssuerFactory(name="Ada's Academy", owner=ada)
        other = IssuerFactory(name="Babbage Institute", owner=ada)
        collection = backpack.collection_save(user=ada, name="Mine", published=True)
        assert [b.name for b in services.account_deletion_blockers_for(user=ada)] == [
            "Ada's Academy",
            "Babbage Institute",
        ]

        with pytest.raises(services.AccountDeletionBlocked) as refused:
            delete(ada)

        assert "Ada's Academy" in refused.value.message
        blockers = refused.value.blockers
        assert blockers[0].url == f"http://127.0.0.1:8000/public/issuers/{issuer.entity_id}"
        assert {b.name for b in blockers} == {"Ada's Academy", "Babbage Institute"}
        assert User.objects.filter(pk=ada.pk).exists()
        assert IssuerStaff.objects.filter(user=ada).count() == 2
        assert Collection.objects.filter(pk=collection.pk).exists()
        assert other.staff.exists()
        assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.ACCOUNT_DELETED).exists()

    def test_a_co_owned_issuer_stays_with_its_other_owner(self, ada, grace):
        issuer = IssuerFactory(owner=grace)
        IssuerStaff.objects.create(issuer=issuer, user=ada, role="owner")
        badge_class = BadgeClassFactory(issuer=issuer)
        made_by_ada = award_to("someone@example.net", by=ada, badge_class=badge_class)
        assert services.account_deletion_blockers_for(user=ada) == []

        pseudonym = delete(ada)

        assert not User.objects.filter(pk=ada.pk).exists()
        assert list(issuer.staff.values_list("user__email", "role")) == [
            ("grace@example.org", "owner")
        ]
        made_by_ada.refresh_from_db()
        assert made_by_ada.created_by is None
        assert Assertion.objects.filter(badge_class=badge_class).count() == 1
        left = AuditEvent.objects.get(kind=AuditEvent.Kind.STAFF_CHANGED)
        assert (left.user, left.user_pseudonym) == (None, pseudonym)

    def test_staff_of_an_issuer_with_another_owner_may_go(self, ada, grace):
        issuer = IssuerFactory(owner=grace)
        IssuerStaff.objects.create(issuer=issuer, user=ada, role="editor")
        delete(ada)
        assert list(issuer.staff.values_list("user__email", flat=True)) == ["grace@example.org"]


class TestWhatGoesAndWhatStays:
    def test_the_account_its_backpack_and_its_credentials_go(
        self, ada, grace, django_capture_on_commit_callbacks
    ):
        award = award_to(EMAIL)
        collection = backpack.collection_save(
            user=ada, name="Proud", assertions=[award.entity_id], published=True
        )
        share = f"/share/collections/{collection.share_hash}"
        assert Client().get(share).status_code == 200
        imported = ImportedBadge(
            user=ada,
            source_id="https://elsewhere.example/a/1",
            assertion={},
            badge_class={"name": "Elsewhere"},
            issuer={},
            recipient_identity=EMAIL,
            issued_on=timezone.now(),
            verified_at=timezone.now(),
        )
        imported.image.save("elsewhere.png", ContentFile(b"\x89PNG"), save=False)
        imported.save()
        image_name = imported.image.name
        connect.personal_token_create(user=ada, name="script", scopes=["r:profile"])
        app = connect.application_create(
            name="Ada's app", redirect_uris=["https://app.example/cb"], scopes="r:profile"
        ).application
        Application.objects.filter(pk=app.pk).update(user=ada)
        AppConsent.objects.create(user=grace, application=app, scopes="r:profile")
        AppConsent.objects.create(user=ada, application=app, scopes="r:profile")

        with django_capture_on_commit_callbacks(execute=True):
            pseudonym = delete(ada)

        assert not User.objects.filter(pk=ada.pk).exists()
        assert not EmailAddress.objects.filter(email=EMAIL).exists()
        assert Client().get(share).status_code == 404
        assert not ImportedBadge.objects.filter(pk=imported.pk).exists()
        assert not default_storage.exists(image_name)
        assert not PersonalToken.objects.exists()
        assert not AccessToken.objects.exists()
        assert not AppConsent.objects.filter(application=app).exclude(user=grace).exists()
        app.refresh_from_db()
        assert app.user is None  # the app stays for Grace, without an owner
        assert AppConsent.objects.filter(user=grace, application=app).exists()
        # The award made to her by the issuer stays, verifiable as issued.
        assert Assertion.objects.filter(pk=award.pk, revoked=False).exists()
        assert_hosted_award_verifies(award, EMAIL)
        assert pseudonym.startswith("deleted-user-")

    def test_invitations_sent_and_received_end(self, ada, grace):
        issuer = IssuerFactory(owner=grace)
        IssuerStaff.objects.create(issuer=issuer, user=ada, role="owner")
        other = IssuerFactory(owner=grace)
        issuing.staff_invite(issuer=issuer, email="newcomer@example.net", role="staff", actor=ada)
        issuing.staff_invite(issuer=other, email=EMAIL, role="staff", actor=grace)
        assert StaffInvitation.objects.count() == 2

        delete(ada)

        assert not StaffInvitation.objects.exists()

    def test_unsent_mail_to_the_person_goes(self, ada):
        services.own_email_address_add(user=ada, email="ada@work.example", client_ip=None)
        assert OutboxMail.objects.filter(to="ada@work.example").exists()
        delete(ada)
        assert not OutboxMail.objects.filter(to__in=[EMAIL, "ada@work.example"]).exists()


class TestAuditTrail:
    def test_rows_keep_a_stable_pseudonym_and_the_address_is_nowhere(self, ada, grace):
        issuer = IssuerFactory(owner=grace)
        # Grace invites Ada's address (the audit detail lists it), Ada joins and leaves.
        issuing.issuer_staff_set(
            issuer=issuer, staff=[(grace.entity_id, "owner"), (EMAIL, "staff")], actor=grace
        )
        invitation = StaffInvitation.objects.get(email=EMAIL)
        issuing.staff_invitation_accept(user=ada, entity_id=invitation.entity_id)
        connect.personal_token_create(user=ada, name="script", scopes=["r:profile"])
        award = award_to(EMAIL)
        assert EMAIL in json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))
        ada_id, ada_entity_id = ada.pk, ada.entity_id

        pseudonym = delete(ada)

        assert pseudonym == services.account_pseudonym(ada_id)
        assert not AuditEvent.objects.filter(user_id=ada_id).exists()
        deleted = AuditEvent.objects.get(kind=AuditEvent.Kind.ACCOUNT_DELETED)
        assert (deleted.user_pseudonym, deleted.detail) == (pseudonym, {"account": pseudonym})
        assert AuditEvent.objects.filter(user_pseudonym=pseudonym).count() >= 3
        everything = dumped()
        assert ada_entity_id not in everything
        # The only copies of the address left are the issuer's award to it (published
        # hashed, never plain; how the award is found again if she signs up anew) and the
        # version of the kept answers listing awards to it, named after it.
        kept = everything.replace(json.dumps(award.recipient_plaintext), "")
        kept = kept.replace(f'"awards-to:{EMAIL}"', "")
        assert EMAIL not in kept.lower()
        assert Assertion.objects.get(pk=award.pk).recipient_hashed

    def test_only_whole_values_naming_the_person_are_replaced(self, ada, grace):
        """Grace invites nada@example.org, and longer values hold Ada's address or
        entityId: only values equal to them (in any case, in lists too) change."""
        issuer = IssuerFactory(owner=grace)
        others = ["nada@example.org", f"x{ada.entity_id}", "Ada@Example.org"]
        connect.audit_record(
            AuditEvent.Kind.STAFF_CHANGED,
            user=grace,
            detail={"invited": others, "note": f"about {EMAIL}", "by": [[ada.entity_id]]},
        )
        issuing.issuer_staff_set(
            issuer=issuer,
            staff=[(grace.entity_id, "owner"), ("nada@example.org", "staff")],
            actor=grace,
        )

        pseudonym = delete(ada)

        invited = AuditEvent.objects.filter(detail__invited=["nada@example.org"]).get()
        assert invited.user == grace
        recorded = AuditEvent.objects.get(detail__note=f"about {EMAIL}")
        assert recorded.detail == {
            "invited": ["nada@example.org", f"x{ada.entity_id}", pseudonym],
            "note": f"about {EMAIL}",
            "by": [[pseudonym]],
        }

    def test_the_pseudonym_depends_on_the_secret_key(self, settings):
        first = services.account_pseudonym(7)
        settings.SECRET_KEY = "another secret key, long enough to be one" * 2
        assert services.account_pseudonym(7) != first
        assert len(first) == len("deleted-user-") + 12


class TestProof:
    def test_a_wrong_password_deletes_nothing(self, ada):
        with pytest.raises(ValidationError) as refused:
            delete(ada, password="not my password")
        assert "current_password" in refused.value.message_dict
        assert User.objects.filter(pk=ada.pk).exists()

    def test_a_wrong_confirmation_deletes_nothing(self, ada):
        with pytest.raises(ValidationError) as refused:
            delete(ada, confirmation="someone@example.org")
        assert list(refused.value.message_dict) == ["confirmation"]
        assert User.objects.filter(pk=ada.pk).exists()

    def test_the_confirmation_ignores_case_and_spaces(self, ada):
        delete(ada, confirmation="  ADA@example.org ")
        assert not User.objects.filter(pk=ada.pk).exists()

    def test_without_a_usable_password_the_address_alone_confirms(self, ada):
        ada.set_unusable_password()
        ada.save()
        delete(ada, password="")
        assert not User.objects.filter(pk=ada.pk).exists()

    def test_with_a_password_the_address_alone_does_not(self, ada):
        with pytest.raises(ValidationError):
            delete(ada, password="")
        assert User.objects.filter(pk=ada.pk).exists()


class TestSessions:
    def test_the_persons_sessions_end_and_others_stay(
        self, ada, grace, django_capture_on_commit_callbacks
    ):
        ada_sessions = [session_for(ada), session_for(ada)]
        grace_session = session_for(grace)

        with django_capture_on_commit_callbacks(execute=True):
            delete(ada)

        assert not Session.objects.filter(pk__in=ada_sessions).exists()
        kept = Session.objects.get(pk=grace_session)
        assert kept.get_decoded()[SESSION_KEY] == str(grace.pk)


class TestAdminLog:
    """django.contrib.admin's LogEntry: the admin's history of the account and its
    addresses keeps its entries under the pseudonym; an administrator's own account is
    deleted by another administrator only."""

    @staticmethod
    def entry(actor: User, about, flag: int, message: str) -> LogEntry:
        return LogEntry.objects.create(
            user=actor,
            content_type=ContentType.objects.get_for_model(about),
            object_id=str(about.pk),
            object_repr=str(about),
            action_flag=flag,
            change_message=message,
        )

    def test_entries_about_the_person_keep_the_pseudonym(self, ada, grace):
        address = services.email_address_add(user=ada, email="ada@work.example", verified=True)
        added = json.dumps([{"added": {"name": "email address", "object": "ada@work.example"}}])
        about_her = self.entry(grace, ada, CHANGE, added)
        about_address = self.entry(grace, address, ADDITION, "")
        about_grace = self.entry(grace, grace, CHANGE, json.dumps([{"changed": {}}]))

        pseudonym = delete(ada)

        about_her.refresh_from_db()
        assert (about_her.object_repr, about_her.user) == (pseudonym, grace)
        assert json.loads(about_her.change_message) == [
            {"added": {"name": "email address", "object": pseudonym}}
        ]
        about_address.refresh_from_db()
        assert about_address.object_repr == pseudonym
        about_grace.refresh_from_db()
        assert about_grace.object_repr == "grace@example.org"
        assert "ada@" not in json.dumps(list(LogEntry.objects.values()), default=str)

    @pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
    def test_an_administrator_cannot_delete_their_own_account(self, ada, grace, flag):
        setattr(ada, flag, True)
        ada.save()
        kept = self.entry(ada, grace, CHANGE, "")
        with pytest.raises(services.AdminAccountNotSelfDeleted) as refused:
            delete(ada)
        assert refused.value.status == 403
        assert "another administrator" in refused.value.message
        assert User.objects.filter(pk=ada.pk).exists()
        assert LogEntry.objects.filter(pk=kept.pk).exists()

    def test_another_administrator_deletes_it_in_the_admin(self, ada, grace):
        ada.is_staff = True
        ada.save()
        grace.is_staff = grace.is_superuser = True
        grace.save()
        hers = self.entry(ada, grace, CHANGE, "")
        client = Client()
        client.force_login(grace)

        answer = client.post(f"/admin/accounts/user/{ada.pk}/delete/", {"post": "yes"})

        assert answer.status_code == 302
        assert not User.objects.filter(pk=ada.pk).exists()
        # Her own admin history goes with her account (LogEntry.user cascades: Django's).
        assert not LogEntry.objects.filter(pk=hers.pk).exists()
        # Grace's entry of the deletion stays, naming the pseudonym, not the address.
        deletion = LogEntry.objects.get(action_flag=DELETION)
        assert deletion.user == grace
        assert deletion.object_repr == services.account_pseudonym(ada.pk)


class TestAdmin:
    def _request(self, admin_user):
        request = RequestFactory().post("/admin/")
        request.user = admin_user
        request.session = {}
        request._messages = FallbackStorage(request)
        return request

    def test_the_admins_delete_goes_through_the_service(self, ada, grace):
        model_admin = admin.site._registry[User]
        IssuerStaff.objects.create(issuer=IssuerFactory(owner=grace), user=ada, role="staff")
        model_admin.delete_model(self._request(grace), ada)
        assert not User.objects.filter(pk=ada.pk).exists()
        assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ACCOUNT_DELETED).exists()

    def test_the_admin_is_refused_for_a_last_owner(self, ada, grace):
        IssuerFactory(owner=ada)
        grace.is_staff = grace.is_superuser = True
        grace.save()
        client = Client()
        client.force_login(grace)
        answer = client.post(f"/admin/accounts/user/{ada.pk}/delete/", {"post": "yes"})
        assert answer.status_code == 302
        assert User.objects.filter(pk=ada.pk).exists()
        page = client.get(answer["Location"])
        assert "Hand these over or delete them first" in page.content.decode()
