"""A lost worker's sessions move to another worker from their snapshots."""

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.fleet.models import Worker
from control_plane.fleet.monitor import fleet_health_check
from control_plane.sessions.models import Session, SessionSnapshot
from control_plane.sessions.tasks import retry_waiting
from shared.commands import DropSession, StartSession
from tests.helpers import worker_commands

pytestmark = pytest.mark.django_db


def connected_on(worker_id, owner, session_id, generation=5):
    session = Session.objects.create(
        id=session_id,
        owner=owner,
        name=session_id,
        worker_id=worker_id,
        status="connected",
        phone="15550001111",
        generation=generation,
    )
    SessionSnapshot.objects.create(
        session=session,
        blob_name=f"{session_id}.snapshot",
        size=10,
        sha256="0",
        generation=generation,
        worker_id=worker_id,
    )
    return session


def kill(worker_id):
    Worker.objects.filter(pk=worker_id).update(last_heartbeat_at=timezone.now() - timedelta(minutes=5))


def test_a_worker_going_offline_moves_its_sessions_with_restore(
    customer_a, worker, second_worker, django_capture_on_commit_callbacks
):
    session = connected_on(worker.worker_id, customer_a.user, "shop-1")
    kill(worker.worker_id)
    with django_capture_on_commit_callbacks(execute=True):
        fleet_health_check()
    session.refresh_from_db()
    assert (session.status, session.worker_id) == ("reconnecting", second_worker.worker_id)
    assert session.generation == 7  # released (6), then routed (7)
    ((_, start),) = worker_commands(second_worker.worker_id)
    assert isinstance(start, StartSession) and start.restore is True and start.generation == 7
    fences = [c for _, c in worker_commands(worker.worker_id) if isinstance(c, DropSession)]
    assert [f.generation for f in fences] == [6]
    reasons = list(session.status_changes.values_list("reason", flat=True))
    assert any("worker worker-001 lost" in reason for reason in reasons)


def test_with_no_other_worker_sessions_wait_and_are_placed_later(
    customer_a, worker, django_capture_on_commit_callbacks
):
    session = connected_on(worker.worker_id, customer_a.user, "shop-1")
    kill(worker.worker_id)
    fleet_health_check()
    session.refresh_from_db()
    assert (session.status, session.worker_id) == ("reconnecting", None)
    assert "waiting for a worker" in session.status_changes.first().reason
    assert retry_waiting.delay().get() == 0
    Worker.objects.create(
        id="fresh", name="fresh", capacity=3, status="online", last_heartbeat_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_waiting.delay().get() == 1
    session.refresh_from_db()
    assert (session.status, session.worker_id) == ("reconnecting", "fresh")
    assert worker_commands("fresh")[0][1].restore is True


def test_failover_never_places_on_the_lost_worker_or_over_capacity(customer_a, worker, second_worker):
    Worker.objects.filter(pk=second_worker.worker_id).update(capacity=1)
    first = connected_on(worker.worker_id, customer_a.user, "shop-1")
    second = connected_on(worker.worker_id, customer_a.user, "shop-2")
    kill(worker.worker_id)
    fleet_health_check()
    placed = Session.objects.filter(pk__in=[first.id, second.id]).values_list("worker_id", flat=True)
    assert sorted(placed, key=str) == sorted([second_worker.worker_id, None], key=str)
