"""Webhooks in the portal: create with an event choice (secret shown once), list,
deliveries with their status, redeliver, delete."""

from __future__ import annotations

import re

import pytest

from control_plane.webhooks.models import Delivery, Webhook
from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_targets(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # targets on 127.0.0.1 in these tests


def test_the_empty_page_explains_webhooks(browser_a):
    text = browser_a.get("/webhooks").content.decode()
    assert "No webhooks yet" in text
    for event in ["session.status", "session.qr", "message.received", "message.sent", "message.failed"]:
        assert f'value="{event}"' in text
    assert "<legend>Events</legend>" in text and "All instances" in text


def test_create_shows_the_secret_once(browser_a, customer_a, instance_a):
    response = browser_a.post(
        "/webhooks",
        {
            "url": "http://127.0.0.1:9/hook",
            "events": ["message.received", "session.status"],
            "session": instance_a.id,
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = re.search(r'value="(whsec_[^"]+)" readonly data-new-secret', response.content.decode()).group(1)
    hook = Webhook.objects.get(owner=customer_a.user)
    assert hook.events == ["message.received", "session.status"] and hook.session_id == instance_a.id
    listing = browser_a.get("/webhooks").content.decode()
    assert secret not in listing and "http://127.0.0.1:9/hook" in listing and "Shop One" in listing


def test_events_are_required_and_shown_next_to_the_choice(browser_a):
    response = browser_a.post("/webhooks", {"url": "http://127.0.0.1:9/hook"}, **HTMX)
    assert response.status_code == 422
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="webhooks"') and 'id="id_events_error_1"' in text


@pytest.mark.parametrize(
    ("url", "error"),
    [("ftp://x.example/", "must be an http(s) URL"), ("http://a:b@127.0.0.1/", "no user:password")],
)
def test_a_refused_url_is_shown_next_to_the_url(browser_a, url, error):
    response = browser_a.post("/webhooks", {"url": url, "events": ["message.received"]})
    assert response.status_code == 422 and error in " ".join(response.context["form"].errors["url"])
    assert not Webhook.objects.exists()


def test_private_targets_are_refused_unless_allowed(browser_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = browser_a.post("/webhooks", {"url": "http://127.0.0.1:9/", "events": ["message.received"]})
    assert "non-public address" in " ".join(response.context["form"].errors["url"])


def test_a_short_secret_is_refused_next_to_it(browser_a):
    response = browser_a.post(
        "/webhooks", {"url": "http://127.0.0.1:9/", "events": ["message.received"], "secret": "short"}
    )
    assert response.context["form"].errors["secret"] == ["at least 16 characters"]


def test_another_customers_instance_cannot_be_chosen(browser_b, instance_a):
    response = browser_b.post(
        "/webhooks", {"url": "http://127.0.0.1:9/", "events": ["message.received"], "session": instance_a.id}
    )
    assert response.status_code == 422 and "session" in response.context["form"].errors
    assert not Webhook.objects.exists()


def _hook_with_deliveries(customer) -> tuple[Webhook, Delivery]:
    from control_plane.webhooks.services import webhook_create

    hook, _ = webhook_create(user=customer.user, url="http://127.0.0.1:9/hook", events=["message.received"])
    failed = Delivery.objects.create(
        webhook=hook,
        event="message.received",
        session_id="shop",
        payload={},
        status="failed",
        attempts=8,
        last_status_code=500,
    )
    Delivery.objects.create(
        webhook=hook, event="message.received", payload={}, status="succeeded", attempts=1
    )
    return hook, failed


def test_the_webhook_page_lists_deliveries_with_status(browser_a, customer_a):
    hook, failed = _hook_with_deliveries(customer_a)
    text = browser_a.get(f"/webhooks/{hook.id}").content.decode()
    assert 'data-delivery-status="failed"' in text and "HTTP 500" in text
    assert 'data-delivery-status="succeeded"' in text
    assert f"/webhooks/{hook.id}/deliveries/{failed.id}/redeliver" in text


def test_redeliver_puts_the_delivery_back_to_pending(
    browser_a, customer_a, django_capture_on_commit_callbacks
):
    hook, failed = _hook_with_deliveries(customer_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = browser_a.post(f"/webhooks/{hook.id}/deliveries/{failed.id}/redeliver", **HTMX)
    assert response.status_code == 200 and len(callbacks) == 1  # the delivery task, after commit
    assert response.content.decode().lstrip().startswith('<section id="deliveries"')
    assert "Sending it again now" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == "pending"


def test_another_customers_webhook_and_deliveries_are_404(browser_b, customer_a):
    hook, failed = _hook_with_deliveries(customer_a)
    assert browser_b.get(f"/webhooks/{hook.id}").status_code == 404
    assert browser_b.get(f"/webhooks/{hook.id}/deliveries").status_code == 404
    assert browser_b.post(f"/webhooks/{hook.id}/deliveries/{failed.id}/redeliver").status_code == 404
    assert browser_b.post(f"/webhooks/{hook.id}/delete").status_code == 404
    failed.refresh_from_db()
    assert failed.status == "failed" and Webhook.objects.filter(pk=hook.id).exists()


def test_delete_removes_the_webhook(browser_a, customer_a):
    hook, _ = _hook_with_deliveries(customer_a)
    response = browser_a.post(f"/webhooks/{hook.id}/delete")
    assert response.status_code == 302 and response["Location"] == "/webhooks"
    assert not Webhook.objects.filter(pk=hook.id).exists()
