from django.apps import AppConfig


class OpenBadgesConfig(AppConfig):
    name = "laurels.openbadges"
    label = "openbadges"
    verbose_name = "Open Badges"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_save

        from laurels.issuing.models import BadgeClass, Issuer
        from laurels.openbadges import receivers

        # Lists kept under versions show ids made of these rows' origins.
        for model in (BadgeClass, Issuer):
            pre_save.connect(receivers.origin_remember, sender=model)
            post_save.connect(receivers.origin_changed, sender=model)
