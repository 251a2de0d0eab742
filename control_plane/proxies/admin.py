from django.contrib import admin

from control_plane.proxies.models import Proxy


@admin.register(Proxy)
class ProxyAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "source",
        "kind",
        "host",
        "port",
        "worker",
        "status",
        "public_ip",
        "last_rotated_at",
    ]
    list_filter = ["source", "status", "kind"]
    search_fields = ["id", "name", "host", "device_serial"]
    exclude = ["password_encrypted"]
    readonly_fields = ["public_ip", "ip_checked_at", "last_rotated_at", "failures", "device_info"]
