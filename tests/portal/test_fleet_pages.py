"""The operators' fleet page: workers, load, drain, problematic sessions. Staff only."""

from __future__ import annotations

import pytest
from django.test import Client

from control_plane.fleet.models import Worker
from control_plane.sessions.models import Session
from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db
REASON = "qr_timeout"


def test_customers_are_refused_the_fleet(browser_a):
    for url in ["/fleet", "/fleet/workers"]:
        response = browser_a.get(url)
        assert response.status_code == 403 and b"Not allowed" in response.content
    assert browser_a.post("/fleet/workers/worker-001/drain").status_code == 403


def test_the_fleet_link_is_only_in_an_operators_menu(browser_a, operator_browser):
    assert b'href="/fleet"' not in browser_a.get("/").content
    assert b'href="/fleet"' in operator_browser.get("/").content


def test_anonymous_visitors_are_sent_to_log_in():
    response = Client().get("/fleet")
    assert response.status_code == 302 and response["Location"].startswith("/login")


def test_the_fleet_page_shows_workers_with_status_load_capacity_and_heartbeat(operator_browser, worker):
    Session.objects.create(id="s-1", owner=operator_browser_user(), name="s", worker_id=worker.worker_id)
    response = operator_browser.get("/fleet")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'id="worker-{worker.worker_id}"' in text
    assert 'data-status="online"' in text and "1 / 5" in text and "13% · 512 MB (20%)"  # cpu 12.5 in text
    assert "0\xa0minutes ago" in text
    assert f"/fleet/workers/{worker.worker_id}/drain" in text


def operator_browser_user():
    from control_plane.accounts.models import User

    return User.objects.get(email="ops@example.com")


def test_empty_fleet_says_how_to_add_a_worker(operator_browser):
    text = operator_browser.get("/fleet").content.decode()
    assert "No workers have registered yet" in text and "No problematic sessions" in text


def test_drain_and_cancel_through_htmx(operator_browser, worker):
    response = operator_browser.post(f"/fleet/workers/{worker.worker_id}/drain", **HTMX)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith('<section id="workers"') and 'data-status="draining"' in text
    assert "Cancel drain" in text and "is draining" in text and 'data-drain="draining"' in text
    assert Worker.objects.get(pk=worker.worker_id).status == "draining"
    operator_browser.post(f"/fleet/workers/{worker.worker_id}/drain/cancel", **HTMX)
    assert Worker.objects.get(pk=worker.worker_id).status == "online"


def test_cancelling_a_drain_that_is_not_running_is_a_flash(operator_browser, worker):
    response = operator_browser.post(f"/fleet/workers/{worker.worker_id}/drain/cancel", follow=True)
    assert response.status_code == 200 and "not being drained" in response.content.decode()


def test_an_unknown_worker_is_a_404(operator_browser):
    assert operator_browser.post("/fleet/workers/nope/drain").status_code == 404


def test_problematic_sessions_of_every_customer_are_listed(operator_browser, customer_a, customer_b):
    Session.objects.create(id="a-err", owner=customer_a.user, name="a", status="error")
    Session.objects.create(id="b-fine", owner=customer_b.user, name="b", status="disconnected")
    Session.objects.create(
        id="b-drop", owner=customer_b.user, name="b", status="disconnected", last_disconnect_reason=REASON
    )
    text = operator_browser.get("/fleet").content.decode()
    assert "a-err" in text and "alice@example.com" in text
    assert "b-drop" in text and "qr_timeout" in text
    assert "b-fine" not in text
