"""Applying message events from workers (called by the ingester, in its transaction).

Unlike session events these are facts whatever route reported them: a message
an old worker sent before it died *was* sent. So they are not fenced by
generation; repeats are harmless (status only moves forward, an incoming
WhatsApp id is stored once).
"""

from __future__ import annotations

from control_plane.messaging import services
from control_plane.messaging.render import message_json
from control_plane.sessions.models import Session
from control_plane.sessions.realtime import announce
from shared.envelope import Envelope
from shared.events import MessageAck, MessageFailed, MessageReceived, MessageSent


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
        announce(session.owner_id, session.id, "message.received", message_json(message))


def on_sent(envelope: Envelope, event: MessageSent) -> None:
    message = services.message_record_sent(
        session_id=event.session_id, message_id=event.message_id, wa_id=event.wa_id, at=event.at
    )
    if message is not None and not event.duplicate:
        announce(message.owner_id, message.session_id, "message.sent", message_json(message))


def on_failed(envelope: Envelope, event: MessageFailed) -> None:
    message = services.message_record_failed(
        session_id=event.session_id, message_id=event.message_id, code=event.code, reason=event.reason
    )
    if message is not None:
        announce(message.owner_id, message.session_id, "message.failed", message_json(message))


def on_ack(envelope: Envelope, event: MessageAck) -> None:
    message = services.message_record_ack(
        session_id=event.session_id, wa_id=event.wa_id, level=event.ack.value, at=event.at
    )
    if message is not None:
        announce(
            message.owner_id,
            message.session_id,
            "message.ack",
            {**message_json(message), "ack": event.ack.value},
        )
