"""Message events from workers: sent, acks, failures, incoming; announced to webhooks."""

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.messaging.models import Chat, Message
from control_plane.sessions.models import Session
from shared.events import MessageAck, MessageFailed, MessageReceived, MessageSent
from tests.helpers import publish_event, run_ingester

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def outgoing(customer_a, connected):
    return Message.objects.create(
        session=connected,
        owner=customer_a.user,
        direction="out",
        chat="15550000002",
        to_number="15550000002",
        text="hi",
        status="dispatched",
        dispatched_at=T0,
    )


def test_sent_then_delivered_then_read_fill_every_timestamp(outgoing, connected, worker):
    source = worker.worker_id
    publish_event(
        MessageSent(
            session_id=connected.id,
            generation=2,
            message_id=outgoing.id,
            wa_id="wa-1",
            at=T0 + timedelta(seconds=1),
        ),
        source=source,
    )
    publish_event(
        MessageAck(
            session_id=connected.id, generation=2, wa_id="wa-1", ack="delivered", at=T0 + timedelta(seconds=2)
        ),
        source=source,
    )
    publish_event(
        MessageAck(
            session_id=connected.id, generation=2, wa_id="wa-1", ack="read", at=T0 + timedelta(seconds=3)
        ),
        source=source,
    )
    run_ingester()
    outgoing.refresh_from_db()
    assert (outgoing.status, outgoing.wa_id) == ("read", "wa-1")
    assert (outgoing.sent_at, outgoing.delivered_at, outgoing.read_at) == (
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
        T0 + timedelta(seconds=3),
    )
    connected.refresh_from_db()
    assert connected.messages_sent == 1 and connected.total_chats == 1 and connected.last_activity


def test_a_late_or_repeated_report_never_moves_a_message_back(outgoing, connected, worker):
    sent = MessageSent(session_id=connected.id, generation=2, message_id=outgoing.id, wa_id="wa-1", at=T0)
    publish_event(sent, source=worker.worker_id)
    publish_event(
        MessageAck(session_id=connected.id, generation=2, wa_id="wa-1", ack="read", at=T0),
        source=worker.worker_id,
    )
    publish_event(sent, source=worker.worker_id)  # the same fact again (another envelope)
    publish_event(
        MessageAck(session_id=connected.id, generation=2, wa_id="wa-1", ack="delivered", at=T0),
        source=worker.worker_id,
    )
    run_ingester()
    outgoing.refresh_from_db()
    assert outgoing.status == "read" and outgoing.delivered_at == T0
    connected.refresh_from_db()
    assert connected.messages_sent == 1


def test_a_failure_records_code_and_reason(outgoing, connected, worker):
    publish_event(
        MessageFailed(
            session_id=connected.id,
            generation=2,
            message_id=outgoing.id,
            code="recipient_unknown",
            reason="no such account",
        ),
        source=worker.worker_id,
    )
    run_ingester()
    outgoing.refresh_from_db()
    assert (outgoing.status, outgoing.error_code, outgoing.error) == (
        "failed",
        "recipient_unknown",
        "no such account",
    )


def test_a_sent_report_from_the_old_worker_still_counts(outgoing, connected, worker, second_worker):
    """The old worker really sent it before the session moved: a fact, not a stale word."""
    Session.objects.filter(pk=connected.id).update(worker_id=second_worker.worker_id, generation=4)
    publish_event(
        MessageSent(session_id=connected.id, generation=2, message_id=outgoing.id, wa_id="wa-9", at=T0),
        source=worker.worker_id,
    )
    run_ingester()
    outgoing.refresh_from_db()
    assert outgoing.status == "sent"


def test_incoming_is_stored_once_counted_and_announced(
    customer_a, connected, worker, settings, django_capture_on_commit_callbacks
):
    from tests.receiver import Receiver

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    receiver = Receiver().start()
    try:
        customer_a.key_client().post(
            "/v1/webhooks", {"url": receiver.url, "events": ["message.received"]}, format="json"
        )
        event = MessageReceived(
            session_id=connected.id,
            generation=2,
            wa_id="in-1",
            chat="15550000009",
            sender="15550000009",
            text="hello there",
            timestamp=T0,
        )
        publish_event(event, source=worker.worker_id)
        publish_event(event, source=worker.worker_id)
        with django_capture_on_commit_callbacks(execute=True):
            run_ingester()
        (message,) = Message.objects.filter(direction="in")
        assert (message.text, message.from_number, message.status) == (
            "hello there",
            "15550000009",
            "received",
        )
        connected.refresh_from_db()
        assert connected.messages_received == 1
        assert Chat.objects.get(session=connected, number="15550000009").messages_in == 1
        (request,) = receiver.requests
        assert b"hello there" in request.body
    finally:
        receiver.stop()


def test_an_ack_that_arrives_before_the_sent_report_is_applied_when_it_comes(outgoing, connected, worker):
    source = worker.worker_id
    publish_event(
        MessageAck(
            session_id=connected.id,
            generation=2,
            wa_id="wa-early",
            ack="delivered",
            at=T0 + timedelta(seconds=1),
        ),
        source=source,
    )
    publish_event(
        MessageSent(session_id=connected.id, generation=2, message_id=outgoing.id, wa_id="wa-early", at=T0),
        source=source,
    )
    run_ingester()
    outgoing.refresh_from_db()
    assert (outgoing.status, outgoing.delivered_at) == ("delivered", T0 + timedelta(seconds=1))
    from control_plane.messaging.models import EarlyAck

    assert not EarlyAck.objects.exists()
