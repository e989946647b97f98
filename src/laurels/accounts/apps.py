from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "laurels.accounts"
    label = "accounts"
    verbose_name = "Accounts"
