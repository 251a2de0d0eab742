"""Applying session events from workers (called by the ingester, in its transaction).

An event counts only when it comes from the session's current route: the same
worker and the same generation. Anything else is a late word from a worker the
session has left (fenced off), and is ignored.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from control_plane.fleet.services import worker_record_failure
from control_plane.sessions import realtime
from control_plane.sessions.models import Session
from control_plane.sessions.services_snapshots import snapshot_delete
from control_plane.sessions.status import session_release, session_set_status
from shared.envelope import Envelope
from shared.events import (
    CommandFailed,
    PairingCodeIssued,
    QrIssued,
    SessionEvent,
    SessionStatusChanged,
    SnapshotStored,
)
from shared.types import SessionStatus

log = logging.getLogger(__name__)
S = Session.Status


def current_session(envelope: Envelope, event: SessionEvent) -> Session | None:
    """The locked session if this event is from its current route, else None."""
    session = Session.objects.select_for_update(no_key=True).filter(pk=event.session_id).first()
    if session is None:
        return None
    if event.generation != session.generation or (envelope.source and envelope.source != session.worker_id):
        log.info(
            "ignoring %s for %s: generation %s from %s, route is %s on %s",
            envelope.type,
            session.id,
            event.generation,
            envelope.source,
            session.generation,
            session.worker_id,
        )
        return None
    return session


def on_qr(envelope: Envelope, event: QrIssued) -> None:
    session = current_session(envelope, event)
    if session is None:
        return
    session.qr, session.qr_attempt, session.qr_expires_at = event.qr, event.attempt, event.expires_at
    session_set_status(session=session, status=S.QR_READY, reason=f"QR code {event.attempt}")
    data = {"qr": event.qr, "attempt": event.attempt, "expires_at": event.expires_at.isoformat()}
    realtime.announce(session.owner_id, session.id, "session.qr", data)


def on_pairing_code(envelope: Envelope, event: PairingCodeIssued) -> None:
    session = current_session(envelope, event)
    if session is None:
        return
    data = {"code": event.code, "phone": event.phone, "expires_at": event.expires_at.isoformat()}
    owner_id, session_id = session.owner_id, session.id
    transaction.on_commit(
        lambda: realtime.push(owner_id, session_id, "session.pairing_code", data), robust=True
    )


def on_status(envelope: Envelope, event: SessionStatusChanged) -> None:
    session = current_session(envelope, event)
    if session is None:
        return
    reason = event.reason or ""
    if event.status == SessionStatus.CONNECTED:
        session_set_status(
            session=session,
            status=S.CONNECTED,
            reason=reason or "linked",
            phone=event.phone or session.phone,
            platform=event.platform or session.platform,
            wa_version=event.wa_version or session.wa_version,
            pushname=event.pushname or session.pushname,
            connection_attempts=0,
            qr="",
            qr_attempt=0,
            qr_expires_at=None,
            last_activity=timezone.now(),
        )
        _redispatch_after_commit(session.id)
    elif event.status in (SessionStatus.DISCONNECTED, SessionStatus.ERROR):
        _ended(session, status=event.status, reason=reason or event.status.value)
    else:
        session_set_status(session=session, status=event.status.value, reason=reason)


def _redispatch_after_commit(session_id: str) -> None:
    """Messages accepted while the session was away (or dispatched to a worker it
    left) go to its worker now that it is connected."""
    from control_plane.messaging.dispatch import messages_redispatch

    transaction.on_commit(lambda: messages_redispatch(session_id=session_id), robust=True)


def _ended(session: Session, *, status: str, reason: str) -> None:
    """The worker stopped the session by itself (QR timeout, logout from the phone,
    repeated failures): free its slot and record why."""
    if status == S.ERROR and session.worker_id:
        worker_record_failure(worker_id=session.worker_id)
    session_release(session=session)
    fields = {}
    if reason == "logged_out":
        snapshot_delete(session=session)
        fields = {"phone": "", "platform": "", "pushname": ""}
    session_set_status(session=session, status=status, reason=reason, **fields)


def on_snapshot_stored(envelope: Envelope, event: SnapshotStored) -> None:
    """The upload itself went through the snapshot endpoint; nothing more to record."""


def on_command_failed(envelope: Envelope, event: CommandFailed) -> None:
    """A start the worker refused or could not do: try another worker, else error."""
    if event.command_type != "session.start" or not event.session_id:
        log.warning(
            "worker %s: %s %s failed (%s): %s",
            envelope.source,
            event.command_type,
            event.command_id,
            event.code,
            event.reason,
        )
        return
    session = Session.objects.select_for_update(no_key=True).filter(pk=event.session_id).first()
    if session is None or session.worker_id != envelope.source:
        return
    from control_plane.sessions.failover import session_move

    worker_record_failure(worker_id=session.worker_id)
    if event.code == "capacity":
        session_move(session=session, reason=f"worker {envelope.source} was full", status=S.CONNECTING)
    else:
        _ended(session, status=S.ERROR, reason=f"start failed on {envelope.source}: {event.reason}"[:200])
