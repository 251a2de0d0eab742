"""Input and output shapes of the session endpoints."""

from __future__ import annotations

from rest_framework import serializers

from control_plane.sessions.models import Session, SessionStatusChange


class SessionOutput(serializers.ModelSerializer):
    worker = serializers.CharField(source="worker_id", allow_null=True)
    proxy = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = [
            "id",
            "name",
            "description",
            "status",
            "phone",
            "platform",
            "wa_version",
            "worker",
            "proxy",
            "connection_attempts",
            "last_disconnect_reason",
            "messages_sent",
            "messages_received",
            "total_chats",
            "memory_mb",
            "last_health_check",
            "last_activity",
            "created_at",
            "updated_at",
        ]

    def get_proxy(self, session: Session) -> dict | None:
        """Which kind of egress and public IP the session uses; never host or credentials."""
        proxy = session.proxy
        if proxy is None:
            return None
        return {
            "id": proxy.id,
            "kind": proxy.kind,
            "source": proxy.source,
            "status": proxy.status,
            "public_ip": proxy.public_ip or None,
        }


class SessionCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    proxy = serializers.CharField(
        max_length=40,
        required=False,
        allow_null=True,
        default=None,
        help_text='"pool" for a pool proxy, a proxy id, or null for none',
    )


class SessionUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    proxy = serializers.CharField(
        max_length=40,
        required=False,
        allow_null=True,
        help_text="takes effect at the next connect or restart",
    )


class StatusChangeOutput(serializers.ModelSerializer):
    worker = serializers.CharField(source="worker_id")

    class Meta:
        model = SessionStatusChange
        fields = ["from_status", "to_status", "reason", "worker", "generation", "created_at"]


class PairingCodeInput(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
