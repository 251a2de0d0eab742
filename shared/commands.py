"""Commands: control plane -> one worker, on that worker's Redis stream.

Every session-scoped command carries the session's route ``generation``
(a fencing token): a worker acts only on the newest generation it has seen
for that session, so a session is never live on two workers at once.
"""

from __future__ import annotations

from pydantic import Field

from shared.envelope import WireModel, wire_type
from shared.types import MediaSpec, MessageKind, Phone, ProxySpec, SessionId


class SessionCommand(WireModel):
    session_id: SessionId
    generation: int = Field(ge=0)


@wire_type("session.start")
class StartSession(SessionCommand):
    """Start (or restore) a session. Sent on connect, failover, drain and recovery.

    ``restore`` says the control plane holds a snapshot the worker should fetch
    when it has no local profile for the session.
    """

    restore: bool = False
    proxy: ProxySpec | None = None
    qr_max: int = Field(default=6, ge=1, le=100)


@wire_type("session.stop")
class StopSession(SessionCommand):
    """Stop a session and keep its credentials (optionally snapshot first)."""

    snapshot: bool = True
    reason: str = "stopped"


@wire_type("session.logout")
class LogoutSession(SessionCommand):
    """Unlink the session from the phone and delete its local profile."""


@wire_type("session.drop")
class DropSession(SessionCommand):
    """The session now lives elsewhere (or was deleted): close it, delete the local
    profile, upload nothing, emit no status. Sent to a worker that came back after
    failover and on delete."""


@wire_type("session.snapshot")
class SnapshotSession(SessionCommand):
    """Upload a fresh encrypted profile snapshot now (drain, before a move)."""


@wire_type("session.request_pairing_code")
class RequestPairingCode(SessionCommand):
    """Ask the page for a pairing code for ``phone``; answered on the reply key."""

    phone: Phone


@wire_type("message.send")
class SendMessage(SessionCommand):
    """Send one outgoing message. ``message_id`` is the control plane's id; a worker
    that has already sent this id for the session must not send it again."""

    message_id: str = Field(min_length=1, max_length=64)
    to: Phone
    kind: MessageKind = MessageKind.TEXT
    text: str | None = Field(default=None, max_length=65536)
    caption: str | None = Field(default=None, max_length=4096)
    media: MediaSpec | None = None


@wire_type("proxy.rotate")
class RotateProxy(WireModel):
    """Rotate the public IP of a phone attached to this worker."""

    proxy_id: str
    device_serial: str = Field(min_length=1, max_length=200)
