from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "laurels.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from laurels.accounts.receivers import tell_owner_password_changed
        from laurels.accounts.signals import password_changed

        password_changed.connect(tell_owner_password_changed, dispatch_uid="accounts-mail")
