"""Messages in both directions, and the chats they belong to."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import models

from shared.ids import new_id


class Message(models.Model):
    """One WhatsApp message. Outgoing ones move ``queued -> dispatched -> sent ->
    delivered -> read`` (or ``failed`` with a reason), with a timestamp per step."""

    class Direction(models.TextChoices):
        IN = "in"
        OUT = "out"

    class Status(models.TextChoices):
        QUEUED = "queued"
        DISPATCHED = "dispatched"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        RECEIVED = "received"

    class Kind(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        DOCUMENT = "document"
        AUDIO = "audio"
        VIDEO = "video"

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "msg"), editable=False)
    # No single-column indexes on the foreign keys: the composite indexes below lead
    # with them, and every index is paid on each insert and status update.
    session = models.ForeignKey(
        "instances.Session", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    chat = models.CharField(max_length=40)
    to_number = models.CharField(max_length=40, blank=True)
    from_number = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True)
    caption = models.TextField(blank=True)
    mimetype = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    media_size = models.PositiveIntegerField(null=True, blank=True)
    media_blob = models.CharField(max_length=200, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices)
    wa_id = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    dispatch_count = models.PositiveIntegerField(default=0)
    dispatched_generation = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["session", "-created_at"]),
            models.Index(fields=["session", "status"]),
            models.Index(fields=["session", "chat", "-created_at"]),
            models.Index(fields=["session", "wa_id"]),  # acks find their message
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="one_message_per_idempotency_key"
            ),
            models.UniqueConstraint(
                fields=["session", "wa_id"], condition=models.Q(direction="in"), name="one_incoming_per_wa_id"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class Chat(models.Model):
    """A conversation of a session with one number (the session's chat count)."""

    session = models.ForeignKey("instances.Session", on_delete=models.CASCADE, related_name="chats")
    number = models.CharField(max_length=40)
    last_message_at = models.DateTimeField()
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="one_chat_per_number")]
        ordering = ["-last_message_at"]


class EarlyAck(models.Model):
    """An ack that arrived before the ``message.sent`` carrying its WhatsApp id (the
    page can report delivery before the send call returns). Applied, then deleted,
    when that message is recorded as sent."""

    session = models.ForeignKey("instances.Session", on_delete=models.CASCADE, related_name="+")
    wa_id = models.CharField(max_length=200)
    level = models.CharField(max_length=12)
    at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "wa_id"])]
