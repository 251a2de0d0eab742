"""Sending through the API: accepted only once committed, then handed to the worker."""

import base64

import pytest

from control_plane.messaging.models import Message
from control_plane.sessions.models import Session
from shared.commands import SendMessage
from tests.helpers import error_code, worker_commands

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def send(client, session_id, body, **extra):
    return client.post(f"/v1/sessions/{session_id}/messages", body, format="json", **extra)


def test_a_text_is_committed_queued_then_dispatched_to_the_worker(
    customer_a, connected, worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(customer_a.key_client(), connected.id, {"to": "+1 555 000 0002", "text": "hello"})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["to"], body["from"], body["type"]) == (
        "queued",
        "15550000002",
        "15550000001",
        "text",
    )
    ((_, command),) = worker_commands(worker.worker_id)
    assert isinstance(command, SendMessage)
    assert (command.message_id, command.to, command.text, command.generation) == (
        body["id"],
        "15550000002",
        "hello",
        2,
    )
    assert Message.objects.get(pk=body["id"]).status == "dispatched"


def test_a_session_that_is_not_connected_is_409(customer_a, connected):
    Session.objects.filter(pk=connected.id).update(status="qr_ready")
    response = send(customer_a.key_client(), connected.id, {"to": "15550000002", "text": "hi"})
    assert response.status_code == 409
    assert error_code(response) == "conflict"
    assert not Message.objects.exists()


def test_a_reconnecting_session_queues_and_sends_once_it_is_back(
    customer_a, connected, worker, django_capture_on_commit_callbacks
):
    from shared.events import SessionStatusChanged
    from tests.helpers import publish_event, run_ingester

    Session.objects.filter(pk=connected.id).update(status="reconnecting")
    with django_capture_on_commit_callbacks(execute=True):
        response = send(customer_a.key_client(), connected.id, {"to": "15550000002", "text": "wait for me"})
    assert response.status_code == 202
    assert worker_commands(worker.worker_id) == []
    publish_event(
        SessionStatusChanged(session_id=connected.id, generation=2, status="connected"),
        source=worker.worker_id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_ingester()
    ((_, command),) = worker_commands(worker.worker_id)
    assert command.message_id == response.json()["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x"}, "to"),
        ({"to": "not a number", "text": "x"}, "to"),
        ({"to": "123", "text": "x"}, "to"),
        ({"to": "15550000002"}, "text"),
        ({"to": "15550000002", "text": "   "}, "text"),
        ({"to": "15550000002", "type": "sticker", "text": "x"}, "type"),
        ({"to": "15550000002", "type": "image"}, "media"),
        ({"to": "15550000002", "type": "image", "media": {"data": "@@@", "mimetype": "image/png"}}, "media"),
        (
            {
                "to": "15550000002",
                "type": "image",
                "media": {"data": base64.b64encode(b"x").decode(), "mimetype": "application/x-msdownload"},
            },
            "media",
        ),
        ({"to": "15550000002", "type": "image", "media": {"data": "aGk="}}, "media"),
    ],
)
def test_bad_input_is_a_validation_error_and_nothing_is_stored(customer_a, connected, body, field):
    response = send(customer_a.key_client(), connected.id, body)
    assert response.status_code == 400, response.json()
    assert error_code(response) == "validation_error"
    assert field in response.json()["error"]["details"]["fields"]
    assert not Message.objects.exists()


def test_the_same_idempotency_key_sends_once(
    customer_a, connected, worker, django_capture_on_commit_callbacks
):
    client = customer_a.key_client()
    with django_capture_on_commit_callbacks(execute=True):
        first = send(client, connected.id, {"to": "15550000002", "text": "once"}, HTTP_IDEMPOTENCY_KEY="k-1")
    with django_capture_on_commit_callbacks(execute=True):
        again = send(client, connected.id, {"to": "15550000002", "text": "once"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    assert len(worker_commands(worker.worker_id)) == 1


@pytest.mark.parametrize("obstacle", ["session_not_connected", "rate_limited", "duplicate_guard"])
def test_a_repeated_idempotency_key_returns_the_first_message_whatever_changed_since(
    customer_a, connected, settings, obstacle
):
    """A retry must learn what became of its first attempt, even when a new send
    would now be refused (the key is found after the refusal, not looked up first)."""
    client = customer_a.key_client()
    first = send(client, connected.id, {"to": "15550000002", "text": "once"}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert first.status_code == 202
    if obstacle == "session_not_connected":
        Session.objects.filter(pk=connected.id).update(status="disconnected")
    elif obstacle == "rate_limited":
        for n in range(9):  # basic tier: 10 a minute per session; the first send used one
            assert send(client, connected.id, {"to": "15550000002", "text": f"m{n}"}).status_code == 202
        assert send(client, connected.id, {"to": "15550000002", "text": "x"}).status_code == 429
    else:
        settings.MESSAGE_DUPLICATE_WINDOW = 60
    again = send(client, connected.id, {"to": "15550000002", "text": "once"}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.status_code == 202, again.json()
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(idempotency_key="k-2").count() == 1


def test_an_idempotency_key_is_per_customer(customer_a, customer_b, connected, worker):
    from control_plane.sessions.services import session_create

    connected_b = session_create(user=customer_b.user, name="B")
    Session.objects.filter(pk=connected_b.id).update(status="connected", worker_id=worker.worker_id)
    mine = send(
        customer_a.key_client(), connected.id, {"to": "15550000002", "text": "a"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    theirs = send(
        customer_b.key_client(), connected_b.id, {"to": "15550000002", "text": "b"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs


def test_the_session_rate_limit_answers_429_with_retry_after(customer_a, connected):
    client = customer_a.key_client()
    for n in range(10):  # basic tier: 10 a minute per session
        assert send(client, connected.id, {"to": "15550000002", "text": f"m{n}"}).status_code == 202
    response = send(client, connected.id, {"to": "15550000002", "text": "one too many"})
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response.json()["error"]["details"]["scope"] == "session"
    assert Message.objects.count() == 10


def test_the_user_rate_limit_spans_sessions(customer_a, connected, settings):
    from control_plane.accounts.models import Tier

    Tier.objects.filter(name="basic").update(
        messages_per_minute_per_user=3, messages_per_minute_per_session=50
    )
    customer_a.user.refresh_from_db()
    from control_plane.accounts import api_key_cache

    api_key_cache._entries.clear()
    client = customer_a.key_client()
    for n in range(3):
        assert send(client, connected.id, {"to": "15550000002", "text": f"m{n}"}).status_code == 202
    response = send(client, connected.id, {"to": "15550000002", "text": "x"})
    assert response.status_code == 429
    assert response.json()["error"]["details"]["scope"] == "user"


def test_the_duplicate_guard_refuses_the_same_text_to_the_same_chat(customer_a, connected, settings):
    settings.MESSAGE_DUPLICATE_WINDOW = 60
    client = customer_a.key_client()
    assert send(client, connected.id, {"to": "15550000002", "text": "promo"}).status_code == 202
    response = send(client, connected.id, {"to": "15550000002", "text": "promo"})
    assert response.status_code == 409
    assert response.json()["error"]["details"]["reason"] == "duplicate_message"
    assert send(client, connected.id, {"to": "15550000003", "text": "promo"}).status_code == 202


def test_an_image_as_base64_travels_in_the_command(
    customer_a, connected, worker, django_capture_on_commit_callbacks
):
    body = {
        "to": "15550000002",
        "type": "image",
        "caption": "a dot",
        "media": {"data": base64.b64encode(PNG).decode(), "mimetype": "image/png", "filename": "dot.png"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = send(customer_a.key_client(), connected.id, body)
    assert response.status_code == 202 and response.json()["mimetype"] == "image/png"
    ((_, command),) = worker_commands(worker.worker_id)
    assert base64.b64decode(command.media.data_b64) == PNG
    assert (command.kind, command.caption, command.media.filename) == ("image", "a dot", "dot.png")


def test_an_image_by_url_is_fetched_through_the_guard(
    customer_a, connected, receiver, settings, worker, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    receiver.files["/dot.png"] = ("image/png", PNG)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(
            customer_a.key_client(),
            connected.id,
            {"to": "15550000002", "type": "image", "media": {"url": f"{receiver.url}/dot.png"}},
        )
    assert response.status_code == 202
    assert base64.b64decode(worker_commands(worker.worker_id)[0][1].media.data_b64) == PNG


def test_a_url_to_a_private_address_is_refused_by_default(customer_a, connected, receiver):
    receiver.files["/dot.png"] = ("image/png", PNG)
    response = send(
        customer_a.key_client(),
        connected.id,
        {"to": "15550000002", "type": "image", "media": {"url": f"{receiver.url}/dot.png"}},
    )
    assert response.status_code == 400
    assert "non-public" in str(response.json()["error"])
    assert receiver.requests == []


def test_an_upload_as_multipart_works(customer_a, connected, worker, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.4 tiny", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(
            f"/v1/sessions/{connected.id}/messages",
            {"to": "15550000002", "type": "document", "file": upload},
            format="multipart",
        )
    assert response.status_code == 202
    assert worker_commands(worker.worker_id)[0][1].media.filename == "report.pdf"


def test_oversized_media_is_413(customer_a, connected, settings):
    settings.MEDIA_MAX_BYTES = 100
    body = {
        "to": "15550000002",
        "type": "image",
        "media": {"data": base64.b64encode(b"x" * 101).decode(), "mimetype": "image/png"},
    }
    response = send(customer_a.key_client(), connected.id, body)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_another_customer_cannot_send_through_or_read_a_session(customer_a, customer_b, connected):
    response = send(customer_b.key_client(), connected.id, {"to": "15550000002", "text": "hijack"})
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    send(customer_a.key_client(), connected.id, {"to": "15550000002", "text": "mine"})
    assert customer_b.key_client().get(f"/v1/sessions/{connected.id}/messages").status_code == 404
    message_id = Message.objects.get().id
    assert customer_b.key_client().get(f"/v1/messages/{message_id}").status_code == 404
    assert customer_a.key_client().get(f"/v1/messages/{message_id}").status_code == 200
    assert Message.objects.count() == 1


def test_history_filters_and_paginates(customer_a, connected):
    from django.utils import timezone

    for n in range(3):
        Message.objects.create(
            session=connected,
            owner=customer_a.user,
            direction="out",
            chat="15550000002",
            to_number="15550000002",
            text=f"o{n}",
            status="sent",
        )
    Message.objects.create(
        session=connected,
        owner=customer_a.user,
        direction="in",
        chat="15550000009",
        from_number="15550000009",
        text="i",
        status="received",
        wa_id="w1",
        received_at=timezone.now(),
    )
    client = customer_a.key_client()
    base = f"/v1/sessions/{connected.id}/messages"
    assert len(client.get(f"{base}?direction=in").json()["results"]) == 1
    assert len(client.get(f"{base}?chat=%2B15550000002").json()["results"]) == 3
    page = client.get(f"{base}?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    assert len(client.get(page["next"]).json()["results"]) == 2
    assert client.get(f"{base}?direction=sideways").status_code == 400


def test_the_rendered_message_matches_the_documented_schema(customer_a, connected):
    from control_plane.messaging.apis import MessageOutput
    from control_plane.messaging.render import message_json

    message = Message.objects.create(
        session=connected,
        owner=customer_a.user,
        direction="out",
        chat="1555000",
        to_number="1555000",
        text="x",
        status="queued",
    )
    assert set(message_json(message)) == set(MessageOutput(message).data)
    documented = MessageOutput(message).data
    for field in ("id", "session", "to", "from", "type", "status", "error"):
        assert message_json(message)[field] == documented[field], field
