from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "laurels.connect"
    label = "connect"
    verbose_name = "Connected apps"

    def ready(self) -> None:
        from laurels.accounts.signals import password_changed
        from laurels.connect.receivers import end_tokens_on_password_change

        password_changed.connect(end_tokens_on_password_change, dispatch_uid="connect-tokens")
