"""Heartbeats: load in the database, liveness in Redis, refusals in the envelope."""

import pytest

from control_plane.core import redis as redis_client
from control_plane.fleet.models import Worker
from shared.streams import worker_alive_key
from tests.helpers import error_code, heartbeat_body, make_session

pytestmark = pytest.mark.django_db


def test_heartbeat_records_load_and_sets_an_expiring_liveness_key(worker, django_capture_on_commit_callbacks):
    redis_client.client().delete(worker_alive_key(worker.worker_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = worker.heartbeat(
            cpu=55.0,
            memory=2048.0,
            capacity=7,
            sessions={"connected": 2, "qr_required": 1, "connecting": 0, "disconnected": 0, "error": 1},
            devices=[{"serial": "R58M", "state": "device"}],
        )
    assert response.status_code == 200
    assert response.json()["status"] == "online"
    stored = Worker.objects.get(pk=worker.worker_id)
    assert (stored.cpu_percent, stored.memory_mb, stored.capacity) == (55.0, 2048.0, 7)
    assert stored.session_breakdown["connected"] == 2
    assert stored.devices == [{"serial": "R58M", "state": "device"}]
    ttl = redis_client.client().ttl(worker_alive_key(worker.worker_id))
    assert 20 < ttl <= 30  # three missed beats of 10 s


def test_heartbeat_stores_per_session_memory_only_for_its_own_sessions(worker, second_worker, customer_a):
    own = make_session(customer_a.user, "own-1", worker.worker_id)
    other = make_session(customer_a.user, "other-1", second_worker.worker_id)
    response = worker.heartbeat(
        session_resources=[
            {"session_id": "own-1", "memory_mb": 143.5, "cpu_percent": 1.5},
            {"session_id": "other-1", "memory_mb": 999.0, "cpu_percent": 50.0},
        ]
    )
    assert response.status_code == 200
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.memory_mb == 143.5 and own.last_health_check is not None
    assert other.memory_mb is None


def test_heartbeat_with_a_bad_token_is_refused(worker, api):
    api.credentials(HTTP_AUTHORIZATION="Bearer wgw_deadbeef_forged")
    response = api.post(f"/v1/workers/{worker.worker_id}/heartbeat", heartbeat_body(), format="json")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_heartbeat_for_another_workers_id_is_forbidden(worker, second_worker):
    response = worker.client().post(
        f"/v1/workers/{second_worker.worker_id}/heartbeat", heartbeat_body(), format="json"
    )
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


@pytest.mark.parametrize(
    "body",
    [
        {},
        heartbeat_body(cpu="hot"),
        heartbeat_body(
            sessions={"connected": -1, "qr_required": 0, "connecting": 0, "disconnected": 0, "error": 0}
        ),
        heartbeat_body(sessions={"connected": 1}),
        heartbeat_body(capacity=10_000),
        heartbeat_body(devices="usb"),
    ],
)
def test_malformed_heartbeat_is_a_validation_error_and_changes_nothing(worker, body):
    before = Worker.objects.get(pk=worker.worker_id).last_heartbeat_at
    response = worker.client().post(f"/v1/workers/{worker.worker_id}/heartbeat", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert Worker.objects.get(pk=worker.worker_id).last_heartbeat_at == before


def test_heartbeat_from_a_deleted_worker_is_refused(worker, operator):
    assert operator.jwt_client().delete(f"/v1/workers/{worker.worker_id}").status_code == 204
    response = worker.heartbeat()
    assert response.status_code == 401


def test_heartbeat_for_an_unknown_worker_id_is_refused(worker):
    response = worker.client().post("/v1/workers/no-such-worker/heartbeat", heartbeat_body(), format="json")
    assert response.status_code == 403


def test_heartbeat_brings_an_unhealthy_worker_back_online_with_a_reason(worker):
    Worker.objects.filter(pk=worker.worker_id).update(status="unhealthy")
    assert worker.heartbeat().json()["status"] == "online"
    stored = Worker.objects.get(pk=worker.worker_id)
    assert stored.status_reason == "heartbeats resumed"


def test_heartbeat_keeps_a_drained_worker_draining(worker, operator):
    operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    Worker.objects.filter(pk=worker.worker_id).update(status="unhealthy")
    assert worker.heartbeat().json()["status"] == "draining"
