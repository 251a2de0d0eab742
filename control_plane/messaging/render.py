"""One message as the API, webhooks and websockets show it.

A plain function rather than a DRF ModelSerializer: building serializer fields
cost ~2 ms per response on the send path (research/send-path.md's budget is
~1.5 ms in all). ``MessageOutput`` in apis.py describes the same shape for the
OpenAPI schema; a test keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from control_plane.messaging.models import Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "session": message.session_id,
        "direction": message.direction,
        "chat": message.chat,
        "to": message.to_number,
        "from": message.from_number,
        "type": message.kind,
        "text": message.text,
        "caption": message.caption,
        "mimetype": message.mimetype,
        "filename": message.filename,
        "status": message.status,
        "wa_id": message.wa_id,
        "error": message.error or None,
        "error_code": message.error_code,
        "created_at": _iso(message.created_at),
        "dispatched_at": _iso(message.dispatched_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "received_at": _iso(message.received_at),
    }
