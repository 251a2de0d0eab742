"""Applying message events from workers (called by the ingester, in its transaction).

Unlike session events these are facts whatever route reported them: a message
an old worker sent before it died *was* sent. So they are not fenced by
generation; repeats are harmless (status only moves forward, an incoming
WhatsApp id is stored once).
"""

from __future__ import annotations

from typing import Any

from control_plane.messaging import services
from control_plane.messaging.models import Message
from control_plane.sessions.models import Session
from control_plane.sessions.realtime import announce
from shared.envelope import Envelope
from shared.events import MessageAck, MessageFailed, MessageReceived, MessageSent


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "chat": message.chat,
        "to": message.to_number,
        "from": message.from_number,
        "type": message.kind,
        "text": message.text,
        "caption": message.caption,
        "status": message.status,
        "wa_id": message.wa_id,
        "error": message.error or None,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        "read_at": message.read_at.isoformat() if message.read_at else None,
    }


def on_received(envelope: Envelope, event: MessageReceived) -> None:
    session = Session.objects.filter(pk=event.session_id).first()
    if session is None:
        return
    message = services.message_record_received(
        session=session,
        wa_id=event.wa_id,
        sender=event.sender,
        kind=event.kind.value,
        text=event.text,
        caption=event.caption,
        mimetype=event.mimetype,
        at=event.timestamp,
    )
    if message is not None:
        announce(session.owner_id, session.id, "message.received", message_data(message))


def on_sent(envelope: Envelope, event: MessageSent) -> None:
    message = services.message_record_sent(
        session_id=event.session_id, message_id=event.message_id, wa_id=event.wa_id, at=event.at
    )
    if message is not None and not event.duplicate:
        announce(message.owner_id, message.session_id, "message.sent", message_data(message))


def on_failed(envelope: Envelope, event: MessageFailed) -> None:
    message = services.message_record_failed(
        session_id=event.session_id, message_id=event.message_id, code=event.code, reason=event.reason
    )
    if message is not None:
        announce(message.owner_id, message.session_id, "message.failed", message_data(message))


def on_ack(envelope: Envelope, event: MessageAck) -> None:
    message = services.message_record_ack(
        session_id=event.session_id, wa_id=event.wa_id, level=event.ack.value, at=event.at
    )
    if message is not None:
        announce(
            message.owner_id,
            message.session_id,
            "message.ack",
            {**message_data(message), "ack": event.ack.value},
        )
