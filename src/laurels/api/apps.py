from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "laurels.api"
    label = "api"
    verbose_name = "/v2 API"
