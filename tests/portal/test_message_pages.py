"""The instance page's messages: recent ones both ways, and the test send form."""

from __future__ import annotations

import pytest
from django.utils import timezone

from control_plane.messaging.models import Message
from control_plane.sessions.models import Session
from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected_a(instance_a):
    Session.objects.filter(pk=instance_a.id).update(status="connected", phone="15550001111")
    instance_a.refresh_from_db()
    return instance_a


def _incoming(session: Session, text: str) -> Message:
    return Message.objects.create(
        session=session,
        owner=session.owner,
        direction="in",
        chat="15550002222",
        from_number="15550002222",
        to_number=session.phone,
        text=text,
        status="received",
        received_at=timezone.now(),
    )


def test_the_instance_page_lists_recent_messages_both_ways(browser_a, connected_a):
    _incoming(connected_a, "hello from a customer")
    browser_a.post(f"/instances/{connected_a.id}/send", {"to": "+15550002222", "text": "hi back"})
    text = browser_a.get(f"/instances/{connected_a.id}").content.decode()
    assert 'data-direction="in"' in text and "hello from a customer" in text and "From +15550002222" in text
    assert 'data-direction="out"' in text and "hi back" in text and "To +15550002222" in text
    assert text.index("hi back") < text.index("hello from a customer")  # newest first


def test_the_messages_list_is_empty_with_a_hint(browser_a, instance_a):
    text = browser_a.get(f"/instances/{instance_a.id}").content.decode()
    assert "No messages yet" in text and "Once the instance is connected" in text


def test_a_test_send_queues_the_message_and_returns_the_form_and_the_list(browser_a, connected_a):
    response = browser_a.post(
        f"/instances/{connected_a.id}/send", {"to": "+1 555 000 2222", "text": "test ✓"}, **HTMX
    )
    assert response.status_code == 200
    message = Message.objects.get(session=connected_a)
    assert (message.direction, message.to_number, message.text, message.status) == (
        "out",
        "15550002222",
        "test ✓",
        "queued",
    )
    text = response.content.decode()
    assert text.lstrip().startswith('<form id="send-form"')
    assert '<div id="conversation"' in text and 'hx-swap-oob="true"' in text and "test ✓" in text
    assert "queued; its status updates below" in text


def test_sending_from_a_stopped_instance_says_why_on_the_form(browser_a, instance_a):
    response = browser_a.post(f"/instances/{instance_a.id}/send", {"to": "15550002222", "text": "x"}, **HTMX)
    assert response.status_code == 422
    assert "connect it before sending" in response.content.decode()
    assert not Message.objects.exists()


def test_a_bad_phone_number_is_shown_next_to_the_to_field(browser_a, connected_a):
    response = browser_a.post(f"/instances/{connected_a.id}/send", {"to": "call me", "text": "x"}, **HTMX)
    assert response.status_code == 422
    assert 'id="id_to_error_1"' in response.content.decode()
    assert "6 to 15 digits" in response.content.decode()


def test_an_empty_message_is_refused_next_to_the_text(browser_a, connected_a):
    response = browser_a.post(f"/instances/{connected_a.id}/send", {"to": "15550002222", "text": ""}, **HTMX)
    assert response.status_code == 422 and 'id="id_text_error_1"' in response.content.decode()


def test_over_the_rate_limit_the_form_says_so(browser_a, connected_a, monkeypatch):
    import types

    from control_plane.accounts.models import Tier

    # One fixed instant: the limiter's minute window cannot roll over mid-test.
    monkeypatch.setattr("django_ratelimit.core.time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))
    Tier.objects.filter(pk="basic").update(messages_per_minute_per_session=2)
    url = f"/instances/{connected_a.id}/send"
    for n in range(2):
        assert browser_a.post(url, {"to": "15550002222", "text": f"m{n}"}, **HTMX).status_code == 200
    response = browser_a.post(url, {"to": "15550002222", "text": "one more"}, **HTMX)
    assert (
        response.status_code == 422 and "Over the limit of 2 messages a minute" in response.content.decode()
    )
    assert Message.objects.count() == 2


def test_without_htmx_a_send_redirects_back_to_the_messages(browser_a, connected_a):
    response = browser_a.post(f"/instances/{connected_a.id}/send", {"to": "15550002222", "text": "plain"})
    assert response.status_code == 302 and response["Location"] == f"/instances/{connected_a.id}#messages"


def test_another_customers_messages_are_404(browser_b, connected_a):
    assert browser_b.get(f"/instances/{connected_a.id}/messages").status_code == 404
    response = browser_b.post(f"/instances/{connected_a.id}/send", {"to": "15550002222", "text": "x"})
    assert response.status_code == 404 and not Message.objects.exists()
