"""The failover hook: called once when a worker is lost (offline or deleted).

Until session failover exists it records which sessions lost their worker,
so operators can see them (the worker's events) and nothing is silent.
"""

from __future__ import annotations

import logging

from control_plane.fleet.models import Worker, WorkerEvent

log = logging.getLogger(__name__)


def worker_lost(*, worker: Worker, reason: str) -> list[str]:
    """Record (and later: fail over) the sessions routed to ``worker``; returns their ids."""
    from control_plane.sessions.models import Session

    session_ids = list(Session.objects.filter(worker=worker).values_list("id", flat=True))
    if session_ids:
        WorkerEvent.objects.create(
            worker=worker,
            kind=WorkerEvent.Kind.SESSIONS_LOST,
            reason=reason[:300],
            details={"sessions": session_ids},
        )
        log.warning("worker %s lost (%s): %d sessions lost their worker", worker.id, reason, len(session_ids))
    return session_ids
