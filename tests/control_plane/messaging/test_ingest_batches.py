"""Runs of message events are applied in one transaction, exactly once, and a bad
event in a run costs only itself."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from control_plane.core import redis as redis_client
from control_plane.core.models import ProcessedEvent
from control_plane.messaging.models import Message
from shared import streams
from shared.events import MessageAck, MessageSent, QrIssued
from tests.helpers import publish_event, run_ingester

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def outgoing(customer_a, connected):
    return [
        Message.objects.create(
            session=connected,
            owner=customer_a.user,
            direction="out",
            chat="15550000002",
            to_number="15550000002",
            text=f"m{n}",
            status="dispatched",
        )
        for n in range(10)
    ]


def _sent(connected, message, n):
    return MessageSent(
        session_id=connected.id, generation=2, message_id=message.id, wa_id=f"wa-{n}", at=T0 + timedelta(n)
    )


def test_a_run_of_message_events_is_one_transaction(outgoing, connected, worker):
    for n, message in enumerate(outgoing):
        publish_event(_sent(connected, message, n), source=worker.worker_id)
    with CaptureQueriesContext(connection) as queries:
        counts = run_ingester().counts
    assert counts["applied"] == 10
    savepoints = [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) <= 3  # three per event before batching: its transaction, claim, record
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert ProcessedEvent.objects.count() == 10


def test_a_repeated_event_inside_a_run_is_applied_once(outgoing, connected, worker):
    envelope = publish_event(_sent(connected, outgoing[0], 0), source=worker.worker_id)
    publish_event(
        MessageAck(
            session_id=connected.id, generation=2, wa_id="wa-0", ack="delivered", at=T0 + timedelta(1)
        ),
        source=worker.worker_id,
    )
    redis_client.client().xadd(streams.EVENTS_STREAM, {"envelope": envelope.to_json()})  # redelivered
    counts = run_ingester().counts
    assert (counts["applied"], counts["duplicate"]) == (2, 1)
    outgoing[0].refresh_from_db()
    assert outgoing[0].status == "delivered"
    assert connected.__class__.objects.get(pk=connected.pk).messages_sent == 1


def test_a_bad_event_in_a_run_is_dead_lettered_and_the_rest_applied(outgoing, connected, worker):
    publish_event(_sent(connected, outgoing[0], 0), source=worker.worker_id)
    # An ack for an unknown WhatsApp id is kept for later; one too long to store fails.
    bad = publish_event(
        MessageAck(session_id=connected.id, generation=2, wa_id="x" * 300, ack="read", at=T0),
        source=worker.worker_id,
    )
    publish_event(_sent(connected, outgoing[1], 1), source=worker.worker_id)
    counts = run_ingester().counts
    assert (counts["applied"], counts["dead"]) == (2, 1)
    assert list(Message.objects.filter(status="sent").order_by("text").values_list("text", flat=True)) == [
        "m0",
        "m1",
    ]
    (dead,) = redis_client.client().xrange(streams.EVENTS_DEAD_LETTER)
    assert bad.id in dead[1]["envelope"] and "handler failed" in dead[1]["reason"]
    pending = redis_client.client().xpending(streams.EVENTS_STREAM, streams.EVENTS_GROUP)
    assert pending["pending"] == 0


def test_a_session_event_between_message_events_keeps_its_place(outgoing, connected, worker, routed_qr):
    publish_event(_sent(connected, outgoing[0], 0), source=worker.worker_id)
    publish_event(routed_qr, source=worker.worker_id)
    publish_event(_sent(connected, outgoing[1], 1), source=worker.worker_id)
    counts = run_ingester().counts
    assert counts["applied"] == 3
    assert Message.objects.filter(status="sent").count() == 2


@pytest.fixture
def routed_qr(connected):
    return QrIssued(
        session_id=connected.id, generation=2, qr="ref,k1,k2,k3,WEB", attempt=1, expires_at=T0 + timedelta(1)
    )


def test_a_run_reads_the_customers_webhooks_once(outgoing, connected, worker, customer_a):
    from control_plane.webhooks.models import Delivery, Webhook

    Webhook.objects.create(owner=customer_a.user, url="http://127.0.0.1:9/hook", events=["message.sent"])
    for n, message in enumerate(outgoing[:5]):
        publish_event(_sent(connected, message, n), source=worker.worker_id)
    with CaptureQueriesContext(connection) as queries:
        run_ingester()
    reads = [q for q in queries.captured_queries if 'FROM "webhooks_webhook"' in q["sql"]]
    assert len(reads) == 1
    assert Delivery.objects.filter(event="message.sent").count() == 5


def test_events_that_trickle_in_are_applied_together(outgoing, connected, worker):
    """A short read waits a moment for the next events to join its batch."""
    import threading

    from control_plane.core import transport
    from control_plane.core.ingester import Ingester

    transport.events_group_ensure()
    ingester = Ingester(consumer="trickle", block_ms=500, linger=0.3, recycle_connections=False)
    publish_event(_sent(connected, outgoing[0], 0), source=worker.worker_id)
    later = threading.Timer(
        0.1, lambda: publish_event(_sent(connected, outgoing[1], 1), source=worker.worker_id)
    )
    later.start()
    assert ingester.step() == 2
    later.join()
    assert Message.objects.filter(status="sent").count() == 2


@pytest.mark.django_db(transaction=True)  # real commits: the hooks run when the run commits
def test_an_effect_that_fails_after_commit_neither_undoes_nor_dead_letters_the_run(
    outgoing, connected, worker, customer_a, monkeypatch
):
    from control_plane.webhooks import services as webhook_services
    from control_plane.webhooks.models import Delivery, Webhook

    def broker_down(ids):
        raise ConnectionError("the Celery broker is down")

    monkeypatch.setattr(webhook_services, "_enqueue", broker_down)
    Webhook.objects.create(owner=customer_a.user, url="http://127.0.0.1:9/hook", events=["message.sent"])
    for n, message in enumerate(outgoing[:3]):
        publish_event(_sent(connected, message, n), source=worker.worker_id)
    counts = run_ingester().counts
    assert (counts["applied"], counts["duplicate"], counts["dead"]) == (3, 0, 0)
    assert Delivery.objects.count() == 3  # the outbox rows exist; the sweeper enqueues them
