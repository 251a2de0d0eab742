"""Worker machines of the fleet and what happened to them."""

from __future__ import annotations

from django.db import models


class Worker(models.Model):
    """A worker process that hosts live sessions. Its id is normalized
    (``Worker_001`` -> ``worker-001``); only the hash of its token is kept."""

    class Status(models.TextChoices):
        ONLINE = "online"
        DRAINING = "draining"
        UNHEALTHY = "unhealthy"
        OFFLINE = "offline"

    id = models.CharField(primary_key=True, max_length=100)
    name = models.CharField(max_length=100)
    url = models.CharField(max_length=300, blank=True)
    version = models.CharField(max_length=50, blank=True)
    environment = models.CharField(max_length=50, blank=True)
    capacity = models.PositiveIntegerField(default=10)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFFLINE)
    status_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    drain_requested_at = models.DateTimeField(null=True, blank=True)
    drained_at = models.DateTimeField(null=True, blank=True)

    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    cpu_percent = models.FloatField(default=0)
    memory_mb = models.FloatField(default=0)
    memory_percent = models.FloatField(default=0)
    session_breakdown = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=list, blank=True)

    recent_failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    token_prefix = models.CharField(max_length=20, blank=True, db_index=True)
    token_hash = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id


class WorkerEvent(models.Model):
    """A worker's history: status changes (with reason), recoveries and the sessions
    that lost their worker, visible to operators."""

    class Kind(models.TextChoices):
        REGISTERED = "registered"
        STATUS = "status"
        RECOVERY = "recovery"
        SESSIONS_LOST = "sessions_lost"

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
