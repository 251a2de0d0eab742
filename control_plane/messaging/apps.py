from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "control_plane.messaging"
    label = "messaging"
    verbose_name = "Messages"
