from django.apps import AppConfig


class OpenBadgesConfig(AppConfig):
    name = "laurels.openbadges"
    label = "openbadges"
    verbose_name = "Open Badges"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_save

        from laurels.issuing import signals
        from laurels.issuing.models import BadgeClass, Issuer
        from laurels.openbadges import receivers

        # Lists kept under versions show ids made of these rows' origins.
        for model in (BadgeClass, Issuer):
            pre_save.connect(receivers.origin_remember, sender=model)
            post_save.connect(receivers.origin_changed, sender=model)
        signals.assertions_awarded.connect(receivers.awards_changed)
        signals.assertion_revoked.connect(receivers.awards_changed)
        _register_jobs()


def _register_jobs() -> None:
    from laurels.jobs.registry import periodic, task
    from laurels.openbadges.kept import (
        KEEP_TASK,
        documents_keep,
        kept_documents_prune,
        kept_documents_refresh,
    )

    task(KEEP_TASK, documents_keep)
    periodic("kept-documents-prune", 24 * 3600, kept_documents_prune)
    periodic("kept-documents-refresh", 3600, kept_documents_refresh)
