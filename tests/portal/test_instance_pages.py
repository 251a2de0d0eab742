"""The dashboard, creating instances, the instance page, its actions and live fragments."""

from __future__ import annotations

import pytest
from django.utils import timezone

from control_plane.sessions.models import Session
from shared.commands import StartSession
from tests.helpers import worker_commands
from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db


def test_dashboard_empty_state_explains_the_first_steps(browser_a):
    response = browser_a.get("/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "No instances yet" in text and "Link a device" in text
    assert "0 of 1 instance used on the Basic plan" in text


def test_dashboard_has_one_card_per_instance_with_status_phone_and_activity(browser_a, instance_a):
    Session.objects.filter(pk=instance_a.id).update(
        status="connected", phone="15551234567", last_activity=timezone.now()
    )
    response = browser_a.get("/")
    text = response.content.decode()
    assert text.count('class="card"') == 1
    assert f'id="card-{instance_a.id}"' in text and 'data-live-session="' + instance_a.id in text
    assert 'data-status="connected"' in text and "+15551234567" in text and "0\xa0minutes ago" in text


def test_dashboard_shows_only_the_customers_own_instances(browser_b, instance_a):
    assert instance_a.id not in browser_b.get("/").content.decode()


def test_create_instance_goes_to_its_page(browser_a, customer_a):
    response = browser_a.post("/instances/new", {"name": "Shop Two", "description": "sales"})
    session = Session.objects.get(owner=customer_a.user)
    assert response.status_code == 302 and response["Location"] == f"/instances/{session.id}"
    assert (session.name, session.description, session.status) == ("Shop Two", "sales", "disconnected")
    page = browser_a.get(response["Location"])
    assert "Instance “Shop Two” created" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "This field is required."), ("!!!", "needs a letter or digit"), ("x" * 101, "at most 100")],
)
def test_create_with_a_bad_name_shows_the_error_next_to_the_name(browser_a, name, error):
    response = browser_a.post("/instances/new", {"name": name})
    assert response.status_code == 422
    assert error in " ".join(response.context["form"].errors["name"])
    assert Session.objects.count() == 0


def test_create_over_the_tier_limit_says_so_clearly(browser_a, instance_a):
    response = browser_a.post("/instances/new", {"name": "Second"})
    assert response.status_code == 422
    (message,) = response.context["form"].non_field_errors()
    assert "plan allows 1 session" in message
    dashboard = browser_a.get("/").content.decode()
    assert "plan allows 1 instance" in dashboard and "Create instance</button>" not in dashboard


def test_create_through_htmx_swaps_the_form_or_redirects_the_page(browser_a):
    invalid = browser_a.post("/instances/new", {"name": ""}, **HTMX)
    assert invalid.status_code == 422
    assert invalid.content.decode().lstrip().startswith('<div id="create-form">')
    assert "<html" not in invalid.content.decode()
    created = browser_a.post("/instances/new", {"name": "Via htmx"}, **HTMX)
    assert created.status_code == 200 and created["HX-Redirect"].startswith("/instances/via-htmx-")


def test_instance_page_shows_status_details_history_and_a_connect_button(browser_a, instance_a):
    response = browser_a.get(f"/instances/{instance_a.id}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Shop One" in text and "support line" in text and instance_a.id in text
    assert 'data-status="disconnected"' in text
    assert f'action="/instances/{instance_a.id}/connect"' in text
    assert "/disconnect" not in text  # nothing runs yet
    assert 'id="history"' in text and "created" in text
    assert f"/ws/?session={instance_a.id}" in text


@pytest.mark.parametrize(
    "suffix", ["", "/panel", "/card", "/history", "/qr.png", "/delete"], ids=lambda s: s or "page"
)
def test_another_customers_instance_is_a_404_page(browser_b, instance_a, suffix):
    response = browser_b.get(f"/instances/{instance_a.id}{suffix}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Not found" in response.content and b"Shop One" not in response.content


@pytest.mark.parametrize("action", ["connect", "disconnect", "logout", "restart", "reset-attempts", "delete"])
def test_another_customers_instance_cannot_be_acted_on(browser_b, instance_a, action):
    response = browser_b.post(f"/instances/{instance_a.id}/{action}")
    assert response.status_code == 404
    instance_a.refresh_from_db()
    assert instance_a.status == "disconnected"


def test_connect_without_a_worker_shows_the_reason_and_changes_nothing(browser_a, instance_a):
    response = browser_a.post(f"/instances/{instance_a.id}/connect", follow=True)
    assert response.status_code == 200
    assert "No healthy worker has room" in response.content.decode()
    instance_a.refresh_from_db()
    assert instance_a.status == "disconnected"


def test_connect_through_htmx_returns_the_panel_and_the_flash(
    browser_a, instance_a, worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_a.post(f"/instances/{instance_a.id}/connect", **HTMX)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith('<section id="panel"') and "<html" not in text
    assert 'data-status="connecting"' in text and f"/instances/{instance_a.id}/disconnect" in text
    assert 'hx-swap-oob="true"' in text and "Connecting — the QR code appears" in text
    ((_, command),) = worker_commands(worker.worker_id)
    assert isinstance(command, StartSession) and command.session_id == instance_a.id


def test_disconnect_of_a_stopped_instance_is_a_flash_not_an_error_page(browser_a, instance_a):
    response = browser_a.post(f"/instances/{instance_a.id}/disconnect", follow=True)
    assert response.status_code == 200
    assert "already disconnected" in response.content.decode()


def test_disconnect_warns_when_the_worker_did_not_confirm(
    browser_a, instance_a, worker, settings, django_capture_on_commit_callbacks
):
    settings.WORKER_STOP_WAIT = 0.2  # no worker process here to confirm
    with django_capture_on_commit_callbacks(execute=True):
        browser_a.post(f"/instances/{instance_a.id}/connect")
    response = browser_a.post(f"/instances/{instance_a.id}/disconnect", **HTMX)
    text = response.content.decode()
    assert 'data-status="disconnected"' in text
    assert "Disconnected. The link is kept" in text and "did not confirm in time" in text


def test_reset_attempts(browser_a, instance_a):
    Session.objects.filter(pk=instance_a.id).update(connection_attempts=4)
    page = browser_a.get(f"/instances/{instance_a.id}").content.decode()
    assert f"/instances/{instance_a.id}/reset-attempts" in page
    browser_a.post(f"/instances/{instance_a.id}/reset-attempts")
    instance_a.refresh_from_db()
    assert instance_a.connection_attempts == 0


def _waiting_for_scan(session: Session, qr: str = "2@abc,def,ghi,jkl,WEB", attempt: int = 3) -> None:
    Session.objects.filter(pk=session.id).update(
        status="qr_ready", qr=qr, qr_attempt=attempt, generation=2, qr_expires_at=timezone.now()
    )


def test_the_panel_shows_the_qr_image_with_its_raw_code_while_waiting_for_a_scan(browser_a, instance_a):
    _waiting_for_scan(instance_a)
    text = browser_a.get(f"/instances/{instance_a.id}/panel").content.decode()
    assert f'src="/instances/{instance_a.id}/qr.png?v=2-3"' in text
    assert 'data-qr="2@abc,def,ghi,jkl,WEB"' in text and "Code <span data-qr-attempt>3</span> of 6" in text
    assert "Link with a phone number instead" in text


def test_qr_png_is_the_current_code_and_never_cached(browser_a, instance_a):
    assert browser_a.get(f"/instances/{instance_a.id}/qr.png").status_code == 409
    _waiting_for_scan(instance_a)
    response = browser_a.get(f"/instances/{instance_a.id}/qr.png?v=2-3")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and response["Cache-Control"] == "no-store"


def test_pairing_code_with_a_bad_phone_is_shown_next_to_the_phone_field(browser_a, instance_a):
    _waiting_for_scan(instance_a)
    response = browser_a.post(f"/instances/{instance_a.id}/pairing-code", {"phone": "call me"}, **HTMX)
    assert response.status_code == 200
    text = response.content.decode()
    assert "a phone number is 6 to 15 digits" in text and 'id="id_phone_error_1"' in text


def test_pairing_code_needs_a_running_instance(browser_a, instance_a):
    response = browser_a.post(f"/instances/{instance_a.id}/pairing-code", {"phone": "+15551234567"}, **HTMX)
    assert "connect it first" in response.content.decode()


def test_the_card_and_history_fragments_render_alone(browser_a, instance_a):
    card = browser_a.get(f"/instances/{instance_a.id}/card", **HTMX).content.decode()
    assert card.lstrip().startswith("<article") and "<html" not in card
    history = browser_a.get(f"/instances/{instance_a.id}/history", **HTMX).content.decode()
    assert history.lstrip().startswith('<section id="history"') and "created" in history


def test_ids_in_portal_urls_are_normalized_like_the_api(browser_a, instance_a):
    assert browser_a.get(f"/instances/{instance_a.id.upper()}").status_code == 200


def test_delete_asks_first_then_deletes(browser_a, instance_a):
    confirm = browser_a.get(f"/instances/{instance_a.id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert Session.objects.filter(pk=instance_a.id).exists()
    response = browser_a.post(f"/instances/{instance_a.id}/delete")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Session.objects.filter(pk=instance_a.id).exists()
    assert browser_a.get(f"/instances/{instance_a.id}").status_code == 404
