from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "laurels.connect"
    label = "connect"
    verbose_name = "Connected apps"
