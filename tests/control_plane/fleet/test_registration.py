"""Self-registration with the enrollment token, and re-registration."""

import pytest
from rest_framework.test import APIClient

from control_plane.fleet.models import Worker
from tests.helpers import error_code, heartbeat_body, make_session, register_worker

pytestmark = pytest.mark.django_db


def test_register_normalizes_the_id_and_returns_a_token_once():
    status, body = register_worker("Worker_001")
    assert status == 201
    assert body["worker_id"] == "worker-001"
    assert body["token"].startswith("wgw_")
    assert body["heartbeat_interval"] == 10
    assert body["recovery_required"] is False and body["assigned_session_count"] == 0
    worker = Worker.objects.get(pk="worker-001")
    assert worker.status == "online"
    assert body["token"] not in (worker.token_hash, worker.token_prefix)


def test_register_without_an_id_gets_a_generated_one():
    status, body = register_worker(None)
    assert status == 201
    assert body["worker_id"].startswith("worker-")


def test_re_registration_returns_a_fresh_token_and_the_old_one_stops_working(worker):
    status, body = register_worker("WORKER-001")
    assert status == 200
    assert body["token"] != worker.token
    assert worker.heartbeat().status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.post("/v1/workers/worker-001/heartbeat", heartbeat_body(), format="json").status_code == 200


def test_re_registration_with_assigned_sessions_requires_recovery(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    make_session(customer_a.user, "shop-2", worker.worker_id, status="qr_ready")
    status, body = register_worker("worker-001")
    assert status == 200
    assert body["recovery_required"] is True
    assert body["assigned_session_count"] == 2


def test_register_needs_the_enrollment_token(api, customer_a):
    body = {"worker_id": "w9", "name": "w", "capacity": 1}
    assert api.post("/v1/workers/register", body, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer wrong-token")
    response = api.post("/v1/workers/register", body, format="json")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_a.access}")  # a user JWT is not enrollment
    assert api.post("/v1/workers/register", body, format="json").status_code == 401
    assert not Worker.objects.filter(pk="w9").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "w"},
        {"name": "w", "capacity": -1},
        {"name": "w", "capacity": "many"},
        {"name": "w", "capacity": 1, "worker_id": "___"},
        {"name": "", "capacity": 1},
    ],
)
def test_register_with_a_bad_body_is_a_validation_error(body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer test-enrollment-token")
    response = client.post("/v1/workers/register", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
