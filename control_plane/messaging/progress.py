"""Outgoing message status only moves forward: queued < dispatched < sent <
delivered < read. A late or repeated report never moves it back."""

from __future__ import annotations

from datetime import datetime

from control_plane.messaging.models import Message

RANK = {"queued": 0, "dispatched": 1, "sent": 2, "delivered": 3, "read": 4}
STAMP = {"dispatched": "dispatched_at", "sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}


def advance(message: Message, status: str, at: datetime) -> list[str]:
    """Move ``message`` to ``status`` if that is forward; returns the changed fields.

    Skipped steps get the same timestamp (a read implies delivered and sent).
    A failed message only leaves ``failed`` when WhatsApp proves it was sent.
    """
    current = RANK.get(message.status, -1)
    target = RANK[status]
    if message.status == Message.Status.FAILED and target < RANK["sent"]:
        return []
    if message.status != Message.Status.FAILED and target <= current:
        return []
    changed = ["status"]
    for name, rank in RANK.items():
        field = STAMP.get(name)
        if field and current < rank <= target and getattr(message, field) is None:
            setattr(message, field, at)
            changed.append(field)
    message.status = status
    if message.error:
        message.error, message.error_code = "", ""
        changed += ["error", "error_code"]
    return changed
