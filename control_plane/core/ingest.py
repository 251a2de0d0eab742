"""Applying worker events exactly once.

Each event type maps to one handler (a function taking the envelope and the
typed payload) in the app that owns the data. The handler and the
``ProcessedEvent`` row commit in one transaction, so a crash anywhere before
the commit leaves the event pending for a retry, and a retry after the commit
is recognised as a duplicate.

Message events come three per message sent (sent, delivered, read), so a run of
them is applied in one transaction (:func:`ingest_batch`): one commit and one
duplicate check for the run instead of a transaction, a savepoint and an insert
each. Their handlers only write rows and leave every effect outside the
database to ``on_commit``, so a run that fails is simply rolled back and applied
again one event at a time, which isolates the event to dead-letter.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction

from control_plane.core.batch_scope import batch_scope
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


# Handlers that write rows only (effects leave through on_commit): safe to batch.
BATCHABLE = frozenset({"message.received", "message.sent", "message.failed", "message.ack"})


def decode_event(raw: str | None) -> tuple[Envelope, Any]:
    """The envelope and typed payload of a stream entry; :class:`DeadLetter` if malformed."""
    if raw is None:
        raise DeadLetter("entry without an envelope field")
    try:
        return decode(raw)
    except WireError as exc:
        raise DeadLetter(f"{exc.code}: {exc.message}") from exc


def ingest_batch(events: list[tuple[Envelope, Any]]) -> list[Outcome]:
    """Apply events of :data:`BATCHABLE` types in one transaction, in order. Raises on
    the first failure, with nothing applied: the caller applies them one by one."""
    ids = [envelope.id for envelope, _ in events]
    with transaction.atomic(), batch_scope():
        seen = set(ProcessedEvent.objects.filter(id__in=ids).values_list("id", flat=True))
        fresh: dict[str, tuple[Envelope, Any]] = {}
        for envelope, payload in events:
            if envelope.id not in seen:
                fresh.setdefault(envelope.id, (envelope, payload))
        # Claimed first, as one event at a time does: a racing ingester waits on these
        # rows, then fails, and its one-by-one retry counts the events as duplicates.
        ProcessedEvent.objects.bulk_create(
            ProcessedEvent(id=envelope.id, type=envelope.type, source=envelope.source or "")
            for envelope, _ in fresh.values()
        )
        outcomes = []
        for envelope, payload in events:
            if fresh.get(envelope.id, (None,))[0] is envelope:
                handler_for(envelope.type)(envelope, payload)
                outcomes.append(Outcome.APPLIED)
            else:
                outcomes.append(Outcome.DUPLICATE)
    return outcomes


def ingest(raw: str | None) -> Outcome:
    """Decode, de-duplicate and apply one event; raise :class:`DeadLetter` when it is
    malformed, of an unknown type or its handler fails."""
    envelope, payload = decode_event(raw)
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
