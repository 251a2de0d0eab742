"""Racing connects for the last slots never overfill a worker (real PostgreSQL,
real concurrent transactions)."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from control_plane.core.errors import WorkerUnavailable
from control_plane.fleet.models import Worker
from control_plane.fleet.services import worker_reserve_slot
from control_plane.sessions.models import Session
from tests.helpers import make_customer

pytestmark = pytest.mark.django_db(transaction=True)


def online_worker(worker_id: str, capacity: int) -> Worker:
    return Worker.objects.create(
        id=worker_id, name=worker_id, capacity=capacity, status="online", last_heartbeat_at=timezone.now()
    )


def race(session_ids: list[str]) -> dict[str, str]:
    """Every session tries to reserve a slot at the same moment; returns session -> worker or error."""
    barrier = threading.Barrier(len(session_ids))
    outcome: dict[str, str] = {}

    def connect(session_id: str) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                worker = worker_reserve_slot()
                time.sleep(0.05)  # widen the window between the check and the write
                Session.objects.filter(pk=session_id).update(worker=worker)
            outcome[session_id] = worker.id
        except WorkerUnavailable:
            outcome[session_id] = "unavailable"
        finally:
            connection.close()

    threads = [threading.Thread(target=connect, args=(sid,)) for sid in session_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcome


def sessions_for(owner, count: int) -> list[str]:
    ids = [f"race-{i}" for i in range(count)]
    for session_id in ids:
        Session.objects.create(id=session_id, owner=owner, name=session_id)
    return ids


def test_eight_connects_racing_for_the_last_slot_fill_it_exactly_once():
    owner = make_customer("racer@example.com").user
    online_worker("w-last", capacity=3)
    for i in range(2):
        Session.objects.create(id=f"existing-{i}", owner=owner, name="x", worker_id="w-last")
    outcome = race(sessions_for(owner, 8))
    assert sorted(outcome.values()).count("w-last") == 1
    assert list(outcome.values()).count("unavailable") == 7
    assert Session.objects.filter(worker_id="w-last").count() == 3


def test_racing_connects_spread_over_workers_and_never_exceed_any_capacity():
    owner = make_customer("racer2@example.com").user
    online_worker("w-a", capacity=2)
    online_worker("w-b", capacity=3)
    outcome = race(sessions_for(owner, 10))
    assert list(outcome.values()).count("unavailable") == 5
    assert Session.objects.filter(worker_id="w-a").count() == 2
    assert Session.objects.filter(worker_id="w-b").count() == 3
