from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "laurels.web"
    label = "web"
    verbose_name = "Web pages"
