"""The health monitor: missed heartbeats make a worker unhealthy, then offline.

Runs from Celery beat every ``HEARTBEAT_INTERVAL`` and on demand
(``POST /v1/workers/health-check``). The database's heartbeat time is the
source of truth, so a Redis restart (which drops liveness keys) never takes
the fleet offline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.fleet import failover
from control_plane.fleet.models import Worker
from control_plane.fleet.selectors import heartbeat_deadline
from control_plane.fleet.services import worker_set_status


def fleet_health_check() -> list[dict[str, Any]]:
    """Check every worker once; returns what was found and done for each."""
    results = []
    for worker_id in Worker.objects.order_by("id").values_list("id", flat=True):
        result = _check_worker(worker_id)
        if result is not None:
            results.append(result)
    return results


@transaction.atomic
def _check_worker(worker_id: str) -> dict[str, Any] | None:
    worker = Worker.objects.select_for_update(no_key=True).filter(pk=worker_id).first()
    if worker is None:
        return None
    now = timezone.now()
    unhealthy_after = heartbeat_deadline()
    offline_after = unhealthy_after + timedelta(seconds=settings.WORKER_OFFLINE_GRACE)
    last_seen = worker.last_heartbeat_at
    silence = (now - last_seen) if last_seen else None
    before = worker.status
    action = "none"
    if worker.status in (Worker.Status.ONLINE, Worker.Status.DRAINING, Worker.Status.UNHEALTHY):
        if silence is None or silence > offline_after:
            reason = _silence_reason(silence, "offline")
            worker_set_status(worker=worker, status=Worker.Status.OFFLINE, reason=reason)
            failover.worker_lost(worker=worker, reason=reason)
            action = "marked_offline"
        elif silence > unhealthy_after and worker.status != Worker.Status.UNHEALTHY:
            worker_set_status(
                worker=worker, status=Worker.Status.UNHEALTHY, reason=_silence_reason(silence, "unhealthy")
            )
            action = "marked_unhealthy"
    return {
        "worker_id": worker.id,
        "status_before": before,
        "status": worker.status,
        "action": action,
        "reason": worker.status_reason,
        "last_heartbeat_at": last_seen.isoformat() if last_seen else None,
        "seconds_since_heartbeat": round(silence.total_seconds(), 1) if silence else None,
    }


def _silence_reason(silence: timedelta | None, outcome: str) -> str:
    if silence is None:
        return f"{outcome}: never sent a heartbeat"
    beats = int(silence.total_seconds() // settings.HEARTBEAT_INTERVAL)
    return f"{outcome}: no heartbeat for {int(silence.total_seconds())} s ({beats} missed)"
