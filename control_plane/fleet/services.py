"""Writes for the fleet: registration, heartbeats, status, drain, slot reservation."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis import RedisError

from control_plane.core import redis as redis_client
from control_plane.core.credentials import WORKER_TOKEN_PREFIX, hash_secret, new_secret
from control_plane.core.errors import Conflict, ValidationFailed, WorkerUnavailable
from control_plane.fleet import failover, scoring, selectors
from control_plane.fleet.models import Worker, WorkerEvent
from shared.ids import normalize_id
from shared.streams import worker_alive_key

log = logging.getLogger(__name__)
LIVENESS_BEATS = 3  # the Redis liveness key outlives three missed heartbeats


def _clean_id(raw: str) -> str:
    worker_id = normalize_id(raw)
    if not worker_id:
        raise ValidationFailed(
            "A worker id needs at least one letter or digit.",
            details={"fields": {"worker_id": ["empty after normalization"]}},
        )
    return worker_id


def _issue_token(worker: Worker) -> str:
    raw, public = new_secret(WORKER_TOKEN_PREFIX)
    worker.token_prefix, worker.token_hash = public, hash_secret(raw)
    return raw


def _resumed_status(worker: Worker) -> str:
    """A worker that comes back is online again, unless an operator is draining it."""
    return Worker.Status.DRAINING if worker.drain_requested_at else Worker.Status.ONLINE


def worker_set_status(*, worker: Worker, status: str, reason: str) -> bool:
    """Move a worker to ``status`` and record why; False when it already was."""
    if worker.status == status:
        return False
    WorkerEvent.objects.create(
        worker=worker,
        kind=WorkerEvent.Kind.STATUS,
        from_status=worker.status,
        to_status=status,
        reason=reason[:300],
    )
    worker.status, worker.status_reason, worker.status_changed_at = status, reason[:300], timezone.now()
    worker.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    return True


@transaction.atomic
def worker_register(
    *,
    name: str,
    capacity: int,
    version: str = "",
    environment: str = "",
    url: str = "",
    worker_id: str | None = None,
) -> dict[str, Any]:
    """Self-registration with the enrollment token. A known id gets a fresh token
    (the old one stops working) and learns whether it must recover sessions."""
    worker_id = _clean_id(worker_id) if worker_id else f"worker-{secrets.token_hex(4)}"
    worker = Worker.objects.select_for_update(no_key=True).filter(pk=worker_id).first()
    created = worker is None
    if created:
        worker = Worker(id=worker_id)
    worker.name, worker.capacity, worker.version = name or worker_id, capacity, version
    worker.environment, worker.url = environment, url
    token = _issue_token(worker)
    worker.save()
    worker_set_status(worker=worker, status=_resumed_status(worker), reason="registered")
    assigned = selectors.worker_assigned_count(worker_id=worker.id)
    WorkerEvent.objects.create(
        worker=worker,
        kind=WorkerEvent.Kind.REGISTERED,
        reason="registered" if created else "re-registered",
        details={"version": version, "assigned_sessions": assigned},
    )
    return {
        "worker": worker,
        "created": created,
        "token": token,
        "heartbeat_interval": settings.HEARTBEAT_INTERVAL,
        "recovery_required": assigned > 0,
        "assigned_session_count": assigned,
    }


@transaction.atomic
def worker_create(*, worker_id: str, name: str, capacity: int, environment: str = "") -> tuple[Worker, str]:
    """An operator creates a worker up front; the token is shown once."""
    worker_id = _clean_id(worker_id)
    if Worker.objects.filter(pk=worker_id).exists():
        raise Conflict(f"Worker {worker_id!r} already exists.")
    worker = Worker(
        id=worker_id,
        name=name or worker_id,
        capacity=capacity,
        environment=environment,
        status=Worker.Status.OFFLINE,
        status_reason="created; waiting for its first heartbeat",
    )
    token = _issue_token(worker)
    worker.save()
    return worker, token


@transaction.atomic
def worker_update_config(*, worker: Worker, capacity: int, name: str, environment: str) -> Worker:
    worker.capacity, worker.name, worker.environment = capacity, name, environment
    worker.save(update_fields=["capacity", "name", "environment", "updated_at"])
    return worker


@transaction.atomic
def worker_delete(*, worker: Worker) -> None:
    """Forget a worker; its token stops working and its sessions fail over."""
    failover.worker_lost(worker=worker, reason="worker deleted by an operator")
    worker.delete()


def worker_authenticate(*, token: str) -> Worker | None:
    from control_plane.core.credentials import public_part, secrets_match

    worker = Worker.objects.filter(token_prefix=public_part(token, WORKER_TOKEN_PREFIX)).first()
    if worker is None or not worker.token_hash or not secrets_match(token, worker.token_hash):
        return None
    return worker


@transaction.atomic
def worker_heartbeat(
    *,
    worker: Worker,
    sessions: dict[str, int],
    cpu: float,
    memory: float,
    capacity: int,
    memory_percent: float | None = None,
    devices: list[dict[str, Any]] | None = None,
    version: str | None = None,
    session_resources: list[dict[str, Any]] | None = None,
) -> Worker:
    """Record a heartbeat: load in the database, liveness in Redis (expires after the
    missed-beat limit). A worker that was unhealthy or offline is online again."""
    worker = Worker.objects.select_for_update(no_key=True).get(pk=worker.pk)
    worker.last_heartbeat_at = timezone.now()
    worker.cpu_percent, worker.memory_mb, worker.capacity = cpu, memory, capacity
    worker.memory_percent = memory_percent if memory_percent is not None else worker.memory_percent
    worker.session_breakdown = sessions
    if devices is not None:
        worker.devices = devices
        from control_plane.proxies.phones import phones_from_heartbeat

        phones_from_heartbeat(worker=worker, devices=devices)

    if version:
        worker.version = version
    worker.save()
    if session_resources:
        _record_session_resources(worker=worker, resources=session_resources)
    if worker.status in (Worker.Status.UNHEALTHY, Worker.Status.OFFLINE):
        worker_set_status(worker=worker, status=_resumed_status(worker), reason="heartbeats resumed")
    transaction.on_commit(lambda: _mark_alive(worker.id))
    return worker


def _mark_alive(worker_id: str) -> None:
    ttl = settings.HEARTBEAT_INTERVAL * LIVENESS_BEATS
    try:
        redis_client.client().set(worker_alive_key(worker_id), timezone.now().isoformat(), ex=ttl)
    except RedisError:
        log.warning(
            "could not refresh the liveness key of %s; the database still has the heartbeat", worker_id
        )


@transaction.atomic
def worker_drain(*, worker: Worker) -> Worker:
    """No new sessions for this worker, and its sessions move away one by one
    (sessions.drain; progress in ``drain_report``)."""
    from control_plane.sessions.drain import drain_plan

    worker.drain_requested_at = worker.drain_requested_at or timezone.now()
    worker.save(update_fields=["drain_requested_at", "updated_at"])
    if worker.status in (Worker.Status.ONLINE, Worker.Status.DRAINING):
        worker_set_status(worker=worker, status=Worker.Status.DRAINING, reason="drained by an operator")
    drain_plan(worker=worker)
    transaction.on_commit(_kick_drain)
    return worker


def _kick_drain() -> None:
    from control_plane.sessions.tasks import drain_tick

    drain_tick.delay()


@transaction.atomic
def worker_drain_cancel(*, worker: Worker) -> Worker:
    if worker.drain_requested_at is None:
        raise Conflict("The worker is not being drained.")
    from control_plane.sessions.drain import drain_cancel

    drain_cancel(worker=worker)
    worker.drain_requested_at = worker.drained_at = None
    worker.save(update_fields=["drain_requested_at", "drained_at", "updated_at"])
    if worker.status == Worker.Status.DRAINING:
        worker_set_status(worker=worker, status=Worker.Status.ONLINE, reason="drain cancelled by an operator")
    return worker


def worker_reserve_slot(*, exclude: tuple[str, ...] = (), only: str | None = None) -> Worker:
    """Pick the best worker and hold its row lock until the caller's transaction ends.

    Must run inside the caller's ``transaction.atomic`` that then routes the session
    to the returned worker: the lock serialises racing reservations for a worker and
    its occupancy is re-counted under the lock, so a worker is never overfilled.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("worker_reserve_slot must run inside transaction.atomic")
    loads = selectors.worker_loads(exclude=exclude)
    if only is not None:
        loads = [load for load in loads if load.worker_id == only]
    for load in scoring.rank(loads):
        worker = Worker.objects.select_for_update(no_key=True).filter(pk=load.worker_id).first()
        if worker is None or worker.status != Worker.Status.ONLINE:
            continue
        if selectors.worker_assigned_count(worker_id=worker.id) < worker.capacity:
            return worker
    raise WorkerUnavailable("No healthy worker has room for a session right now; try again shortly.")


def worker_record_failure(*, worker_id: str) -> None:
    """A session failed to start on this worker: it scores lower for a while."""
    now = timezone.now()
    worker = Worker.objects.filter(pk=worker_id).first()
    if worker is None:
        return
    recent = worker.last_failure_at and worker.last_failure_at > now - selectors.FAILURE_MEMORY
    Worker.objects.filter(pk=worker_id).update(
        recent_failures=(worker.recent_failures + 1) if recent else 1, last_failure_at=now
    )


def _record_session_resources(*, worker: Worker, resources: list[dict[str, Any]]) -> None:
    """Per-session memory and CPU from the heartbeat, only for sessions routed to this worker."""
    from control_plane.sessions.models import Session

    now = timezone.now()
    by_id = {item["session_id"]: item for item in resources}
    sessions = Session.objects.filter(worker=worker, pk__in=list(by_id))
    for session in sessions:
        item = by_id[session.id]
        session.memory_mb, session.cpu_percent = item["memory_mb"], item["cpu_percent"]
        session.last_health_check = now
    Session.objects.bulk_update(sessions, ["memory_mb", "cpu_percent", "last_health_check"])


@transaction.atomic
def worker_recovery_report(*, worker: Worker, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Record what a restarted worker restored; results for sessions it does not hold
    are returned as ``ignored`` (they moved, or never were its)."""
    from control_plane.sessions.models import Session

    now = timezone.now()
    held = {
        s.id: s
        for s in Session.objects.select_for_update(no_key=True).filter(
            worker=worker, pk__in=[normalize_id(r["session_id"]) for r in results]
        )
    }
    recorded, ignored = [], []
    for result in results:
        session = held.get(normalize_id(result["session_id"]))
        if session is None:
            ignored.append(result["session_id"])
            continue
        session.recovery_status = result["status"]
        session.recovery_detail = (
            f"{result['source']}: {result['detail']}" if result["detail"] else result["source"]
        )[:300]
        session.recovery_reported_at = now
        session.save(
            update_fields=["recovery_status", "recovery_detail", "recovery_reported_at", "updated_at"]
        )
        recorded.append(session.id)
    summary = {
        status: sum(1 for r in results if r["status"] == status)
        for status in ("restored", "failed", "skipped")
    }
    WorkerEvent.objects.create(
        worker=worker,
        kind=WorkerEvent.Kind.RECOVERY,
        reason="recovery report",
        details={**summary, "sessions": recorded, "ignored": ignored},
    )
    return {"recorded": recorded, "ignored": ignored, **summary}
