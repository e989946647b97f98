from django.apps import AppConfig


class IssuingConfig(AppConfig):
    name = "laurels.issuing"
    label = "issuing"
    verbose_name = "Issuing"
