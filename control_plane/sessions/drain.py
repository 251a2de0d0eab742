"""Draining a worker: its sessions move elsewhere one by one, without a QR.

Per session: (1) the session turns ``reconnecting`` so no new message is handed
to the old worker; (2) the old worker stops it, taking a final snapshot (which
carries the ids of every message it sent); (3) it is started on the best other
worker from that snapshot; (4) the move is done when the session reports
``connected`` there. At most ``DRAIN_CONCURRENCY`` moves are between (1) and
(4) at a time. While no other worker has room (or none answers its heartbeats
in time, as happens to a busy one) the move waits, pending with the reason, and
is tried again every tick; the session keeps running meanwhile. A session whose
phone proxy lives on the draining worker cannot move: it is left running and
its move marked failed. When the worker holds no session it is ``drained`` and
can be stopped.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.core import redis as redis_client
from control_plane.core import transport
from control_plane.core.errors import WorkerTimeout, WorkerUnavailable
from control_plane.fleet import scoring, selectors
from control_plane.fleet.models import Worker, WorkerEvent
from control_plane.sessions.failover import session_move
from control_plane.sessions.models import Session, SessionMove
from control_plane.sessions.status import session_set_status
from shared.commands import StopSession

log = logging.getLogger(__name__)
M = SessionMove.State
IN_FLIGHT = [M.STOPPING, M.STARTING]


def drain_plan(*, worker: Worker) -> int:
    """One pending move per session routed to the worker (idempotent)."""
    planned = set(
        SessionMove.objects.filter(
            from_worker_id=worker.id, reason=SessionMove.Reason.DRAIN, state__in=[M.PENDING, *IN_FLIGHT]
        ).values_list("session_id", flat=True)
    )
    created = 0
    for session_id in Session.objects.filter(worker=worker).values_list("id", flat=True):
        if session_id not in planned:
            SessionMove.objects.create(
                session_id=session_id, reason=SessionMove.Reason.DRAIN, from_worker_id=worker.id
            )
            created += 1
    Worker.objects.filter(pk=worker.pk).update(drained_at=None)
    return created


def drain_cancel(*, worker: Worker) -> int:
    """Moves not started yet are cancelled; the ones under way finish."""
    return SessionMove.objects.filter(
        from_worker_id=worker.id, reason=SessionMove.Reason.DRAIN, state=M.PENDING
    ).update(state=M.CANCELLED, finished_at=timezone.now())


def _finish(move: SessionMove, state: str, detail: str = "") -> None:
    move.state, move.detail, move.finished_at = state, detail[:300], timezone.now()
    move.save(update_fields=["state", "detail", "finished_at"])


def moves_progress() -> None:
    """Starting moves whose session is connected on its new worker are done; too slow ones failed."""
    deadline = timezone.now() - timedelta(seconds=settings.DRAIN_MOVE_TIMEOUT)
    for move in SessionMove.objects.filter(state=M.STARTING).select_related("session"):
        session = move.session
        if (
            session.status == Session.Status.CONNECTED
            and session.worker_id
            and session.worker_id != move.from_worker_id
        ):
            move.to_worker_id = session.worker_id
            move.save(update_fields=["to_worker_id"])
            _finish(move, M.DONE, f"connected on {session.worker_id}")
        elif move.started_at and move.started_at < deadline:
            _finish(
                move,
                M.FAILED,
                f"not connected within {settings.DRAIN_MOVE_TIMEOUT} s (status {session.status})",
            )


NO_ROOM = "waiting: no other worker has room; the session keeps running here"


def _immovable(session: Session, worker_id: str) -> str | None:
    """Why the session can never leave this worker, or None."""
    proxy = session.proxy
    if proxy is not None and proxy.source == "adb" and proxy.worker_id == worker_id:
        return "its phone proxy is attached to this worker"
    return None


def _start_move(move: SessionMove) -> bool:
    """Start one pending move; False when it has to wait for room (it stays pending)."""
    session = Session.objects.select_related("proxy").filter(pk=move.session_id).first()
    if session is None or session.worker_id != move.from_worker_id:
        _finish(move, M.DONE if session else M.CANCELLED, "the session already left this worker")
        return True
    blocker = _immovable(session, move.from_worker_id)
    if blocker:
        _finish(move, M.FAILED, f"left running: {blocker}")
        return True
    if not scoring.rank(selectors.worker_loads(exclude=(move.from_worker_id,))):
        if move.detail != NO_ROOM:
            move.detail = NO_ROOM
            move.save(update_fields=["detail"])
        return False
    move.state, move.started_at = M.STOPPING, timezone.now()
    move.save(update_fields=["state", "started_at"])
    with transaction.atomic():
        locked = Session.objects.select_for_update(no_key=True).get(pk=session.pk)
        session_set_status(
            session=locked,
            status=Session.Status.RECONNECTING,
            reason=f"drain: moving off {move.from_worker_id}",
        )
    _stop_with_snapshot(locked)
    with transaction.atomic():
        locked = Session.objects.select_for_update(no_key=True).get(pk=session.pk)
        try:
            target = session_move(session=locked, reason=f"drain: moved off {move.from_worker_id}")
        except WorkerUnavailable as exc:
            target = None
            log.warning("drain of %s: %s", session.id, exc)
    move.to_worker_id, move.state, move.detail = target or "", M.STARTING, ""
    move.save(update_fields=["to_worker_id", "state", "detail"])
    return True


def _stop_with_snapshot(session: Session) -> bool:
    command = StopSession(
        session_id=session.id, generation=session.generation, snapshot=True, reason="moving to another worker"
    )
    try:
        envelope = transport.send_command(worker_id=session.worker_id, command=command, reply=True)
        return transport.await_reply(envelope=envelope, timeout=settings.WORKER_STOP_WAIT).ok
    except (WorkerTimeout, WorkerUnavailable) as exc:
        log.warning(
            "drain: %s did not confirm the stop of %s (%s); moving it anyway",
            session.worker_id,
            session.id,
            exc,
        )
        return False


def _drain_worker(worker: Worker) -> None:
    in_flight = SessionMove.objects.filter(from_worker_id=worker.id, state__in=IN_FLIGHT).count()
    pending = SessionMove.objects.filter(
        from_worker_id=worker.id, reason=SessionMove.Reason.DRAIN, state=M.PENDING
    ).order_by("created_at", "id")
    for move in pending[: max(0, settings.DRAIN_CONCURRENCY - in_flight)]:
        if not _start_move(move):
            break  # no room anywhere: the next tick tries again
    busy = SessionMove.objects.filter(from_worker_id=worker.id, state__in=[M.PENDING, *IN_FLIGHT]).exists()
    if not busy and not Session.objects.filter(worker=worker).exists() and worker.drained_at is None:
        Worker.objects.filter(pk=worker.pk).update(drained_at=timezone.now())
        WorkerEvent.objects.create(
            worker=worker,
            kind=WorkerEvent.Kind.STATUS,
            from_status=worker.status,
            to_status=worker.status,
            reason="drained: it holds no session and can be stopped",
        )


def drain_tick() -> int:
    """One round for every draining worker (Celery beat, and right after a drain
    request). Returns how many workers were looked at."""
    lock = redis_client.client().set("drain:tick", "1", nx=True, ex=300)
    if not lock:
        return 0  # the previous round is still moving sessions
    try:
        moves_progress()
        workers = list(Worker.objects.filter(drain_requested_at__isnull=False, status=Worker.Status.DRAINING))
        for worker in workers:
            _drain_worker(worker)
        return len(workers)
    finally:
        redis_client.client().delete("drain:tick")


def drain_report(*, worker: Worker) -> dict[str, Any]:
    moves = list(SessionMove.objects.filter(from_worker_id=worker.id).order_by("-created_at", "-id")[:200])
    counts = {state: sum(1 for m in moves if m.state == state) for state in M.values}
    state = "drained" if worker.drained_at else "draining" if worker.drain_requested_at else "idle"
    return {
        "state": state,
        "requested_at": worker.drain_requested_at,
        "drained_at": worker.drained_at,
        "sessions_left": Session.objects.filter(worker=worker).count(),
        "counts": counts,
        "moves": [
            {
                "session": m.session_id,
                "reason": m.reason,
                "state": m.state,
                "from": m.from_worker_id,
                "to": m.to_worker_id or None,
                "detail": m.detail,
                "started_at": m.started_at,
                "finished_at": m.finished_at,
            }
            for m in moves
        ],
    }
