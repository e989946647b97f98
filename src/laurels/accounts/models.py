"""Users and their email addresses.

A user is identified by email. They may hold several addresses, each verified or not,
exactly one of them primary; `User.email` mirrors the primary address so that Django's
own machinery (admin, password reset, `EMAIL_FIELD`) keeps working. Addresses are stored
normalized (see `normalize_email_address`) so lookups and uniqueness ignore case.

An address belongs to one account once verified, and only then: before that, several
accounts may claim it (each sign-up is a claim), so that registering somebody's address
first cannot take it from them. The first claimant to prove the address gets it and the
other claims are removed (`accounts.services`). `User.email` is therefore not unique:
two accounts waiting for verification may both name the same address.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from laurels.accounts.signals import password_changed
from laurels.core.ids import entity_id_field


def normalize_email_address(address: str) -> str:
    """Trimmed and lower-cased: no real mail system distinguishes addresses by case."""
    return address.strip().lower()


class UserManager(BaseUserManager["User"]):
    """What Django's own commands (createsuperuser) need; everything else uses services."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        from laurels.accounts.services import user_create

        return user_create(email=email, password=password, verified=False, **extra)

    def get_by_natural_key(self, username: str) -> User:
        """The account that holds `username` as a verified address: only a verified
        address names one account (`User.email` is not unique, see the module)."""
        return self.get(
            email_addresses__email=normalize_email_address(username),
            email_addresses__verified=True,
        )

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        from laurels.accounts.services import user_create

        extra.pop("is_staff", None)
        extra.pop("is_superuser", None)
        return user_create(email=email, password=password, verified=True, is_admin=True, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    entity_id = entity_id_field()
    email = models.EmailField("primary email address", db_index=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("may use the admin site", default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name

    # --- a new password ends every credential made with the old one ---------------------
    #
    # Every way of setting a password ends in set_password() (or set_unusable_password())
    # and save(): the reset link and the account page (accounts.services.password_set),
    # but also the admin's "change password" form and `manage changepassword`, which know
    # nothing of Laurels. So `password_changed` is sent here, from save(), and no path
    # can skip it. Django's re-hash of an old hash at log-in (check_password) saves the
    # same password under a new hash and clears `_password` first: it sends nothing.

    _keep_access_token_id: int | None = None
    _password_disabled = False

    def set_password(self, raw_password, *, keep_access_token_id: int | None = None) -> None:
        """`keep_access_token_id`: the access token the change was made with, which (with
        its refresh token) outlives it (`accounts.signals.password_changed`)."""
        super().set_password(raw_password)
        self._keep_access_token_id = keep_access_token_id

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_disabled = True

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        replaced = (
            not self._state.adding
            and (self._password is not None or self._password_disabled)
            and (update_fields is None or "password" in update_fields)
        )
        if not replaced:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            # Lock the row first. Whoever saves a token for this user is to lock it too
            # (connect.oauth), so that a token is either saved before this change, and
            # revoked below, or after it commits, and then checked against it.
            list(User._default_manager.select_for_update().filter(pk=self.pk).values_list("pk"))
            super().save(*args, **kwargs)
            keep, self._keep_access_token_id = self._keep_access_token_id, None
            self._password_disabled = False
            password_changed.send(sender=User, user=self, keep_access_token_id=keep)


class EmailAddress(models.Model):
    """One account's claim to an address; verified once they opened the emailed link."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_addresses")
    email = models.EmailField(db_index=True)
    verified = models.BooleanField(default=False)
    primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # When a verification link for the address was last sent: an unproven claim is
    # deleted once that link has expired (accounts.services.unverified_claims_expire).
    verification_sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-primary", "email"]
        verbose_name_plural = "email addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(primary=True), name="one_primary_email_per_user"
            ),
            models.UniqueConstraint(
                fields=["email"], condition=Q(verified=True), name="one_verified_owner_per_email"
            ),
            models.UniqueConstraint(fields=["user", "email"], name="one_claim_per_user_and_email"),
        ]
        indexes = [
            models.Index(
                fields=["verification_sent_at"],
                condition=Q(verified=False),
                name="unproven_claims_by_age",
            )
        ]

    def __str__(self) -> str:
        return self.email


class InstitutionLink(models.Model):
    """This account is the person the upstream provider `issuer` calls `subject`
    ("Log in with your institution", accounts.institution). The pair is how they are
    found again, whatever their email address becomes on either side; one link per
    account and provider."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="institution_links")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["issuer"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_account_per_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="one_link_per_account_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
