from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "laurels.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save, pre_save

        from laurels.accounts.models import EmailAddress
        from laurels.accounts.receivers import (
            address_owner_remember,
            address_owners_backpacks_move_on,
            tell_owner_password_changed,
        )
        from laurels.accounts.signals import password_changed
        from laurels.accounts.two_factor import step_at_log_in

        password_changed.connect(tell_owner_password_changed, dispatch_uid="accounts-mail")
        # Every log-in path: whether the session still owes a code (accounts.two_factor).
        user_logged_in.connect(step_at_log_in, dispatch_uid="accounts-two-factor-step")
        _register_jobs()
        pre_save.connect(address_owner_remember, sender=EmailAddress)
        post_save.connect(address_owners_backpacks_move_on, sender=EmailAddress)
        post_delete.connect(address_owners_backpacks_move_on, sender=EmailAddress)


def _register_jobs() -> None:
    from laurels.accounts.services import unverified_claims_expire
    from laurels.jobs.registry import periodic

    # Hourly: a claim nobody proved outlives its last verification link by at most an hour.
    periodic("accounts-claims-expire", 3600, unverified_claims_expire)
