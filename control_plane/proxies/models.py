"""Proxies sessions leave through: static pool entries and ADB phones on workers."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import models

from shared.ids import new_id


class Proxy(models.Model):
    """One egress. Credentials are stored encrypted and never returned by the API.
    A phone proxy lives on one worker: sessions bound to it are placed only there."""

    class Kind(models.TextChoices):
        HTTP = "http"
        SOCKS5 = "socks5"

    class Source(models.TextChoices):
        STATIC = "static"
        ADB = "adb"

    class Status(models.TextChoices):
        OK = "ok"
        ROTATING = "rotating"
        UNHEALTHY = "unhealthy"
        DISABLED = "disabled"

    class OnUnhealthy(models.TextChoices):
        STAY = "stay", "keep its sessions; they reconnect when it heals"
        REASSIGN = "reassign", "move its sessions to a healthy pool proxy at their next (re)connect"
        REASSIGN_NOW = "reassign_now", "restart its sessions on a healthy pool proxy now"

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "prx"), editable=False)
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.HTTP)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STATIC)
    worker = models.ForeignKey(
        "fleet.Worker", on_delete=models.CASCADE, null=True, blank=True, related_name="proxies"
    )
    device_serial = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dedicated_proxies",
        help_text="only this customer may use it",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    status_reason = models.CharField(max_length=300, blank=True)
    public_ip = models.CharField(max_length=64, blank=True)
    ip_checked_at = models.DateTimeField(null=True, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    rotation_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    on_unhealthy = models.CharField(max_length=15, choices=OnUnhealthy.choices, default=OnUnhealthy.STAY)
    device_info = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "device_serial"],
                condition=models.Q(source="adb"),
                name="one_proxy_per_phone",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.kind}://{self.host}:{self.port}"

    @property
    def server(self) -> str:
        return f"{self.kind}://{self.host}:{self.port}"
