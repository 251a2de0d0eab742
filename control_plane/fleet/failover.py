"""The failover hook: called once when a worker is lost (offline or deleted).

Its sessions move to other workers from their snapshots (sessions.failover);
where each went is recorded in the worker's history for operators.
"""

from __future__ import annotations

import logging

from control_plane.fleet.models import Worker, WorkerEvent

log = logging.getLogger(__name__)


def worker_lost(*, worker: Worker, reason: str) -> list[str]:
    """Fail over every session routed to ``worker``; returns their ids."""
    from control_plane.proxies.models import Proxy
    from control_plane.sessions.failover import sessions_fail_over

    # Its phones went with it: their sessions follow each proxy's policy.
    Proxy.objects.filter(worker=worker).exclude(status=Proxy.Status.DISABLED).update(
        status=Proxy.Status.UNHEALTHY, status_reason=f"its worker was lost: {reason}"[:300]
    )
    moved = sessions_fail_over(worker=worker, reason=reason)

    if moved:
        WorkerEvent.objects.create(
            worker=worker,
            kind=WorkerEvent.Kind.SESSIONS_LOST,
            reason=reason[:300],
            details={"sessions": sorted(moved), "moved_to": moved},
        )
        log.warning(
            "worker %s lost (%s): %d sessions lost their worker, %d placed elsewhere",
            worker.id,
            reason,
            len(moved),
            sum(1 for target in moved.values() if target),
        )
    return sorted(moved)
