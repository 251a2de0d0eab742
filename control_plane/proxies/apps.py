from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "control_plane.proxies"
    label = "proxies"
    verbose_name = "Proxies"
