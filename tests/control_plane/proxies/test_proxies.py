"""Proxies: the static pool, phones from heartbeats, sticky assignment, placement,
rotation, policies. Credentials never leave."""

import pytest

from control_plane.proxies.models import Proxy
from control_plane.sessions.models import Session
from shared.commands import RotateProxy, StartSession
from shared.events import ProxyRotated, ProxyRotationFailed
from tests.control_plane.proxies.conftest import phone
from tests.helpers import error_code, publish_event, run_ingester, worker_commands

pytestmark = pytest.mark.django_db


def add_static(operator, **extra):
    body = {"host": "10.1.2.3", "port": 3128, "username": "u", "password": "s3cret-pass", **extra}
    response = operator.jwt_client().post("/v1/proxies", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_operators_add_static_proxies_and_never_see_credentials_back(operator):
    created = add_static(operator, name="dc-1")
    assert "password" not in created and created["has_credentials"] is True
    stored = Proxy.objects.get(pk=created["id"])
    assert "s3cret-pass" not in stored.password_encrypted
    listed = operator.jwt_client().get("/v1/proxies").json()["results"]
    assert "s3cret-pass" not in str(listed)


def test_socks5_with_credentials_is_refused(operator):
    response = operator.jwt_client().post(
        "/v1/proxies",
        {"kind": "socks5", "host": "10.0.0.1", "port": 1080, "username": "u", "password": "p"},
        format="json",
    )
    assert response.status_code == 400


def test_customers_and_workers_cannot_reach_the_proxy_api(customer_a, worker, operator):
    proxy_id = add_static(operator)["id"]
    assert customer_a.jwt_client().get("/v1/proxies").status_code == 403
    assert customer_a.key_client().post(f"/v1/proxies/{proxy_id}/rotate").status_code == 401
    assert worker.client().get("/v1/proxies").status_code == 401


def test_disable_and_delete(operator, customer_a):
    proxy_id = add_static(operator)["id"]
    response = operator.jwt_client().patch(f"/v1/proxies/{proxy_id}", {"status": "disabled"}, format="json")
    assert response.json()["status"] == "disabled"
    Session.objects.create(id="s-1", owner=customer_a.user, name="s", proxy_id=proxy_id)
    assert operator.jwt_client().delete(f"/v1/proxies/{proxy_id}").status_code == 409
    Session.objects.all().delete()
    assert operator.jwt_client().delete(f"/v1/proxies/{proxy_id}").status_code == 204


def test_phones_appear_from_heartbeats_and_vanish_as_unhealthy(worker):
    worker.heartbeat(devices=[phone(), phone("R58M2", 20002, status="unhealthy")])
    phones = {p.device_serial: p for p in Proxy.objects.filter(source="adb")}
    assert phones["R58M1"].status == "ok" and phones["R58M1"].public_ip == "203.0.113.5"
    assert (phones["R58M1"].host, phones["R58M1"].port, phones["R58M1"].worker_id) == (
        "127.0.0.1",
        20001,
        worker.worker_id,
    )
    assert phones["R58M2"].status == "unhealthy"
    worker.heartbeat(devices=[phone("R58M2", 20002)])
    phones = {p.device_serial: p for p in Proxy.objects.filter(source="adb")}
    assert phones["R58M1"].status == "unhealthy" and "no longer reported" in phones["R58M1"].status_reason
    assert phones["R58M2"].status == "ok"


def test_a_session_takes_the_least_used_pool_proxy_and_shows_only_kind_and_ip(customer_a, operator):
    first = add_static(operator, host="10.0.0.1")["id"]
    Proxy.objects.filter(pk=first).update(public_ip="198.51.100.1")
    response = customer_a.key_client().post("/v1/sessions", {"name": "shop", "proxy": "pool"}, format="json")
    assert response.status_code == 201
    assert response.json()["proxy"] == {
        "id": first,
        "kind": "http",
        "source": "static",
        "status": "ok",
        "public_ip": "198.51.100.1",
    }
    assert "10.0.0.1" not in str(response.json()) and "s3cret" not in str(response.json())


def test_another_customers_dedicated_proxy_cannot_be_named(customer_a, customer_b, operator):
    dedicated = add_static(operator, owner="bob@example.com")["id"]
    response = customer_a.key_client().post("/v1/sessions", {"name": "x", "proxy": dedicated}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert (
        customer_b.key_client()
        .post("/v1/sessions", {"name": "x", "proxy": dedicated}, format="json")
        .status_code
        == 201
    )


def test_connect_carries_the_proxy_with_credentials_to_the_worker(
    customer_a, operator, worker, django_capture_on_commit_callbacks
):
    proxy_id = add_static(operator)["id"]
    session_id = (
        customer_a.key_client()
        .post("/v1/sessions", {"name": "s", "proxy": proxy_id}, format="json")
        .json()["id"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        customer_a.key_client().post(f"/v1/sessions/{session_id}/connect")
    ((_, start),) = worker_commands(worker.worker_id)
    assert isinstance(start, StartSession)
    assert (start.proxy.server, start.proxy.username, start.proxy.password, start.proxy.proxy_id) == (
        "http://10.1.2.3:3128",
        "u",
        "s3cret-pass",
        proxy_id,
    )


def test_a_session_on_a_phone_runs_only_on_that_phones_worker(
    customer_a, worker, second_worker, django_capture_on_commit_callbacks
):
    from control_plane.fleet.models import Worker

    second_worker.heartbeat(devices=[phone()])
    Worker.objects.filter(pk=second_worker.worker_id).update(cpu_percent=99, memory_percent=99)
    proxy = Proxy.objects.get(source="adb")
    session_id = (
        customer_a.key_client()
        .post("/v1/sessions", {"name": "s", "proxy": proxy.id}, format="json")
        .json()["id"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(f"/v1/sessions/{session_id}/connect")
    assert response.json()["worker"] == second_worker.worker_id
    assert worker_commands(second_worker.worker_id)[0][1].proxy.server == "http://127.0.0.1:20001"


def test_a_session_whose_phone_is_down_waits_instead_of_going_direct(customer_a, worker):
    worker.heartbeat(devices=[phone(status="unhealthy")])
    proxy = Proxy.objects.get(source="adb")
    session_id = (
        customer_a.key_client()
        .post("/v1/sessions", {"name": "s", "proxy": proxy.id}, format="json")
        .json()["id"]
    )
    response = customer_a.key_client().post(f"/v1/sessions/{session_id}/connect")
    assert response.status_code == 503
    assert "phone proxy" in response.json()["error"]["message"]


def test_reassign_now_moves_live_sessions_to_a_healthy_pool_proxy(
    customer_a, operator, worker, django_capture_on_commit_callbacks
):
    bad = add_static(operator, host="10.0.0.1", on_unhealthy="reassign_now")["id"]
    good = add_static(operator, host="10.0.0.2")["id"]
    session = Session.objects.create(
        id="live-1",
        owner=customer_a.user,
        name="live",
        proxy_id=bad,
        status="connected",
        worker_id=worker.worker_id,
        generation=1,
    )
    with django_capture_on_commit_callbacks(execute=True):
        operator.jwt_client().patch(f"/v1/proxies/{bad}", {"status": "disabled"}, format="json")
    session.refresh_from_db()
    assert (session.proxy_id, session.status) == (good, "reconnecting")
    assert worker_commands(worker.worker_id)[-1][1].proxy.proxy_id == good


def test_stay_keeps_sessions_on_their_proxy(customer_a, operator, worker):
    bad = add_static(operator, host="10.0.0.1")["id"]
    session = Session.objects.create(
        id="live-1",
        owner=customer_a.user,
        name="live",
        proxy_id=bad,
        status="connected",
        worker_id=worker.worker_id,
        generation=1,
    )
    operator.jwt_client().patch(f"/v1/proxies/{bad}", {"status": "disabled"}, format="json")
    session.refresh_from_db()
    assert (session.proxy_id, session.status, session.generation) == (bad, "connected", 1)


def test_rotation_is_routed_to_the_phones_worker_and_its_result_recorded(
    operator, worker, django_capture_on_commit_callbacks
):
    worker.heartbeat(devices=[phone()])
    proxy = Proxy.objects.get(source="adb")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.jwt_client().post(f"/v1/proxies/{proxy.id}/rotate")
    assert response.status_code == 202 and response.json()["status"] == "rotating"
    ((_, command),) = worker_commands(worker.worker_id)
    assert isinstance(command, RotateProxy) and command.device_serial == "R58M1"
    publish_event(
        ProxyRotated(proxy_id=proxy.id, device_serial="R58M1", old_ip="203.0.113.5", new_ip="203.0.113.99"),
        source=worker.worker_id,
    )
    run_ingester()
    proxy.refresh_from_db()
    assert (proxy.status, proxy.public_ip) == ("ok", "203.0.113.99") and proxy.last_rotated_at


def test_a_failed_rotation_is_recorded_with_its_reason(operator, worker):
    worker.heartbeat(devices=[phone()])
    proxy = Proxy.objects.get(source="adb")
    Proxy.objects.filter(pk=proxy.pk).update(status="rotating")
    publish_event(
        ProxyRotationFailed(proxy_id=proxy.id, device_serial="R58M1", reason="ip_unchanged"),
        source=worker.worker_id,
    )
    run_ingester()
    proxy.refresh_from_db()
    assert proxy.status == "ok" and "ip_unchanged" in proxy.status_reason and proxy.failures == 1


def test_static_proxies_cannot_rotate(operator):
    proxy_id = add_static(operator)["id"]
    response = operator.jwt_client().post(f"/v1/proxies/{proxy_id}/rotate")
    assert response.status_code == 409


def test_policy_rotation_waits_while_a_session_is_sending(
    customer_a, worker, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from control_plane.messaging.models import Message
    from control_plane.proxies.services import proxies_rotate_due

    worker.heartbeat(devices=[phone()])
    proxy = Proxy.objects.get(source="adb")
    Proxy.objects.filter(pk=proxy.pk).update(
        rotation_interval_minutes=10, last_rotated_at=timezone.now() - timedelta(minutes=11)
    )
    session = Session.objects.create(
        id="s-1", owner=customer_a.user, name="s", proxy=proxy, status="connected"
    )
    Message.objects.create(
        session=session,
        owner=customer_a.user,
        direction="out",
        chat="1555000",
        to_number="1555000",
        text="x",
        status="dispatched",
    )
    assert proxies_rotate_due() == []
    Message.objects.update(status="sent")
    with django_capture_on_commit_callbacks(execute=True):
        assert proxies_rotate_due() == [proxy.id]
    assert isinstance(worker_commands(worker.worker_id)[0][1], RotateProxy)


def test_a_static_proxy_is_checked_through_itself(operator, echo_proxy, settings):
    from tests.fakes.phone_proxy import ECHO_URL

    settings.PROXY_CHECK_URL = ECHO_URL
    created = (
        operator.jwt_client()
        .post("/v1/proxies", {"host": "127.0.0.1", "port": echo_proxy.port}, format="json")
        .json()
    )
    response = operator.jwt_client().post(f"/v1/proxies/{created['id']}/check")
    assert response.json()["public_ip"] == "198.51.100.7"
    assert echo_proxy.echo_count == 1


def test_a_static_proxy_failing_three_checks_turns_unhealthy(operator, settings):
    from control_plane.proxies.checks import proxy_check

    settings.PROXY_CHECK_URL = "http://ip-echo.test/"
    settings.PROXY_CHECK_TIMEOUT = 0.5
    proxy = Proxy.objects.get(
        pk=operator.jwt_client()
        .post("/v1/proxies", {"host": "127.0.0.1", "port": 9}, format="json")
        .json()["id"]
    )
    for _ in range(3):
        proxy = proxy_check(proxy=proxy)
    proxy.refresh_from_db()
    assert proxy.status == "unhealthy" and "check failed" in proxy.status_reason
