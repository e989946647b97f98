"""Accounts in the admin, through its real pages as a superuser: every write goes through
`accounts.services`, so verifying an address there does what proving it does, and what
the database would refuse is a message, never a server error."""

from __future__ import annotations

import pytest
from django.test import Client

from laurels.accounts.models import EmailAddress, User
from laurels.core.models import Version
from laurels.core.versions import BACKPACK, version_name
from tests.factories import EmailAddressFactory, UserFactory

pytestmark = pytest.mark.django_db

TAKEN = "An account with this email address already exists."


def backpack_version(user: User) -> int:
    found = Version.objects.filter(name=version_name(BACKPACK, user.pk)).values_list("n")
    return found[0][0] if found else 0


def rows(user: User, **changes: dict) -> list[dict]:
    """The address rows of `user`'s admin page as they stand, with `changes` by address
    (e.g. `{"b@example.org": {"verified": True}}`) and `new` rows to add."""
    current = [
        {"id": a.pk, "email": a.email, "verified": a.verified, "primary": a.primary}
        for a in user.email_addresses.all()
    ]
    for row in current:
        row.update(changes.get(row["email"], {}))
    return current


def post_user_page(client: Client, user: User, addresses: list[dict], **fields):
    """Submit `user`'s change page as the browser would: names and flags as they are
    (or `fields`), and the address inline's rows (`id` for saved ones, `delete`)."""
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "email_addresses-TOTAL_FORMS": str(len(addresses)),
        "email_addresses-INITIAL_FORMS": str(sum(1 for a in addresses if a.get("id"))),
        "email_addresses-MIN_NUM_FORMS": "0",
        "email_addresses-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for n, row in enumerate(addresses):
        prefix = f"email_addresses-{n}-"
        data[f"{prefix}user"] = str(user.pk)
        data[f"{prefix}id"] = str(row.get("id", ""))
        data[f"{prefix}email"] = row["email"]
        for flag in ("verified", "primary", "delete"):
            if row.get(flag):
                data[prefix + flag.upper() if flag == "delete" else prefix + flag] = "on"
    return client.post(f"/admin/accounts/user/{user.pk}/change/", data, follow=True)


def test_verifying_a_claimed_address_withdraws_the_other_claims_and_moves_the_backpack(
    admin_client,
):
    ada = UserFactory(email="ada@example.org")
    EmailAddressFactory(user=ada, email="shared@example.org", verified=False)
    squatter = UserFactory(email="shared@example.org", verified=False)  # only this claim
    other = UserFactory(email="other@example.org")
    EmailAddressFactory(user=other, email="shared@example.org", verified=False)
    before = backpack_version(ada)

    page = post_user_page(
        admin_client, ada, rows(ada, **{"shared@example.org": {"verified": True}})
    )

    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == "/admin/accounts/user/"
    [proven] = EmailAddress.objects.filter(email="shared@example.org")
    assert (proven.user, proven.verified) == (ada, True)
    assert proven.verified_at is not None
    assert not User.objects.filter(pk=squatter.pk).exists()
    assert list(other.email_addresses.values_list("email", flat=True)) == ["other@example.org"]
    assert backpack_version(ada) > before


def test_a_second_verified_owner_is_refused_with_a_message(admin_client):
    bob = UserFactory(email="bob@example.org")
    ada, cyd = UserFactory(email="ada@example.org"), UserFactory(email="cyd@example.org")
    late_claim = EmailAddressFactory(user=ada, email="bob@example.org", verified=False)

    ticked = post_user_page(admin_client, ada, rows(ada, **{"bob@example.org": {"verified": True}}))
    added = post_user_page(
        admin_client, cyd, [*rows(cyd), {"email": "Bob@Example.org", "verified": True}]
    )

    for page in (ticked, added):
        assert page.status_code == 200
        assert TAKEN in page.content.decode()
    late_claim.refresh_from_db()
    assert not late_claim.verified
    assert EmailAddress.objects.get(email="bob@example.org", verified=True).user == bob
    assert cyd.email_addresses.count() == 1


def test_another_address_ticked_primary_takes_over_and_one_always_stays(admin_client):
    ada = UserFactory(email="ada@example.org")
    EmailAddressFactory(user=ada, email="lovelace@example.org")

    # Ticked beside the old primary address, which the page still shows ticked; the
    # account renamed and deactivated in the same submit.
    page = post_user_page(
        admin_client,
        ada,
        rows(ada, **{"lovelace@example.org": {"primary": True}}),
        last_name="Lovelace",
        is_active="",
    )

    assert page.redirect_chain[-1][0] == "/admin/accounts/user/"
    ada.refresh_from_db()
    assert ada.email == "lovelace@example.org"
    assert (ada.last_name, ada.is_active) == ("Lovelace", False)
    primary = ada.email_addresses.filter(primary=True).values_list("email", flat=True)
    assert list(primary) == ["lovelace@example.org"]
    none_left = post_user_page(
        admin_client, ada, rows(ada, **{"lovelace@example.org": {"primary": False}})
    )
    assert "An account always has a primary address" in none_left.content.decode()
    assert list(primary) == ["lovelace@example.org"]


def test_deleting_the_primary_address_hands_the_role_on_and_the_last_one_stays(admin_client):
    ada = UserFactory(email="ada@example.org")
    EmailAddressFactory(user=ada, email="lovelace@example.org")

    post_user_page(admin_client, ada, rows(ada, **{"ada@example.org": {"delete": True}}))

    ada.refresh_from_db()
    assert ada.email == "lovelace@example.org"
    assert ada.email_addresses.get().primary
    last = post_user_page(
        admin_client, ada, rows(ada, **{"lovelace@example.org": {"delete": True}})
    )
    assert "An account keeps at least one address" in last.content.decode()
    assert ada.email_addresses.get().email == "lovelace@example.org"


def test_the_address_pages_go_through_the_services_too(admin_client):
    """The addresses' own admin pages: adding a verified address takes it from a mere
    claimant, ticking a second verified owner is refused, the last address stays."""
    ada = UserFactory(email="ada@example.org")
    squatter = UserFactory(email="wanted@example.org", verified=False)
    bob = UserFactory(email="bob@example.org")
    bobs_claim = EmailAddressFactory(user=bob, email="ada@example.org", verified=False)

    added = admin_client.post(
        "/admin/accounts/emailaddress/add/",
        {"user": str(ada.pk), "email": "Wanted@example.org", "verified": "on"},
        follow=True,
    )
    assert added.redirect_chain[-1][0] == "/admin/accounts/emailaddress/"
    wanted = EmailAddress.objects.get(email="wanted@example.org")
    assert (wanted.user, wanted.verified) == (ada, True)
    assert not User.objects.filter(pk=squatter.pk).exists()

    ticked = admin_client.post(
        f"/admin/accounts/emailaddress/{bobs_claim.pk}/change/",
        {"email": "ada@example.org", "verified": "on"},
        follow=True,
    )
    assert TAKEN in ticked.content.decode()
    bobs_claim.refresh_from_db()
    assert not bobs_claim.verified

    [bobs_own] = EmailAddress.objects.filter(user=bob, primary=True)
    bobs_claim.delete()
    kept = admin_client.post(
        f"/admin/accounts/emailaddress/{bobs_own.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "An account keeps at least one address" in kept.content.decode()
    assert EmailAddress.objects.filter(pk=bobs_own.pk).exists()


def test_deleting_accounts_in_the_admin_takes_their_addresses_and_moves_their_backpack(
    admin_client,
):
    leaving = UserFactory(email="leaving@example.org")
    staying = UserFactory(email="staying@example.org")
    before = backpack_version(leaving)
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [leaving.pk]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk=leaving.pk).exists()
    assert not EmailAddress.objects.filter(email="leaving@example.org").exists()
    assert User.objects.filter(pk=staying.pk).exists()
    assert backpack_version(leaving) > before  # kept backpack answers can't outlive it
