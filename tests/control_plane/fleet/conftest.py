"""Fleet fixtures: workers registered through the real endpoint."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

ENROLLMENT = "test-enrollment-token"


@dataclass
class RegisteredWorker:
    worker_id: str
    token: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        return client

    def heartbeat(self, **overrides):
        return self.client().post(
            f"/v1/workers/{self.worker_id}/heartbeat", heartbeat_body(**overrides), format="json"
        )


def heartbeat_body(**overrides):
    body = {
        "sessions": {"connected": 0, "qr_required": 0, "connecting": 0, "disconnected": 0, "error": 0},
        "cpu": 12.5,
        "memory": 512.0,
        "memory_percent": 20.0,
        "capacity": 5,
    }
    body.update(overrides)
    return body


def register(worker_id: str | None = "Worker_001", capacity: int = 5, **extra) -> tuple[int, dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ENROLLMENT}")
    body = {"name": "w", "capacity": capacity, "version": "1.0", "environment": "test", **extra}
    if worker_id is not None:
        body["worker_id"] = worker_id
    response = client.post("/v1/workers/register", body, format="json")
    return response.status_code, response.json()


@pytest.fixture
def worker(db) -> RegisteredWorker:
    status, body = register("Worker_001")
    assert status == 201, body
    registered = RegisteredWorker(body["worker_id"], body["token"])
    assert registered.heartbeat().status_code == 200
    return registered


@pytest.fixture
def second_worker(db) -> RegisteredWorker:
    status, body = register("worker-002")
    assert status == 201, body
    registered = RegisteredWorker(body["worker_id"], body["token"])
    assert registered.heartbeat().status_code == 200
    return registered


def make_session(owner, session_id: str, worker_id: str | None = None, status: str = "connected"):
    from control_plane.sessions.models import Session

    return Session.objects.create(
        id=session_id, owner=owner, name=session_id, worker_id=worker_id, status=status, generation=1
    )
