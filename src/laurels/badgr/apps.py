from django.apps import AppConfig


class BadgrConfig(AppConfig):
    name = "laurels.badgr"
    label = "badgr"
    verbose_name = "Moving from Badgr"
