"""Webhooks: subscriptions, signed deliveries with retries, attempts logged, redelivery."""

import json
from contextlib import nullcontext

import pytest

from control_plane.webhooks.models import Delivery, Webhook
from control_plane.webhooks.services import webhooks_emit
from control_plane.webhooks.signing import verify
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def create(client, url, events=("message.received",), **extra):
    return client.post("/v1/webhooks", {"url": url, "events": list(events), **extra}, format="json")


def test_create_shows_the_secret_once_and_keeps_it_encrypted(customer_a, receiver):
    response = create(customer_a.key_client(), f"{receiver.url}/hook")
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    stored = Webhook.objects.get(pk=response.json()["id"])
    assert secret not in stored.secret_encrypted
    listed = customer_a.key_client().get("/v1/webhooks").json()["results"]
    assert listed[0]["id"] == stored.id and "secret" not in listed[0]


def test_private_targets_are_refused_unless_allowed(customer_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://localhost/x",
    ]:
        response = create(customer_a.key_client(), url)
        assert response.status_code == 400, url
        assert error_code(response) == "validation_error"
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ["message.received"]},
        {"url": "http://user:pw@example.com/x", "events": ["message.received"]},
        {"url": "not a url", "events": ["message.received"]},
        {"url": "http://127.0.0.1/x", "events": []},
        {"url": "http://127.0.0.1/x", "events": ["message.exploded"]},
        {"url": "http://127.0.0.1/x", "events": ["message.received"], "secret": "short"},
    ],
)
def test_bad_subscriptions_are_validation_errors(customer_a, receiver, body):
    response = customer_a.key_client().post("/v1/webhooks", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_a_delivery_is_signed_and_verifies_with_the_secret(
    customer_a, receiver, django_capture_on_commit_callbacks
):
    secret = create(customer_a.key_client(), f"{receiver.url}/hook").json()["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        (delivery_id,) = webhooks_emit(
            owner_id=customer_a.user.pk, session_id="shop-1", event="message.received", data={"text": "hi"}
        )
    (request,) = receiver.requests
    assert request.headers["X-Wagate-Event"] == "message.received"
    assert request.headers["X-Wagate-Delivery"] == delivery_id
    assert verify(secret=secret, body=request.body, header=request.headers["X-Wagate-Signature"])
    assert not verify(secret="whsec_wrong", body=request.body, header=request.headers["X-Wagate-Signature"])
    payload = json.loads(request.body)
    assert (payload["id"], payload["event"], payload["session"], payload["data"]) == (
        delivery_id,
        "message.received",
        "shop-1",
        {"text": "hi"},
    )
    assert Delivery.objects.get(pk=delivery_id).status == "succeeded"


def test_500_twice_then_200_logs_three_attempts_and_one_success(
    customer_a, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 500, 200]
    create(customer_a.key_client(), f"{receiver.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        (delivery_id,) = webhooks_emit(
            owner_id=customer_a.user.pk, session_id="s", event="message.received", data={}
        )
    deliveries = (
        customer_a.key_client().get(f"/v1/webhooks/{Webhook.objects.get().id}/deliveries").json()["results"]
    )
    (delivery,) = deliveries
    assert delivery["id"] == delivery_id and delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert delivery["attempt_log"][0]["response_excerpt"] == "status 500"
    assert {r.headers["X-Wagate-Delivery"] for r in receiver.requests} == {delivery_id}


def test_a_receiver_that_never_recovers_exhausts_the_attempts(
    customer_a, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [503] * 10
    create(customer_a.key_client(), f"{receiver.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        (delivery_id,) = webhooks_emit(
            owner_id=customer_a.user.pk, session_id="s", event="message.received", data={}
        )
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)


def test_redeliver_keeps_the_delivery_id(customer_a, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.statuses = [500]
    webhook_id = create(customer_a.key_client(), f"{receiver.url}/hook").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        (delivery_id,) = webhooks_emit(
            owner_id=customer_a.user.pk, session_id="s", event="message.received", data={}
        )
    assert Delivery.objects.get(pk=delivery_id).status == "failed"
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(
            f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        )
    assert response.status_code == 202
    assert Delivery.objects.get(pk=delivery_id).status == "succeeded"
    assert [r.headers["X-Wagate-Delivery"] for r in receiver.requests] == [delivery_id, delivery_id]


@pytest.mark.parametrize("in_one_batch", [False, True], ids=["alone", "one-ingester-batch"])
def test_events_and_sessions_filter_who_gets_what(
    customer_a, customer_b, receiver, django_capture_on_commit_callbacks, in_one_batch
):
    from control_plane.core.batch_scope import batch_scope
    from control_plane.sessions.services import session_create

    session = session_create(user=customer_a.user, name="only this")
    create(customer_a.key_client(), f"{receiver.url}/all", events=["message.received", "session.status"])
    create(customer_a.key_client(), f"{receiver.url}/one", events=["message.received"], session=session.id)
    create(customer_b.key_client(), f"{receiver.url}/bob", events=["message.received"])
    # In a batch the customer's webhooks are read once for all its sessions' events.
    with django_capture_on_commit_callbacks(execute=True), batch_scope() if in_one_batch else nullcontext():
        webhooks_emit(owner_id=customer_a.user.pk, session_id=session.id, event="message.received", data={})
        webhooks_emit(owner_id=customer_a.user.pk, session_id="other", event="message.received", data={})
        webhooks_emit(owner_id=customer_a.user.pk, session_id="other", event="message.ack", data={})
    assert sorted(r.path for r in receiver.requests) == ["/all", "/all", "/one"]


def test_a_subscription_for_another_customers_session_is_404(customer_a, customer_b, receiver):
    from control_plane.sessions.services import session_create

    theirs = session_create(user=customer_b.user, name="bob")
    response = create(customer_a.key_client(), f"{receiver.url}/x", session=theirs.id)
    assert response.status_code == 404


def test_customers_cannot_see_or_touch_each_others_webhooks(customer_a, customer_b, receiver):
    webhook_id = create(customer_a.key_client(), f"{receiver.url}/x").json()["id"]
    client = customer_b.key_client()
    assert client.get(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert client.get(f"/v1/webhooks/{webhook_id}/deliveries").status_code == 404
    assert client.delete(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert client.post(f"/v1/webhooks/{webhook_id}/deliveries/dlv_x/redeliver").status_code == 404
    assert client.get("/v1/webhooks").json()["results"] == []
    assert Webhook.objects.filter(pk=webhook_id).exists()


def test_the_sweeper_requeues_deliveries_whose_task_was_lost(customer_a, receiver):
    from datetime import timedelta

    from django.utils import timezone

    from control_plane.webhooks.tasks import sweep

    create(customer_a.key_client(), f"{receiver.url}/hook")
    (delivery_id,) = webhooks_emit(
        owner_id=customer_a.user.pk, session_id="s", event="message.received", data={}
    )
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert sweep.delay().get() == 1
    assert Delivery.objects.get(pk=delivery_id).status == "succeeded"
