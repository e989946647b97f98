from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "laurels.lti"
    label = "lti"
    verbose_name = "LTI launch points"

    def ready(self) -> None:
        from laurels.jobs.registry import periodic
        from laurels.lti.services import launches_prune

        # Daily: launches older than a day (each lives minutes; lti.services).
        periodic("lti-launches-prune", 24 * 3600, launches_prune)
