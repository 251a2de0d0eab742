"""WhatsApp sessions (customers call them instances) and their status history."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from shared.types import SessionStatus


class Session(models.Model):
    """One WhatsApp account linked by a customer. ``worker`` + ``generation`` is its
    route: the worker holding it and the fencing token every command carries."""

    class Status(models.TextChoices):  # mirrors shared.types.SessionStatus (a test checks)
        DISCONNECTED = "disconnected"
        CONNECTING = "connecting"
        QR_READY = "qr_ready"
        CONNECTED = "connected"
        RECONNECTING = "reconnecting"
        ERROR = "error"
        INACTIVE = "inactive"

    id = models.CharField(primary_key=True, max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wa_sessions")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=SessionStatus.DISCONNECTED)
    phone = models.CharField(max_length=20, blank=True)
    platform = models.CharField(max_length=40, blank=True)
    wa_version = models.CharField(max_length=40, blank=True)
    pushname = models.CharField(max_length=100, blank=True)

    worker = models.ForeignKey(
        "fleet.Worker", on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    generation = models.PositiveIntegerField(default=0)
    proxy = models.ForeignKey(
        "proxies.Proxy", on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )

    connection_attempts = models.PositiveIntegerField(default=0)
    last_disconnect_reason = models.CharField(max_length=200, blank=True)
    messages_sent = models.PositiveIntegerField(default=0)
    messages_received = models.PositiveIntegerField(default=0)
    total_chats = models.PositiveIntegerField(default=0)
    memory_mb = models.FloatField(null=True, blank=True)
    cpu_percent = models.FloatField(null=True, blank=True)
    last_health_check = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)

    qr = models.TextField(blank=True)
    qr_attempt = models.PositiveIntegerField(default=0)
    qr_expires_at = models.DateTimeField(null=True, blank=True)

    recovery_status = models.CharField(max_length=20, blank=True)
    recovery_detail = models.CharField(max_length=300, blank=True)
    recovery_reported_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["worker", "status"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return self.id


class SessionStatusChange(models.Model):
    """Every transition of a session, with why, when and on which worker."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    generation = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class SessionSnapshot(models.Model):
    """The latest encrypted profile snapshot of a session (the worker holds the key;
    this side only stores bytes). The blob lives in the snapshot storage."""

    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, related_name="snapshot", primary_key=True
    )
    blob_name = models.CharField(max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    generation = models.PositiveIntegerField()
    worker_id = models.CharField(max_length=100)
    uploaded_at = models.DateTimeField(auto_now=True)


class SessionMove(models.Model):
    """One session moving off a worker (drain or failover), for operators to follow."""

    class State(models.TextChoices):
        PENDING = "pending"
        STOPPING = "stopping"
        STARTING = "starting"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Reason(models.TextChoices):
        DRAIN = "drain"
        FAILOVER = "failover"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="moves")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    from_worker_id = models.CharField(max_length=100)
    to_worker_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["from_worker_id", "state"])]
