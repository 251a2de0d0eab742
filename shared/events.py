"""Events: worker -> control plane, on the one events stream.

The engine yields these models; the worker wraps each in an envelope whose
unique ``id`` lets the ingester apply it exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.envelope import WireModel, wire_type
from shared.types import AckLevel, MessageKind, SessionId, SessionStatus


class SessionEvent(WireModel):
    session_id: SessionId
    generation: int = Field(default=0, ge=0)


@wire_type("session.qr")
class QrIssued(SessionEvent):
    """A new QR is on screen (first one and every rotation)."""

    qr: str
    attempt: int = Field(ge=1)
    expires_at: datetime


@wire_type("session.pairing_code")
class PairingCodeIssued(SessionEvent):
    """A pairing code for ``phone`` is waiting to be typed on the phone."""

    code: str
    phone: str
    expires_at: datetime


@wire_type("session.status")
class SessionStatusChanged(SessionEvent):
    """The session moved to ``status``; ``reason`` says why (``qr_timeout``,
    ``logged_out``, ``connection_lost``, ``browser_crashed``...)."""

    status: SessionStatus
    reason: str | None = None
    phone: str | None = None
    platform: str | None = None
    wa_version: str | None = None
    pushname: str | None = None


@wire_type("message.received")
class MessageReceived(SessionEvent):
    """A message arrived from a chat."""

    wa_id: str
    chat: str
    sender: str
    kind: MessageKind = MessageKind.TEXT
    text: str | None = None
    caption: str | None = None
    mimetype: str | None = None
    timestamp: datetime


@wire_type("message.sent")
class MessageSent(SessionEvent):
    """An outgoing message left the session with WhatsApp id ``wa_id``."""

    message_id: str
    wa_id: str
    at: datetime
    duplicate: bool = False  # already sent before (recorded id); not sent again


@wire_type("message.failed")
class MessageFailed(SessionEvent):
    """An outgoing message could not be sent; ``code`` is machine-readable."""

    message_id: str
    code: str
    reason: str


@wire_type("message.ack")
class MessageAck(SessionEvent):
    """WhatsApp reported progress of an outgoing message."""

    wa_id: str
    ack: AckLevel
    at: datetime


@wire_type("session.snapshot_stored")
class SnapshotStored(SessionEvent):
    """A fresh encrypted profile snapshot was uploaded to the control plane."""

    size: int
    sha256: str


@wire_type("proxy.rotated")
class ProxyRotated(WireModel):
    """A phone proxy changed its public IP."""

    proxy_id: str | None = None
    device_serial: str
    old_ip: str | None
    new_ip: str
    method: str | None = None  # "airplane" or "mobile_data"
    attempts: int | None = Field(default=None, ge=0)
    duration_s: float | None = Field(default=None, ge=0)


@wire_type("proxy.rotation_failed")
class ProxyRotationFailed(WireModel):
    """A phone proxy could not change its public IP; ``code`` is machine-readable
    (``ip_unchanged``, ``no_cellular_link``, ``device_unavailable``, ``timeout``...)."""

    proxy_id: str | None = None
    device_serial: str
    reason: str
    code: str | None = None
    old_ip: str | None = None
    attempts: int | None = Field(default=None, ge=0)


@wire_type("command.failed")
class CommandFailed(WireModel):
    """A command was refused or failed; ``code``: ``malformed``, ``unknown_type``,
    ``not_held``, ``capacity``, ``stale_generation``, ``failed``..."""

    command_id: str | None
    command_type: str | None
    session_id: str | None = None
    code: str
    reason: str


@wire_type("command.result")
class CommandResult(WireModel):
    """The answer to a request/reply command, pushed on its reply key."""

    command_id: str
    ok: bool
    code: str | None = None
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
