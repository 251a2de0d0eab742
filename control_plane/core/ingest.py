"""Applying one worker event exactly once.

Each event type maps to one handler (a function taking the envelope and the
typed payload) in the app that owns the data. The handler and the
``ProcessedEvent`` row commit in one transaction, so a crash anywhere before
the commit leaves the event pending for a retry, and a retry after the commit
is recognised as a duplicate.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction

from control_plane.core.models import ProcessedEvent
from shared.envelope import Envelope, WireError, decode

log = logging.getLogger(__name__)

HANDLERS: dict[str, str] = {
    "session.qr": "control_plane.sessions.ingest.on_qr",
    "session.pairing_code": "control_plane.sessions.ingest.on_pairing_code",
    "session.status": "control_plane.sessions.ingest.on_status",
    "session.snapshot_stored": "control_plane.sessions.ingest.on_snapshot_stored",
    "command.failed": "control_plane.sessions.ingest.on_command_failed",
    "message.received": "control_plane.messaging.ingest.on_received",
    "message.sent": "control_plane.messaging.ingest.on_sent",
    "message.failed": "control_plane.messaging.ingest.on_failed",
    "message.ack": "control_plane.messaging.ingest.on_ack",
    "proxy.rotated": "control_plane.proxies.ingest.on_rotated",
    "proxy.rotation_failed": "control_plane.proxies.ingest.on_rotation_failed",
}
_resolved: dict[str, Callable[[Envelope, Any], None]] = {}


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD = "dead"


class DeadLetter(Exception):
    """The event can never be applied; ``reason`` goes to the dead-letter stream."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def handler_for(type_name: str) -> Callable[[Envelope, Any], None]:
    if type_name not in _resolved:
        path = HANDLERS.get(type_name)
        if path is None:
            raise DeadLetter(f"no handler for event type {type_name!r}")
        module, _, name = path.rpartition(".")
        _resolved[type_name] = getattr(importlib.import_module(module), name)
    return _resolved[type_name]


def ingest(raw: str | None) -> Outcome:
    """Decode, de-duplicate and apply one event; raise :class:`DeadLetter` when it is
    malformed, of an unknown type or its handler fails."""
    if raw is None:
        raise DeadLetter("entry without an envelope field")
    try:
        envelope, payload = decode(raw)
    except WireError as exc:
        raise DeadLetter(f"{exc.code}: {exc.message}") from exc
    handler = handler_for(envelope.type)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    ProcessedEvent.objects.create(
                        id=envelope.id, type=envelope.type, source=envelope.source or ""
                    )
            except IntegrityError:
                return Outcome.DUPLICATE
            handler(envelope, payload)
    except (DeadLetter, OperationalError, InterfaceError):
        raise  # a database outage is waited out by the loop, never dead-lettered
    except Exception as exc:  # one bad event must never stop the ingester
        log.exception("handler for %s %s failed", envelope.type, envelope.id)
        raise DeadLetter(f"handler failed: {type(exc).__name__}: {exc}") from exc
    return Outcome.APPLIED
