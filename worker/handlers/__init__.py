"""One handler per command type (``handlers/<command>.py``), each with its own timeout.

The dispatcher (worker/dispatch.py) looks a decoded command up in
:data:`HANDLERS`, fences its generation, and runs the handler under the
timeout; a failure is reported as an event and logged, never fatal.
"""

from __future__ import annotations

from shared import commands
from shared.envelope import WireModel
from worker.handlers import (
    message_send,
    proxy_rotate,
    session_drop,
    session_logout,
    session_request_pairing_code,
    session_snapshot,
    session_start,
    session_stop,
)
from worker.handlers.base import HandlerContext, HandlerSpec, Outcome

HANDLERS: dict[type[WireModel], HandlerSpec] = {
    commands.StartSession: HandlerSpec(session_start.handle, session_start.TIMEOUT),
    commands.StopSession: HandlerSpec(session_stop.handle, session_stop.TIMEOUT),
    commands.LogoutSession: HandlerSpec(session_logout.handle, session_logout.TIMEOUT),
    commands.DropSession: HandlerSpec(session_drop.handle, session_drop.TIMEOUT),
    commands.SnapshotSession: HandlerSpec(session_snapshot.handle, session_snapshot.TIMEOUT),
    commands.RequestPairingCode: HandlerSpec(
        session_request_pairing_code.handle, session_request_pairing_code.TIMEOUT
    ),
    commands.SendMessage: HandlerSpec(message_send.handle, message_send.TIMEOUT),
    commands.RotateProxy: HandlerSpec(proxy_rotate.handle, proxy_rotate.TIMEOUT),
}

__all__ = ["HANDLERS", "HandlerContext", "HandlerSpec", "Outcome"]
