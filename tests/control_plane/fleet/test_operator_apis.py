"""Operator endpoints: CRUD, drain, statistics; nobody else may call them."""

import pytest

from control_plane.fleet.models import Worker
from tests.helpers import error_code, make_session

pytestmark = pytest.mark.django_db

OPERATOR_CALLS = [
    ("get", "/v1/workers"),
    ("post", "/v1/workers"),
    ("get", "/v1/workers/statistics"),
    ("post", "/v1/workers/health-check"),
    ("get", "/v1/workers/worker-001"),
    ("put", "/v1/workers/worker-001"),
    ("delete", "/v1/workers/worker-001"),
    ("post", "/v1/workers/worker-001/drain"),
    ("post", "/v1/workers/worker-001/drain/cancel"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_a_customer_cannot_reach_operator_endpoints(worker, customer_a, method, path):
    response = getattr(customer_a.jwt_client(), method)(path, {}, format="json")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert Worker.objects.filter(pk="worker-001", status="online").exists()


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_a_worker_token_cannot_reach_operator_endpoints(worker, method, path):
    response = getattr(worker.client(), method)(path, {}, format="json")
    assert response.status_code == 401
    assert "worker token does not work here" in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_an_operators_api_key_cannot_reach_operator_endpoints(worker, operator, method, path):
    response = getattr(operator.key_client(), method)(path, {}, format="json")
    assert response.status_code == 401


def test_a_worker_token_cannot_reach_customer_endpoints(worker):
    for path in ["/v1/me", "/v1/api-keys"]:
        assert worker.client().get(path).status_code == 401


def test_user_credentials_cannot_reach_worker_endpoints(worker, operator):
    for client in (operator.jwt_client(), operator.key_client()):
        response = client.post(f"/v1/workers/{worker.worker_id}/heartbeat", {}, format="json")
        assert response.status_code == 401
        assert client.get(f"/v1/workers/{worker.worker_id}/sessions/assigned").status_code == 401


def test_operator_lists_and_reads_workers_with_load_and_history(worker, operator, customer_a):
    make_session(customer_a.user, "s-1", worker.worker_id)
    listed = operator.jwt_client().get("/v1/workers").json()["results"]
    assert [w["worker_id"] for w in listed] == ["worker-001"]
    assert listed[0]["assigned_sessions"] == 1
    detail = operator.jwt_client().get("/v1/workers/Worker_001").json()
    assert detail["status"] == "online"
    assert detail["events"][0]["kind"] in {"registered", "status"}
    assert "token_hash" not in detail and "token" not in detail


def test_operator_filters_workers_by_status_and_rejects_unknown_ones(worker, second_worker, operator):
    operator.jwt_client().post(f"/v1/workers/{second_worker.worker_id}/drain")
    draining = operator.jwt_client().get("/v1/workers?status=draining").json()["results"]
    assert [w["worker_id"] for w in draining] == ["worker-002"]
    assert operator.jwt_client().get("/v1/workers?status=sleepy").status_code == 400


def test_operator_creates_a_worker_and_sees_its_token_once(operator):
    response = operator.jwt_client().post(
        "/v1/workers", {"worker_id": "Edge_7", "capacity": 3}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["worker_id"] == "edge-7"
    assert response.json()["token"].startswith("wgw_")
    assert response.json()["status"] == "offline"  # until its first heartbeat
    assert "token" not in operator.jwt_client().get("/v1/workers/edge-7").json()
    again = operator.jwt_client().post("/v1/workers", {"worker_id": "edge-7", "capacity": 3}, format="json")
    assert again.status_code == 409


def test_operator_updates_the_config(worker, operator):
    response = operator.jwt_client().put(
        f"/v1/workers/{worker.worker_id}",
        {"capacity": 9, "name": "big one", "environment": "prod"},
        format="json",
    )
    assert response.status_code == 200
    stored = Worker.objects.get(pk=worker.worker_id)
    assert (stored.capacity, stored.name, stored.environment) == (9, "big one", "prod")


def test_config_put_with_bad_values_is_refused(worker, operator):
    response = operator.jwt_client().put(f"/v1/workers/{worker.worker_id}", {"capacity": -2}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_unknown_worker_is_404(operator):
    for method, path in [
        ("get", "/v1/workers/nope"),
        ("put", "/v1/workers/nope"),
        ("delete", "/v1/workers/nope"),
        ("post", "/v1/workers/nope/drain"),
    ]:
        response = getattr(operator.jwt_client(), method)(
            path, {"capacity": 1, "name": "x", "environment": ""}, format="json"
        )
        assert response.status_code == 404, path
        assert error_code(response) == "not_found"


def test_delete_records_the_sessions_that_lost_their_worker(worker, operator, customer_a, caplog):
    make_session(customer_a.user, "orphan-1", worker.worker_id)
    assert operator.jwt_client().delete(f"/v1/workers/{worker.worker_id}").status_code == 204
    assert not Worker.objects.filter(pk=worker.worker_id).exists()
    from control_plane.sessions.models import Session

    assert Session.objects.get(pk="orphan-1").worker is None
    assert any("lost their worker" in record.getMessage() for record in caplog.records)


def test_drain_refuses_new_assignments_and_can_be_cancelled(worker, operator):
    from django.db import transaction

    from control_plane.core.errors import WorkerUnavailable
    from control_plane.fleet.services import worker_reserve_slot

    response = operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    assert response.status_code == 200 and response.json()["status"] == "draining"
    with pytest.raises(WorkerUnavailable), transaction.atomic():
        worker_reserve_slot()
    response = operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain/cancel")
    assert response.json()["status"] == "online"
    with transaction.atomic():
        assert worker_reserve_slot().id == worker.worker_id
    assert operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain/cancel").status_code == 409


def test_statistics_count_workers_capacity_and_sessions(worker, second_worker, operator, customer_a):
    operator.jwt_client().post(f"/v1/workers/{second_worker.worker_id}/drain")
    make_session(customer_a.user, "s-1", worker.worker_id, status="connected")
    make_session(customer_a.user, "s-2", worker.worker_id, status="qr_ready")
    make_session(customer_a.user, "s-3", None, status="disconnected")
    stats = operator.jwt_client().get("/v1/workers/statistics").json()
    assert stats["workers"]["by_status"] == {"online": 1, "draining": 1, "unhealthy": 0, "offline": 0}
    assert stats["capacity"]["total"] == 10
    assert stats["capacity"]["online"] == 5
    assert stats["capacity"]["assigned"] == 2
    assert stats["capacity"]["free_online"] == 3
    assert stats["sessions"]["by_status"]["connected"] == 1
    assert stats["sessions"]["by_status"]["qr_ready"] == 1
    assert stats["sessions"]["by_status"]["disconnected"] == 1
