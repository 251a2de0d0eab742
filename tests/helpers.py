"""Test helpers shared across the suite."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.test import APIClient


@dataclass
class Customer:
    """A registered user with a ready client for each credential kind."""

    user: object
    password: str
    access: str
    refresh: str
    api_key: str

    def jwt_client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.access}")
        return client

    def key_client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.api_key)
        return client


def make_customer(email: str, *, staff: bool = False, tier: str | None = None) -> Customer:
    from control_plane.accounts import services
    from control_plane.accounts.models import User

    password = "correct-horse-battery-staple"
    user = services.user_register(email=email, password=password, name=email.split("@")[0])
    if staff or tier:
        User.objects.filter(pk=user.pk).update(is_staff=staff, tier_id=tier or user.tier_id)
        user.refresh_from_db()
    tokens = services.user_tokens(user=user)
    _, raw_key = services.api_key_create(user=user, name="default")
    return Customer(
        user=user, password=password, access=tokens["access"], refresh=tokens["refresh"], api_key=raw_key
    )


def error_code(response) -> str:
    """The envelope's code; fails loudly when the body is not the envelope."""
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]


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


def register_worker(worker_id: str | None = "Worker_001", capacity: int = 5, **extra) -> tuple[int, dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ENROLLMENT}")
    body = {"name": "w", "capacity": capacity, "version": "1.0", "environment": "test", **extra}
    if worker_id is not None:
        body["worker_id"] = worker_id
    response = client.post("/v1/workers/register", body, format="json")
    return response.status_code, response.json()


def make_session(owner, session_id: str, worker_id: str | None = None, status: str = "connected"):
    from control_plane.sessions.models import Session

    return Session.objects.create(
        id=session_id, owner=owner, name=session_id, worker_id=worker_id, status=status, generation=1
    )


def worker_commands(worker_id: str) -> list[tuple]:
    """Every command queued for a worker so far, decoded: [(envelope, payload)]."""
    from control_plane.core import redis as redis_client
    from shared import streams
    from shared.envelope import decode

    entries = redis_client.client().xrange(streams.commands_stream(worker_id))
    return [decode(fields["envelope"]) for _, fields in entries]


def publish_event(event, *, source: str):
    """Append an event to the events stream exactly as a worker does."""
    from control_plane.core import redis as redis_client
    from shared import streams
    from shared.envelope import encode

    envelope = encode(event, source=source)
    redis_client.client().xadd(streams.EVENTS_STREAM, {"envelope": envelope.to_json()})
    return envelope


def run_ingester(consumer: str = "test-ingester"):
    """Apply everything on the events stream now; returns the ingester (see .counts)."""
    from control_plane.core import transport
    from control_plane.core.ingester import Ingester

    ingester = Ingester(consumer=consumer, block_ms=50, claim_idle_ms=3_600_000, recycle_connections=False)
    transport.events_group_ensure()
    ingester._drain_pending()
    while ingester.step():
        pass
    return ingester
