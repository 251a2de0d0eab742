"""What developers pay for, against the real stack: send with an API key and see it
arrive, receive on a signed webhook, never lose or double an accepted message."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from control_plane.webhooks.signing import verify
from tests.receiver import Receiver
from tests.stack import wait_until
from tests.wholestack import WholeStack, whole_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def stack(stack_database: str, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[WholeStack]:
    with whole_stack(
        "messaging",
        django_db_blocker=django_db_blocker,
        logs=tmp_path_factory.mktemp("messaging"),
        workers=2,
        celery=True,
        sim_args=("--read-after", "1"),
        WEBHOOK_RETRY_BASE="0.3",
    ) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def linked(stack: WholeStack, phone: str) -> tuple[Any, str]:
    customer = stack.customer()
    session_id = stack.session(customer, f"s{phone[-4:]}")
    stack.link(customer, session_id, phone)
    return customer, session_id


def wait_message(customer: Any, message_id: str, status: str, within: float = 30) -> dict:
    def reached() -> dict | None:
        body = customer.api.get(f"/v1/messages/{message_id}").json()
        return body if body["status"] == status else None

    try:
        return wait_until(reached, within, f"message {message_id} to be {status}", every=0.3)
    except AssertionError:
        body = customer.api.get(f"/v1/messages/{message_id}").json()
        session = customer.api.get(f"/v1/sessions/{body['session']}").json()
        raise AssertionError(f"message never {status}: {body}\nsession: {session}") from None


def test_text_and_image_arrive_and_go_to_read_with_every_timestamp(stack: WholeStack) -> None:
    customer, session_id = linked(stack, "15552220001")
    stack.inbox("15552229999")  # the recipient's phone is online: acks flow at once
    text = customer.api.post(
        f"/v1/sessions/{session_id}/messages", json={"to": "+15552229999", "text": "hello"}
    )
    assert text.status_code == 202 and text.json()["status"] == "queued"
    image = customer.api.post(
        f"/v1/sessions/{session_id}/messages",
        json={
            "to": "15552229999",
            "type": "image",
            "caption": "a dot",
            "media": {"data": base64.b64encode(PNG).decode(), "mimetype": "image/png", "filename": "dot.png"},
        },
    )
    assert image.status_code == 202
    for message_id in (text.json()["id"], image.json()["id"]):
        body = wait_message(customer, message_id, "read")
        assert body["wa_id"] and all(
            body[f] for f in ("created_at", "dispatched_at", "sent_at", "delivered_at", "read_at")
        )
        assert body["created_at"] <= body["sent_at"] <= body["delivered_at"] <= body["read_at"]
    inbox = stack.inbox("15552229999")
    assert [m["text"] for m in inbox if m["from"] == "15552220001" and m["type"] == "text"] == ["hello"]
    (picture,) = [m for m in inbox if m["type"] == "image"]
    assert picture["caption"] == "a dot" and picture["size"] == len(PNG)


def test_incoming_is_stored_and_reaches_a_signed_webhook(stack: WholeStack, receiver: Receiver) -> None:
    customer, session_id = linked(stack, "15552220002")
    secret = customer.api.post(
        "/v1/webhooks", json={"url": receiver.url + "/in", "events": ["message.received"]}
    ).json()["secret"]
    sent = httpx.post(
        f"{stack.sim_url}/phone/15552228888/send", json={"to": "15552220002", "text": "hi there"}
    )
    assert sent.status_code in (200, 201)
    (request,) = wait_until(lambda: receiver.requests, 30, "the webhook delivery")
    assert verify(secret=secret, body=request.body, header=request.headers["X-Wagate-Signature"])
    payload = json.loads(request.body)
    assert (payload["event"], payload["session"], payload["data"]["text"]) == (
        "message.received",
        session_id,
        "hi there",
    )
    stored = customer.api.get(f"/v1/sessions/{session_id}/messages?direction=in").json()["results"]
    assert [(m["from"], m["text"]) for m in stored] == [("15552228888", "hi there")]


def test_a_receiver_failing_twice_gets_three_logged_attempts(stack: WholeStack, receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 200]
    customer, _ = linked(stack, "15552220003")
    webhook = customer.api.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["message.received"]}
    ).json()
    httpx.post(f"{stack.sim_url}/phone/15552227777/send", json={"to": "15552220003", "text": "retry me"})

    def succeeded() -> dict | None:
        deliveries = customer.api.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["results"]
        return deliveries[0] if deliveries and deliveries[0]["status"] == "succeeded" else None

    delivery = wait_until(succeeded, 60, "the delivery to succeed")
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert {r.headers["X-Wagate-Delivery"] for r in receiver.requests} == {delivery["id"]}


def test_the_same_idempotency_key_sends_once(stack: WholeStack) -> None:
    customer, session_id = linked(stack, "15552220004")
    stack.inbox("15552226666")
    headers = {"Idempotency-Key": "order-42"}
    body = {"to": "15552226666", "text": "only once"}
    first = customer.api.post(f"/v1/sessions/{session_id}/messages", json=body, headers=headers)
    again = customer.api.post(f"/v1/sessions/{session_id}/messages", json=body, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    wait_message(customer, first.json()["id"], "read")
    time.sleep(1)
    assert [m["text"] for m in stack.inbox("15552226666")] == ["only once"]


def test_a_message_accepted_when_its_worker_dies_is_sent_exactly_once(stack: WholeStack) -> None:
    customer, session_id = linked(stack, "15552220005")
    stack.inbox("15552225555")
    time.sleep(3)  # the snapshot after linking is uploaded
    victim_id = customer.api.get(f"/v1/sessions/{session_id}").json()["worker"]
    victim = next(w for w in stack.workers if w.worker_id == victim_id)
    os.kill(victim.process.pid, signal.SIGSTOP)  # it can no longer act on what it is sent
    accepted = customer.api.post(
        f"/v1/sessions/{session_id}/messages", json={"to": "15552225555", "text": "survive"}
    )
    assert accepted.status_code == 202
    stack.crash(victim)
    body = wait_message(customer, accepted.json()["id"], "read", within=120)
    assert body["sent_at"]
    session = customer.api.get(f"/v1/sessions/{session_id}").json()
    assert session["worker"] != victim_id and session["status"] == "connected"
    time.sleep(2)
    assert [m["text"] for m in stack.inbox("15552225555")] == ["survive"]
    stack.workers.remove(victim)
    stack.add_worker("replacement")
