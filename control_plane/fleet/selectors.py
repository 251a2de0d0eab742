"""Reads for the fleet: workers, their load, their assigned sessions, statistics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from control_plane.core.errors import NotFound
from control_plane.fleet.models import Worker, WorkerEvent
from control_plane.fleet.scoring import WorkerLoad
from shared.ids import normalize_id
from shared.types import SessionStatus

STARTING_STATUSES = [SessionStatus.CONNECTING, SessionStatus.QR_READY, SessionStatus.RECONNECTING]
FAILURE_MEMORY = timedelta(minutes=15)


def heartbeat_deadline() -> timedelta:
    """Silence after which a worker counts as having missed its beats."""
    return timedelta(seconds=settings.HEARTBEAT_INTERVAL * settings.WORKER_MISSED_BEATS)


def worker_get(*, worker_id: str) -> Worker:
    worker = Worker.objects.filter(pk=normalize_id(worker_id)).first()
    if worker is None:
        raise NotFound(f"No worker {normalize_id(worker_id)!r}.")
    return worker


def worker_list(*, status: str | None = None) -> QuerySet[Worker]:
    workers = Worker.objects.annotate(assigned=Count("sessions"))
    return workers.filter(status=status) if status else workers


def worker_assigned_count(*, worker_id: str) -> int:
    from control_plane.sessions.models import Session

    return Session.objects.filter(worker_id=worker_id).count()


def worker_loads(*, exclude: tuple[str, ...] = ()) -> list[WorkerLoad]:
    """A load snapshot of every worker (one query), for :func:`scoring.rank`."""
    now = timezone.now()
    fresh_after = now - heartbeat_deadline()
    workers = Worker.objects.exclude(pk__in=exclude).annotate(
        assigned=Count("sessions"),
        starting=Count("sessions", filter=Q(sessions__status__in=STARTING_STATUSES)),
    )
    return [
        WorkerLoad(
            worker_id=w.id,
            status=w.status,
            capacity=w.capacity,
            assigned=w.assigned,
            cpu_percent=w.cpu_percent,
            memory_percent=w.memory_percent,
            starting=w.starting,
            recent_failures=w.recent_failures
            if w.last_failure_at and w.last_failure_at > now - FAILURE_MEMORY
            else 0,
            heartbeat_fresh=bool(w.last_heartbeat_at and w.last_heartbeat_at > fresh_after),
        )
        for w in workers
    ]


def worker_assigned_sessions(*, worker: Worker) -> list[dict[str, Any]]:
    """What a (re)starting worker must restore: every session routed to it, with its
    proxy (credentials included: only the worker's own token reads this) and whether
    a snapshot is stored."""
    from django.conf import settings

    from control_plane.proxies.services import proxy_spec
    from control_plane.sessions.models import Session, SessionSnapshot

    sessions = Session.objects.filter(worker=worker).select_related("proxy").order_by("created_at")
    stored = set(SessionSnapshot.objects.filter(session__in=sessions).values_list("session_id", flat=True))
    return [
        {
            "session_id": s.id,
            "generation": s.generation,
            "status": s.status,
            "phone": s.phone or None,
            "restore": s.id in stored,
            "qr_max": settings.QR_MAX_CODES,
            "proxy": proxy_spec(s.proxy).model_dump() if s.proxy else None,
        }
        for s in sessions
    ]


def worker_events(*, worker: Worker, limit: int = 50) -> QuerySet[WorkerEvent]:
    return worker.events.all()[:limit]


def fleet_statistics() -> dict[str, Any]:
    from control_plane.sessions.models import Session

    by_status = {status.value: 0 for status in Worker.Status}
    for row in Worker.objects.values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    usable = Worker.objects.filter(status=Worker.Status.ONLINE)
    total_capacity = sum(w.capacity for w in Worker.objects.all())
    online_capacity = sum(w.capacity for w in usable)
    sessions_by_status = {status.value: 0 for status in SessionStatus}
    for row in Session.objects.values("status").annotate(n=Count("id")):
        sessions_by_status[row["status"]] = row["n"]
    assigned = Session.objects.filter(worker__isnull=False).count()
    return {
        "workers": {"total": sum(by_status.values()), "by_status": by_status},
        "capacity": {
            "total": total_capacity,
            "online": online_capacity,
            "assigned": assigned,
            "free_online": max(0, online_capacity - Session.objects.filter(worker__in=usable).count()),
            "utilization": round(assigned / total_capacity, 4) if total_capacity else 0.0,
        },
        "sessions": {"total": sum(sessions_by_status.values()), "by_status": sessions_by_status},
    }
