from django.apps import AppConfig


class ChamaHubConfig(AppConfig):
    name = "chamahub"
    label = "chamahub"
    verbose_name = "ChamaHub platform"
