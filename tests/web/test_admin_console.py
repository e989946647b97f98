"""The admin console: verified issuers' actions, the review queue of pending apps, the
read-only audit trail, search and "View on site"."""

from __future__ import annotations

import pytest
from django.test import Client

from laurels.connect.models import Application, AuditEvent
from laurels.issuing import services as issuing_services
from laurels.issuing.models import IssuerVerification
from tests.connect.oauth_helpers import register_app
from tests.factories import AssertionFactory, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admins_mark_issuers_verified_and_remove_it(admin_client):
    issuer = IssuerFactory()
    answer = admin_client.post(
        "/admin/issuing/issuer/", {"action": "verify", "_selected_action": [issuer.pk]}
    )
    assert answer.status_code == 302
    issuer.refresh_from_db()
    assert issuer.verified_by == IssuerVerification.ADMIN
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED).count() == 1
    listing = admin_client.get("/admin/issuing/issuer/?verified_at__isempty=0")
    assert issuer.name in listing.content.decode()
    admin_client.post(
        "/admin/issuing/issuer/", {"action": "unverify", "_selected_action": [issuer.pk]}
    )
    issuer.refresh_from_db()
    assert issuer.verified_at is None


def _admin_form_data(answer) -> dict:
    """What the admin's change form would post unchanged: its fields and inlines."""
    data = {}
    for form in [answer.context["adminform"].form] + [
        f for inline in answer.context["inline_admin_formsets"] for f in inline.formset.forms
    ]:
        data.update({form.add_prefix(k): v for k, v in form.initial.items() if v is not None})
    for inline in answer.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    return data


def test_renaming_a_verified_issuer_in_the_admin_clears_its_verification(admin_client):
    """The mark was about the old name: as through the API and the workspace."""
    issuer = IssuerFactory(name="Harvard University")
    issuing_services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN)
    url = f"/admin/issuing/issuer/{issuer.pk}/change/"
    data = _admin_form_data(admin_client.get(url))
    described = admin_client.post(url, {**data, "description": "Now described"})
    assert described.status_code == 302
    issuer.refresh_from_db()
    assert issuer.description == "Now described" and issuer.verified_at is not None
    renamed = admin_client.post(url, {**data, "name": "Harvard Universlty"})
    assert renamed.status_code == 302
    issuer.refresh_from_db()
    assert issuer.name == "Harvard Universlty" and issuer.verified_at is None


def test_staff_without_the_change_permission_cannot_verify():
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    issuer = IssuerFactory()
    answer = client.post(
        "/admin/issuing/issuer/", {"action": "verify", "_selected_action": [issuer.pk]}
    )
    assert answer.status_code == 403
    issuer.refresh_from_db()
    assert issuer.verified_at is None


def test_the_review_queue_lists_pending_apps_and_approves_or_rejects(admin_client):
    waiting = register_app(name="Waiting App", review=Application.Review.PENDING).application
    other = register_app(name="Other Waiting", review=Application.Review.PENDING).application
    register_app(name="Already Approved")
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/connect/application/review/" in index
    assert "Review queue: apps pending review (2)" in index
    queue = admin_client.get("/admin/connect/application/review/", follow=True)
    text = queue.content.decode()
    assert "Waiting App" in text and "Already Approved" not in text
    admin_client.post(
        "/admin/connect/application/", {"action": "approve", "_selected_action": [waiting.pk]}
    )
    admin_client.post(
        "/admin/connect/application/", {"action": "reject", "_selected_action": [other.pk]}
    )
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.review == Application.Review.APPROVED
    assert other.review == Application.Review.REJECTED


def test_the_review_queue_needs_an_admin():
    assert Client().get("/admin/connect/application/review/").status_code == 302
    client = Client()
    client.force_login(UserFactory())
    answer = client.get("/admin/connect/application/review/")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


def test_the_audit_trail_is_read_only(admin_client):
    register_app(name="Audited App")
    event = AuditEvent.objects.first()
    assert admin_client.get("/admin/connect/auditevent/add/").status_code == 403
    answer = admin_client.post(f"/admin/connect/auditevent/{event.pk}/change/", {"kind": "x"})
    assert answer.status_code == 403
    assert admin_client.post(f"/admin/connect/auditevent/{event.pk}/delete/").status_code == 403
    assert admin_client.post(
        "/admin/connect/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk]}
    ).status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_audit_trail_filters_by_kind_date_and_user(admin_client):
    register_app(name="Audited App")
    issuer = IssuerFactory()
    verifier = UserFactory(email="verifier@example.org")
    issuing_services.issuer_verify(issuer=issuer, by=IssuerVerification.ADMIN, actor=verifier)
    verified = AuditEvent.objects.get(kind=AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED)
    registered = AuditEvent.objects.filter(kind="app_registered").first()
    listing = "/admin/connect/auditevent/"
    by_kind = admin_client.get(
        listing, {"kind__exact": AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED.value}
    )
    assert by_kind.context["cl"].result_count == 1
    by_user = admin_client.get(listing, {"q": "verifier@example.org"})
    assert list(by_user.context["cl"].queryset) == [verified]
    day = verified.created_at
    by_date = admin_client.get(
        listing,
        {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day},
    )
    assert {verified, registered} <= set(by_date.context["cl"].queryset)
    assert (
        admin_client.get(listing, {"created_at__year": day.year - 1}).context["cl"].result_count
        == 0
    )


def test_staff_without_permissions_see_no_console_pages():
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    pending = register_app(name="Waiting App", review=Application.Review.PENDING).application
    award = AssertionFactory()
    for path in [
        "/admin/connect/auditevent/",
        "/admin/connect/application/",
        "/admin/issuing/assertion/",
        "/admin/accounts/user/",
    ]:
        assert client.get(path).status_code == 403, path
    client.post(
        "/admin/connect/application/", {"action": "approve", "_selected_action": [pending.pk]}
    )
    client.post(
        "/admin/issuing/assertion/",
        {"action": "revoke", "reason": "x", "_selected_action": [award.pk]},
    )
    pending.refresh_from_db()
    award.refresh_from_db()
    assert pending.review == Application.Review.PENDING
    assert not award.revoked
    assert "Review queue" not in client.get("/admin/").content.decode()


def test_admins_revoke_awards_with_a_reason(admin_client):
    award = AssertionFactory()
    refused = admin_client.post(
        "/admin/issuing/assertion/",
        {"action": "revoke", "reason": "", "_selected_action": [award.pk]},
    )
    assert refused.status_code == 302
    award.refresh_from_db()
    assert not award.revoked
    admin_client.post(
        "/admin/issuing/assertion/",
        {"action": "revoke", "reason": "Issued in error", "_selected_action": [award.pk]},
    )
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Issued in error"


def test_search_and_view_on_site(admin_client):
    award = AssertionFactory(recipient_plaintext="searched@example.org")
    issuer = award.issuer
    found = admin_client.get("/admin/issuing/assertion/", {"q": "searched@example.org"})
    assert award.entity_id in found.content.decode()
    found = admin_client.get("/admin/issuing/issuer/", {"q": issuer.url})
    assert issuer.name in found.content.decode()
    found = admin_client.get("/admin/accounts/user/", {"q": "root@example.org"})
    assert found.status_code == 200
    found = admin_client.get("/admin/connect/application/", {"q": "nothing-like-it"})
    assert found.status_code == 200
    for path, kind, entity in [
        (f"/admin/issuing/issuer/{issuer.pk}/change/", "issuers", issuer),
        (f"/admin/issuing/badgeclass/{award.badge_class.pk}/change/", "badges", award.badge_class),
        (f"/admin/issuing/assertion/{award.pk}/change/", "assertions", award),
    ]:
        page = admin_client.get(path).content.decode()
        assert "View on site" in page
        assert f"/public/{kind}/{entity.entity_id}" in page


def test_the_docs_page_links_back_and_hides_the_session_scheme():
    page = Client().get("/docs")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'href="/"' in text
    assert '["SessionCaller"]' in text  # what swagger-init.js leaves out


def test_revocation_reason_is_documented_as_a_query_parameter():
    schema = Client().get("/v2/openapi.json").json()
    operation = schema["paths"]["/v2/assertions/{entity_id}"]["delete"]
    names = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert ("query", "revocation_reason") in names


def test_the_backpack_shows_a_verified_issuer(client_logged_in, user):
    award = AssertionFactory(recipient_plaintext=user.email, recipient_identity=user.email)
    badge_page = f"/backpack/badges/{award.entity_id}/"
    assert "Verified issuer" not in client_logged_in.get("/backpack/").content.decode()
    assert "Verified issuer" not in client_logged_in.get(badge_page).content.decode()
    issuing_services.issuer_verify(issuer=award.issuer, by=IssuerVerification.ADMIN)
    assert "Verified issuer" in client_logged_in.get("/backpack/").content.decode()
    assert "Verified issuer" in client_logged_in.get(badge_page).content.decode()


def test_the_public_badge_and_award_pages_show_a_verified_issuer():
    award = AssertionFactory()
    pages = [
        f"/public/assertions/{award.entity_id}",
        f"/public/badges/{award.badge_class.entity_id}",
    ]
    for path in pages:
        assert "Verified issuer" not in Client().get(path, HTTP_ACCEPT="text/html").content.decode()
    issuing_services.issuer_verify(issuer=award.issuer, by=IssuerVerification.ADMIN)
    for path in pages:
        assert "Verified issuer" in Client().get(path, HTTP_ACCEPT="text/html").content.decode()
