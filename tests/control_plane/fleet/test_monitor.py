"""The health monitor: unhealthy after missed beats, offline after the grace, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.fleet.models import Worker, WorkerEvent
from control_plane.fleet.tasks import health_monitor
from tests.helpers import make_session

pytestmark = pytest.mark.django_db


def silent_for(worker_id: str, seconds: int) -> None:
    Worker.objects.filter(pk=worker_id).update(last_heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_a_fresh_worker_stays_online(worker):
    assert health_monitor.delay().get() == 0
    assert Worker.objects.get(pk=worker.worker_id).status == "online"


def test_two_missed_beats_make_a_worker_unhealthy_with_a_reason(worker):
    silent_for(worker.worker_id, 25)
    assert health_monitor.delay().get() == 1
    stored = Worker.objects.get(pk=worker.worker_id)
    assert stored.status == "unhealthy"
    assert "no heartbeat for 25 s (2 missed)" in stored.status_reason
    assert stored.status_changed_at is not None


def test_after_the_grace_period_it_goes_offline_and_its_sessions_are_recorded_once(worker, customer_a):
    make_session(customer_a.user, "s-1", worker.worker_id)
    silent_for(worker.worker_id, 25)
    health_monitor.delay().get()
    silent_for(worker.worker_id, 31)
    health_monitor.delay().get()
    health_monitor.delay().get()  # a second pass must not record the loss again
    stored = Worker.objects.get(pk=worker.worker_id)
    assert stored.status == "offline"
    lost = WorkerEvent.objects.filter(worker=stored, kind="sessions_lost")
    assert lost.count() == 1
    assert lost.get().details["sessions"] == ["s-1"]


def test_a_draining_worker_that_goes_silent_also_goes_offline(worker, operator):
    operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    silent_for(worker.worker_id, 120)
    health_monitor.delay().get()
    assert Worker.objects.get(pk=worker.worker_id).status == "offline"


def test_on_demand_health_check_returns_per_worker_results(worker, second_worker, operator):
    silent_for(second_worker.worker_id, 25)
    response = operator.jwt_client().post("/v1/workers/health-check")
    assert response.status_code == 200
    results = {r["worker_id"]: r for r in response.json()["results"]}
    assert results["worker-001"]["action"] == "none"
    assert results["worker-001"]["status"] == "online"
    assert results["worker-002"]["action"] == "marked_unhealthy"
    assert results["worker-002"]["status_before"] == "online"
    assert results["worker-002"]["seconds_since_heartbeat"] >= 25


def test_an_unhealthy_worker_is_never_picked(worker):
    from django.db import transaction

    from control_plane.core.errors import WorkerUnavailable
    from control_plane.fleet.services import worker_reserve_slot

    silent_for(worker.worker_id, 25)
    health_monitor.delay().get()
    with pytest.raises(WorkerUnavailable), transaction.atomic():
        worker_reserve_slot()
