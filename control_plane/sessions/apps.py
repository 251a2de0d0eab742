from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "control_plane.sessions"
    # "sessions" is taken by django.contrib.sessions; customers call them instances.
    label = "instances"
    verbose_name = "WhatsApp sessions"
