from django.apps import AppConfig


class OpenBadgesConfig(AppConfig):
    name = "laurels.openbadges"
    label = "openbadges"
    verbose_name = "Open Badges"
