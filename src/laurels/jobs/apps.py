from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "laurels.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from laurels.jobs.registry import periodic
        from laurels.jobs.services import outbox_failed_prune

        # Daily: a mail kept as failed goes at most a day after its keeping time is over.
        periodic("outbox-prune", 24 * 3600, outbox_failed_prune)
