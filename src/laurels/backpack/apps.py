from django.apps import AppConfig


class BackpackConfig(AppConfig):
    name = "laurels.backpack"
    label = "backpack"
    verbose_name = "Backpack"
