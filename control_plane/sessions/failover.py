"""Moving sessions off a lost worker, without a new QR: each is started on the
best other worker from its latest snapshot; with no room anywhere it waits in
``reconnecting`` and a periodic task retries."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from control_plane.core import transport
from control_plane.core.errors import WorkerUnavailable
from control_plane.fleet.models import Worker
from control_plane.sessions.models import Session, SessionMove
from control_plane.sessions.services import session_route
from control_plane.sessions.status import session_release, session_set_status
from shared.commands import DropSession

log = logging.getLogger(__name__)
S = Session.Status


def _fence(worker_id: str, session_id: str, generation: int) -> None:
    """Tell the old worker to let go, should it come back (a session is never live twice)."""
    command = DropSession(session_id=session_id, generation=generation)
    transaction.on_commit(lambda: _send_quietly(worker_id, command))


def _send_quietly(worker_id: str, command: DropSession) -> None:
    try:
        transport.send_command(worker_id=worker_id, command=command)
    except WorkerUnavailable:
        log.warning("could not fence %s off %s", command.session_id, worker_id)


def session_move(
    *, session: Session, reason: str, status: str = S.RECONNECTING, avoid_current: bool = True
) -> str | None:
    """Restart one locked session elsewhere (``avoid_current``: not on its current
    worker, for failover and drain) or anywhere (a proxy change). Returns the new
    worker id, or None while it waits for room."""
    old_worker = session.worker_id
    session_release(session=session)
    if old_worker:
        _fence(old_worker, session.id, session.generation)
    exclude = (old_worker,) if old_worker and avoid_current else ()
    try:
        with transaction.atomic():
            session_route(session=session, status=status, reason=reason, exclude=exclude)
        return session.worker_id
    except WorkerUnavailable:
        session.worker = None
        session_set_status(session=session, status=S.RECONNECTING, reason=f"{reason}; waiting for a worker")
        return None


def sessions_fail_over(*, worker: Worker, reason: str) -> dict[str, str | None]:
    """Every session routed to ``worker`` moves; returns session -> new worker (None: waiting).
    Each move is recorded for operators (``SessionMove``, reason ``failover``)."""
    moved: dict[str, str | None] = {}
    for session_id in Session.objects.filter(worker=worker).values_list("id", flat=True):
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(no_key=True).filter(pk=session_id, worker=worker).first()
            )
            if session is None:
                continue
            target = session_move(session=session, reason=f"worker {worker.id} lost: {reason}")
            moved[session.id] = target
            SessionMove.objects.create(
                session=session,
                reason=SessionMove.Reason.FAILOVER,
                from_worker_id=worker.id,
                to_worker_id=target or "",
                started_at=timezone.now() if target else None,
                state=SessionMove.State.STARTING if target else SessionMove.State.PENDING,
                detail="" if target else "waiting for a worker with room",
            )
    return moved


def sessions_retry_waiting() -> int:
    """Sessions waiting for a worker after a failover try again; returns how many moved."""
    placed = 0
    waiting = Session.objects.filter(status=S.RECONNECTING, worker__isnull=True).values_list("id", flat=True)
    for session_id in waiting:
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(no_key=True)
                .filter(pk=session_id, worker__isnull=True, status=S.RECONNECTING)
                .first()
            )
            if session is None:
                continue
            try:
                with transaction.atomic():
                    session_route(session=session, status=S.RECONNECTING, reason="a worker has room again")
            except WorkerUnavailable:
                return placed
            placed += 1
            SessionMove.objects.filter(
                session=session, state=SessionMove.State.PENDING, reason=SessionMove.Reason.FAILOVER
            ).update(
                state=SessionMove.State.STARTING,
                to_worker_id=session.worker_id,
                started_at=timezone.now(),
                detail="",
            )
    return placed
