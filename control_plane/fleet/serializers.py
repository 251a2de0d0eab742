"""Input and output shapes of the fleet endpoints."""

from __future__ import annotations

from rest_framework import serializers

from control_plane.fleet.models import Worker, WorkerEvent

MAX_CAPACITY = 1000


class WorkerOutput(serializers.ModelSerializer):
    worker_id = serializers.CharField(source="id")
    assigned_sessions = serializers.SerializerMethodField()

    class Meta:
        model = Worker
        fields = [
            "worker_id",
            "name",
            "url",
            "version",
            "environment",
            "capacity",
            "assigned_sessions",
            "status",
            "status_reason",
            "status_changed_at",
            "drain_requested_at",
            "drained_at",
            "last_heartbeat_at",
            "cpu_percent",
            "memory_mb",
            "memory_percent",
            "session_breakdown",
            "devices",
            "recent_failures",
            "created_at",
            "updated_at",
        ]

    def get_assigned_sessions(self, worker: Worker) -> int:
        assigned = getattr(worker, "assigned", None)
        if assigned is None:
            from control_plane.fleet.selectors import worker_assigned_count

            assigned = worker_assigned_count(worker_id=worker.id)
        return assigned


class WorkerEventOutput(serializers.ModelSerializer):
    class Meta:
        model = WorkerEvent
        fields = ["kind", "from_status", "to_status", "reason", "details", "created_at"]


class SessionBreakdownInput(serializers.Serializer):
    connected = serializers.IntegerField(min_value=0)
    qr_required = serializers.IntegerField(min_value=0)
    connecting = serializers.IntegerField(min_value=0)
    disconnected = serializers.IntegerField(min_value=0)
    error = serializers.IntegerField(min_value=0)


class SessionResourceInput(serializers.Serializer):
    session_id = serializers.CharField(max_length=100)
    memory_mb = serializers.FloatField(min_value=0)
    cpu_percent = serializers.FloatField(min_value=0)
    status = serializers.CharField(max_length=20, required=False)


class HeartbeatInput(serializers.Serializer):
    sessions = SessionBreakdownInput()
    cpu = serializers.FloatField(min_value=0, max_value=100_000)
    memory = serializers.FloatField(min_value=0, help_text="MB used by the worker's whole process tree")
    memory_percent = serializers.FloatField(min_value=0, max_value=100, required=False)
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    devices = serializers.ListField(child=serializers.DictField(), required=False, max_length=200)
    session_resources = SessionResourceInput(many=True, required=False, max_length=MAX_CAPACITY)
    version = serializers.CharField(max_length=50, required=False, allow_blank=True)


class RegisterInput(serializers.Serializer):
    worker_id = serializers.CharField(max_length=100, required=False)
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    version = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    environment = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class WorkerCreateInput(serializers.Serializer):
    worker_id = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    environment = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class WorkerConfigInput(serializers.Serializer):
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    name = serializers.CharField(max_length=100)
    environment = serializers.CharField(max_length=50, allow_blank=True)


class RecoveryResultInput(serializers.Serializer):
    session_id = serializers.CharField(max_length=100)
    status = serializers.ChoiceField(choices=["restored", "failed", "skipped"])
    source = serializers.ChoiceField(choices=["local", "snapshot", "none"], required=False, default="none")
    detail = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RecoveryStatusInput(serializers.Serializer):
    results = RecoveryResultInput(many=True, max_length=MAX_CAPACITY)
