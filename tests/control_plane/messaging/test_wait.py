"""``?wait=true``: the answer comes after the worker's result, or 504."""

import threading

import pytest

from control_plane.core import redis as redis_client
from control_plane.messaging.models import Message
from shared import streams
from shared.envelope import decode, encode
from shared.events import CommandResult
from tests.helpers import error_code

pytestmark = pytest.mark.django_db(transaction=True)


def answer_next_command(worker_id: str, *, ok: bool, data: dict) -> threading.Thread:
    """Reply to the next command on the worker's stream the way a worker does."""

    def run() -> None:
        client = redis_client.client()
        entries = client.xread({streams.commands_stream(worker_id): "0"}, count=1, block=1500)
        envelope, _ = decode(entries[0][1][0][1]["envelope"])
        result = CommandResult(
            command_id=envelope.id,
            ok=ok,
            code=None if ok else "recipient_unknown",
            reason=None if ok else "no such account",
            data=data,
        )
        client.lpush(envelope.reply_to, encode(result, source=worker_id).to_json())

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture
def live(customer_a, worker):
    from control_plane.sessions.models import Session
    from control_plane.sessions.services import session_create

    session = session_create(user=customer_a.user, name="waiter")
    Session.objects.filter(pk=session.id).update(status="connected", worker_id=worker.worker_id, generation=1)
    return session


def test_wait_answers_200_with_the_sent_message(customer_a, worker, live):
    responder = answer_next_command(worker.worker_id, ok=True, data={"wa_id": "wa-77"})
    response = customer_a.key_client().post(
        f"/v1/sessions/{live.id}/messages?wait=true", {"to": "15550000002", "text": "hi"}, format="json"
    )
    responder.join()
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["wa_id"]) == ("sent", "wa-77")
    assert response.json()["sent_at"] is not None


def test_wait_reports_a_refused_send_as_failed(customer_a, worker, live):
    responder = answer_next_command(worker.worker_id, ok=False, data={})
    response = customer_a.key_client().post(
        f"/v1/sessions/{live.id}/messages?wait=true", {"to": "15550000002", "text": "hi"}, format="json"
    )
    responder.join()
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["error"]) == ("failed", "no such account")


def test_wait_times_out_with_504_and_the_message_stays_accepted(customer_a, worker, live, settings):
    settings.MESSAGE_WAIT = 0.5
    response = customer_a.key_client().post(
        f"/v1/sessions/{live.id}/messages?wait=true", {"to": "15550000002", "text": "hi"}, format="json"
    )
    assert response.status_code == 504
    assert error_code(response) == "worker_timeout"
    assert Message.objects.get().status == "dispatched"
