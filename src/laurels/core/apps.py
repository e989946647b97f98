from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "laurels.core"
    label = "laurels_core"
    verbose_name = "Laurels core"

    def ready(self) -> None:
        from laurels.core import checks  # noqa: F401  (registers the system checks)
