"""A heartbeat and the ingester's batch touch the same rows without deadlocking
(real transactions on two connections)."""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import F

from control_plane.fleet.models import Worker
from control_plane.fleet.services import worker_heartbeat
from control_plane.sessions.models import Session
from tests.helpers import make_customer, register_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def test_a_heartbeat_does_not_deadlock_with_a_batch_that_updated_its_session_twice():
    """Updating a row that this transaction already updated makes PostgreSQL check its
    foreign keys at commit (a KEY SHARE lock on the worker row). A heartbeat that
    held its worker ``FOR UPDATE`` while waiting for that session deadlocked with it."""
    customer = make_customer("locks@example.com")
    _, body = register_worker("worker-locks")
    worker = Worker.objects.get(pk=body["worker_id"])
    session = Session.objects.create(owner=customer.user, name="locked", worker=worker, status="connected")
    batch_updated, heartbeat_waiting = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def ingester_batch() -> None:
        try:
            with transaction.atomic():
                for _ in range(2):  # two message.sent events of one session in one batch
                    Session.objects.filter(pk=session.pk).update(messages_sent=F("messages_sent") + 1)
                batch_updated.set()
                heartbeat_waiting.wait(10)  # the heartbeat now holds its worker and waits for us
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    def heartbeat() -> None:
        try:
            batch_updated.wait(10)
            threading.Timer(0.5, heartbeat_waiting.set).start()
            with transaction.atomic():
                worker_heartbeat(
                    worker=worker,
                    sessions={"connected": 1},
                    cpu=1.0,
                    memory=100.0,
                    capacity=10,
                    session_resources=[{"session_id": session.pk, "memory_mb": 120.0, "cpu_percent": 1.5}],
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingester_batch), threading.Thread(target=heartbeat)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    session.refresh_from_db()
    assert (session.messages_sent, session.memory_mb) == (2, 120.0)
