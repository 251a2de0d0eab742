from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "control_plane.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
