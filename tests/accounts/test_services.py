import re

import pytest
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from laurels.accounts import services
from laurels.accounts.backends import EmailAddressBackend
from laurels.accounts.models import EmailAddress, User
from laurels.core.errors import RateLimited
from laurels.jobs.models import OutboxMail
from tests.factories import DEFAULT_PASSWORD, EmailAddressFactory, UserFactory
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db
STRONG = "a sturdy passphrase"


def verify_link(message) -> str:
    return re.search(r"http://\S+/accounts/verify/\S+/", message.body).group(0)


class TestUserCreate:
    def test_normalizes_the_address_and_makes_it_primary(self):
        user = services.user_create(email="  Ada@Example.ORG ", password=STRONG, verified=True)
        assert user.email == "ada@example.org"
        assert list(user.email_addresses.values_list("email", "primary", "verified")) == [
            ("ada@example.org", True, True)
        ]
        assert user.check_password(STRONG)
        assert len(user.entity_id) == 22

    def test_refuses_an_address_already_held(self):
        UserFactory(email="ada@example.org")
        with pytest.raises(services.EmailAddressTaken):
            services.user_create(email="ADA@example.org", password=STRONG)
        assert User.objects.count() == 1

    def test_refuses_an_address_held_as_a_secondary(self):
        EmailAddressFactory(user=UserFactory(), email="second@example.org")
        with pytest.raises(services.EmailAddressTaken):
            services.user_create(email="second@example.org", password=STRONG)

    @pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
    def test_refuses_weak_passwords_with_a_field_error(self, password):
        with pytest.raises(ValidationError) as caught:
            services.user_create(email="ada@example.org", password=password)
        assert "password" in caught.value.message_dict
        assert not User.objects.exists()

    def test_refuses_an_invalid_address(self):
        with pytest.raises(ValidationError) as caught:
            services.user_create(email="not-an-address", password=STRONG)
        assert caught.value.message_dict == {"email": ["Enter a valid email address."]}

    def test_refuses_a_name_too_long(self):
        with pytest.raises(ValidationError) as caught:
            services.user_create(email="a@example.org", password=STRONG, first_name="x" * 151)
        assert "first_name" in caught.value.message_dict

    def test_admin_flag_makes_staff_and_superuser(self):
        user = services.user_create(email="root@example.org", password=STRONG, is_admin=True)
        assert user.is_staff and user.is_superuser


class TestSignup:
    def test_new_address_gets_an_unverified_account_and_a_link(
        self, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.user_signup(email="new@example.org", password=STRONG, first_name="New")
        address = EmailAddress.objects.get(email="new@example.org")
        assert not address.verified
        assert len(delivered()) == 1
        assert delivered()[0].to == ["new@example.org"]
        assert "/accounts/verify/" in delivered()[0].body

    def test_the_email_is_written_with_the_signup_and_rolls_back_with_it(self):
        with transaction.atomic():
            services.user_signup(email="kept@example.org", password=STRONG)
            assert OutboxMail.objects.filter(to="kept@example.org").count() == 1
        with pytest.raises(RuntimeError), transaction.atomic():
            services.user_signup(email="undone@example.org", password=STRONG)
            raise RuntimeError("the request fails after the sign-up")
        assert not OutboxMail.objects.filter(to="undone@example.org").exists()
        assert [message.to for message in delivered()] == [["kept@example.org"]]
        assert mail.outbox[0].extra_headers["Message-ID"].endswith("@127.0.0.1>")

    def test_verified_address_gets_a_notice_and_no_new_account(
        self, django_capture_on_commit_callbacks
    ):
        UserFactory(email="ada@example.org")
        with django_capture_on_commit_callbacks(execute=True):
            services.user_signup(email="ada@example.org", password=STRONG)
        assert User.objects.count() == 1
        assert len(delivered()) == 1
        assert "already belongs to an account" in delivered()[0].body

    def test_an_unproven_claim_does_not_block_the_real_owner(
        self, django_capture_on_commit_callbacks
    ):
        squatter = UserFactory(email="ada@example.org", verified=False)
        with django_capture_on_commit_callbacks(execute=True):
            services.user_signup(email="ada@example.org", password=STRONG, first_name="Real")
        real = User.objects.get(first_name="Real")
        assert User.objects.filter(pk=squatter.pk).exists()  # both claims wait for proof
        token = verify_link(delivered()[0]).rstrip("/").rsplit("/", 1)[1]
        with pytest.raises(services.VerificationNeedsPassword):
            services.email_address_verify(token=token, password=None)
        with pytest.raises(services.VerificationPasswordWrong):
            services.email_address_verify(token=token, password="not either password")
        services.email_address_verify(token=token, password=STRONG)
        assert not User.objects.filter(pk=squatter.pk).exists()
        assert EmailAddress.objects.get(email="ada@example.org").user == real
        assert squatter.pk is not None

    def test_an_uncontested_claim_also_needs_its_password(self):
        """One click on a link somebody else's sign-up sent must not verify it."""
        services.user_signup(email="alone@example.org", password=STRONG)
        token = services.email_verification_token("alone@example.org")
        with pytest.raises(services.VerificationNeedsPassword):
            services.email_address_verify(token=token, password=None)
        assert not EmailAddress.objects.filter(verified=True).exists()
        assert services.email_address_verify(token=token, password=STRONG).verified

    def test_an_address_holds_at_most_three_claims(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(5):
                services.user_signup(email="busy@example.org", password=f"{STRONG} {n}")
        claims = EmailAddress.objects.filter(email="busy@example.org")
        assert sorted(c.user.check_password(f"{STRONG} 4") for c in claims) == [False, False, True]
        assert User.objects.count() == 3  # the dropped sign-ups were nothing else
        assert len(delivered()) == 5

    def test_an_unverified_secondary_of_a_verified_user_is_released_to_who_proves_it(self):
        owner = UserFactory()
        EmailAddressFactory(user=owner, email="maybe@example.org", verified=False)
        services.user_signup(email="maybe@example.org", password=STRONG)
        claim = EmailAddress.objects.exclude(user=owner).get(email="maybe@example.org")
        token = services.email_verification_token("maybe@example.org")
        services.email_address_verify(token=token, password=STRONG)
        assert User.objects.filter(pk=owner.pk).exists()
        assert list(EmailAddress.objects.filter(email="maybe@example.org")) == [claim]

    def test_a_withdrawn_primary_claim_of_an_account_in_use_leaves_the_account(self):
        used = UserFactory(email="shared@example.org", verified=False)
        EmailAddressFactory(user=used, email="other@example.org", verified=False)
        User.objects.filter(pk=used.pk).update(last_login=timezone.now())
        services.user_create(email="shared@example.org", password=STRONG, verified=True)
        used.refresh_from_db()
        assert used.email == "other@example.org"
        assert used.email_addresses.get().primary

    def test_weak_password_creates_nothing(self):
        with pytest.raises(ValidationError):
            services.user_signup(email="new@example.org", password="123")
        assert not User.objects.exists() and not EmailAddress.objects.exists()


class TestVerify:
    def test_the_emailed_link_verifies(self, django_capture_on_commit_callbacks, client):
        with django_capture_on_commit_callbacks(execute=True):
            services.user_signup(email="new@example.org", password=STRONG)
        token = verify_link(delivered()[0]).rstrip("/").rsplit("/", 1)[1]
        address = services.email_address_verify(token=token, password=STRONG)
        assert address.verified and address.verified_at is not None
        # Using the link twice is harmless: it proves nothing more.
        with pytest.raises(services.AddressAlreadyVerified):
            services.email_address_verify(token=token, password=STRONG)

    def test_a_tampered_token_is_refused(self):
        user = UserFactory(verified=False)
        token = services.email_verification_token(user.email)
        with pytest.raises(services.VerificationLinkInvalid):
            services.email_address_verify(token=token[:-2] + "xx", password=DEFAULT_PASSWORD)
        assert not user.email_addresses.get().verified

    def test_a_token_for_another_purpose_is_refused(self):
        user = UserFactory(verified=False)
        address = user.email_addresses.get()
        token = signing.dumps({"id": address.pk, "email": address.email}, salt="other")
        with pytest.raises(services.VerificationLinkInvalid):
            services.email_address_verify(token=token, password=DEFAULT_PASSWORD)

    def test_an_expired_token_is_refused(self, settings):
        user = UserFactory(verified=False)
        token = services.email_verification_token(user.email)
        settings.LAURELS_EMAIL_VERIFICATION_MAX_AGE = -1
        with pytest.raises(services.VerificationLinkInvalid):
            services.email_address_verify(token=token, password=DEFAULT_PASSWORD)

    def test_once_another_claim_proved_the_address_an_older_link_proves_nothing(self):
        first = UserFactory(verified=False)
        token = services.email_verification_token(first.email)
        services.user_signup(email=first.email, password=STRONG)  # someone else claims it
        second = EmailAddress.objects.exclude(user=first).get(email=first.email)
        assert services.email_address_verify(token=token, password=STRONG) == second
        with pytest.raises(services.VerificationLinkInvalid):
            services.email_address_verify(token=token, password=DEFAULT_PASSWORD)
        assert not User.objects.filter(pk=first.pk).exists()

    def test_a_wrong_password_counts_as_a_failed_log_in(self, settings):
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 2
        services.user_signup(email="guessed@example.org", password=STRONG)
        token = services.email_verification_token("guessed@example.org")
        for _ in range(2):
            with pytest.raises(services.VerificationPasswordWrong):
                services.email_address_verify(token=token, password="a guess", client_ip="10.0.0.1")
        with pytest.raises(RateLimited):
            services.email_address_verify(token=token, password=STRONG, client_ip="10.0.0.1")
        assert services.email_address_verify(token=token, password=STRONG, client_ip="10.0.0.2")


class TestProfileUpdate:
    def test_changes_only_what_is_given(self):
        user = UserFactory(first_name="Ada", last_name="Lovelace")
        services.user_profile_update(user=user, last_name="  King ")
        user.refresh_from_db()
        assert (user.first_name, user.last_name) == ("Ada", "King")

    def test_refuses_overlong_names(self):
        user = UserFactory(first_name="Ada")
        with pytest.raises(ValidationError):
            services.user_profile_update(user=user, first_name="x" * 151)
        user.refresh_from_db()
        assert user.first_name == "Ada"


def login_from(address: str, email: str, password: str):
    """Authenticate as every way in does (the log-in page, the admin's, the password
    grant), from the client `address`."""
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)
    return EmailAddressBackend().authenticate(request, username=email, password=password)


class TestLoginRate:
    def test_failures_count_per_account_and_client_address(self, settings):
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 3
        user = UserFactory(email="ada@example.org")
        for _ in range(3):
            assert login_from("10.0.0.1", "ada@example.org", "wrong") is None
        with pytest.raises(RateLimited) as caught:
            services.login_rate_check(email="ADA@example.org", client_ip="10.0.0.1")
        assert caught.value.retry_after > 0
        assert login_from("10.0.0.1", "ada@example.org", DEFAULT_PASSWORD) is None  # refused
        services.login_rate_check(email="ada@example.org", client_ip="10.0.0.2")
        assert login_from("10.0.0.2", "ada@example.org", DEFAULT_PASSWORD) == user

    def test_successes_do_not_count(self, settings):
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 2
        user = UserFactory(email="ada@example.org")
        for _ in range(5):
            assert login_from("10.0.0.1", "ada@example.org", DEFAULT_PASSWORD) == user
        services.login_rate_check(email="ada@example.org", client_ip="10.0.0.1")

    def test_the_account_alone_has_its_own_limit(self, settings):
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT = 4
        UserFactory(email="ada@example.org")
        EmailAddressFactory(user=User.objects.get(), email="ada@work.example")
        for n in range(4):  # any address of the account, from anywhere
            assert (
                login_from(f"10.0.0.{n}", ["ada@example.org", "ada@work.example"][n % 2], "x")
                is None
            )
        with pytest.raises(RateLimited):
            services.login_rate_check(email="ada@work.example", client_ip="10.0.0.9")

    def test_limits_per_client_address_and_attempts_it_refuses_count_nowhere(self, settings):
        settings.LAURELS_LOGIN_RATE_PER_IP = 3
        settings.LAURELS_LOGIN_RATE_PER_ACCOUNT = 5
        user = UserFactory(email="ada@example.org")
        for n in range(3):
            assert login_from("10.0.0.1", f"u{n}@example.org", "x") is None
        with pytest.raises(RateLimited):
            services.login_rate_check(email="u9@example.org", client_ip="10.0.0.1")
        for _ in range(10):
            assert login_from("10.0.0.1", "ada@example.org", "x") is None
        assert login_from("10.0.0.2", "ada@example.org", DEFAULT_PASSWORD) == user


def test_primary_email_sync_follows_the_primary_address():
    user = UserFactory(email="old@example.org")
    user.email_addresses.update(primary=False)
    EmailAddressFactory(user=user, email="new@example.org", primary=True)
    services.user_primary_email_sync(user=user)
    user.refresh_from_db()
    assert user.email == "new@example.org"
