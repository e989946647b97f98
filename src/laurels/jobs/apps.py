from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "laurels.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
