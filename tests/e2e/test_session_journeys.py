"""The customer's core journey against the real stack: control plane, ingester,
Celery, Redis, PostgreSQL, two workers, Chromium and the simulator."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import access_token
from tests.stack import wait_until
from tests.wholestack import WholeStack, whole_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(stack_database: str, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[WholeStack]:
    with whole_stack(
        "sessions",
        django_db_blocker=django_db_blocker,
        logs=tmp_path_factory.mktemp("sessions"),
        workers=2,
        celery=True,
    ) as running:
        yield running


def test_create_connect_qr_scan_connected_with_history(stack: WholeStack, live_feed: Any) -> None:
    alice = stack.customer()
    feed = live_feed(stack, access_token(alice))
    wait_until(lambda: feed.events("hello"), 10, f"the websocket's hello (got {feed.messages})")
    session_id = stack.session(alice, "Journey")
    assert alice.api.post(f"/v1/sessions/{session_id}/connect").json()["status"] == "connecting"
    stack.wait_status(alice, session_id, "qr_ready")
    qr = alice.api.get(f"/v1/sessions/{session_id}/qr").json()
    assert qr["image"].startswith("data:image/png;base64,") and qr["qr"].count(",") == 4
    assert alice.api.get(f"/v1/sessions/{session_id}/qr.png").content[:4] == b"\x89PNG"
    wait_until(lambda: feed.events("session.qr", session_id), 20, "the QR on the websocket")
    scanned = httpx.post(
        f"{stack.sim_url}/phone/15551110001/scan",
        json={"qr": alice.api.get(f"/v1/sessions/{session_id}/qr").json()["qr"]},
        timeout=10,
    )
    assert scanned.status_code == 200, scanned.text
    body = stack.wait_status(alice, session_id, "connected")
    assert body["phone"] == "15551110001" and body["worker"]
    wait_until(
        lambda: any(m["data"]["status"] == "connected" for m in feed.events("session.status", session_id)),
        20,
        "connected on the websocket",
    )
    history = [
        e["to_status"] for e in reversed(alice.api.get(f"/v1/sessions/{session_id}/events").json()["results"])
    ]
    assert history[:2] == ["disconnected", "connecting"]
    assert "qr_ready" in history and history[-1] == "connected"
    assert alice.api.get(f"/v1/sessions/{session_id}/qr").status_code == 409  # no longer waiting


def test_qr_refreshes_are_pushed(stack: WholeStack, live_feed: Any) -> None:
    bob = stack.customer()
    feed = live_feed(stack, access_token(bob), "")
    session_id = stack.session(bob, "Rotating")
    bob.api.post(f"/v1/sessions/{session_id}/connect")
    wait_until(
        lambda: len({m["data"]["qr"] for m in feed.events("session.qr", session_id)}) >= 2,
        30,
        "two different QR codes on the websocket",
    )
    attempts = [m["data"]["attempt"] for m in feed.events("session.qr", session_id)]
    assert attempts == sorted(attempts)
    bob.api.post(f"/v1/sessions/{session_id}/disconnect")


def test_linking_with_a_pairing_code(stack: WholeStack) -> None:
    carol = stack.customer()
    session_id = stack.session(carol, "Paired")
    carol.api.post(f"/v1/sessions/{session_id}/connect")
    stack.wait_status(carol, session_id, "qr_ready")
    response = carol.api.post(f"/v1/sessions/{session_id}/pairing-code", json={"phone": "+1 555 111 0002"})
    assert response.status_code == 200, response.text
    code = response.json()["code"]
    assert len(code.replace("-", "")) == 8
    paired = httpx.post(f"{stack.sim_url}/phone/15551110002/pair", json={"code": code}, timeout=10)
    assert paired.status_code == 200, paired.text
    assert stack.wait_status(carol, session_id, "connected")["phone"] == "15551110002"


def test_another_customer_gets_404_everywhere_and_sees_nothing_live(
    stack: WholeStack, live_feed: Any
) -> None:
    owner, stranger = stack.customer(), stack.customer()
    spy = live_feed(stack, access_token(stranger))
    session_id = stack.session(owner, "Private")
    owner.api.post(f"/v1/sessions/{session_id}/connect")
    stack.wait_status(owner, session_id, "qr_ready")
    for method, suffix in [
        ("get", ""),
        ("get", "/qr"),
        ("get", "/qr.png"),
        ("get", "/events"),
        ("post", "/connect"),
        ("post", "/disconnect"),
        ("post", "/restart"),
        ("get", "/messages"),
        ("delete", ""),
    ]:
        response = stranger.api.request(method.upper(), f"/v1/sessions/{session_id}{suffix}")
        assert response.status_code == 404, (method, suffix, response.text)
    with pytest.raises(Exception):  # noqa: B017 - the server refuses the subscription
        live_feed(stack, access_token(stranger), f"&session={session_id}").socket.recv(timeout=5)
    time.sleep(1)
    assert not [m for m in spy.messages if m.get("session") == session_id]
    owner.api.post(f"/v1/sessions/{session_id}/disconnect")


def test_a_worker_that_does_not_answer_gives_504(stack: WholeStack) -> None:
    dave = stack.customer()
    session_id = stack.session(dave, "Frozen")
    dave.api.post(f"/v1/sessions/{session_id}/connect")
    worker_id = stack.wait_status(dave, session_id, "qr_ready")["worker"]
    worker = next(w for w in stack.workers if w.worker_id == worker_id)
    os.kill(worker.process.pid, signal.SIGSTOP)
    try:
        response = dave.api.post(
            f"/v1/sessions/{session_id}/pairing-code", json={"phone": "15551110003"}, timeout=60
        )
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "worker_timeout"
    dave.api.post(f"/v1/sessions/{session_id}/disconnect")


def test_the_ingester_killed_mid_stream_loses_and_duplicates_nothing(stack: WholeStack) -> None:
    erin = stack.customer()
    session_id = stack.session(erin, "Ingest")
    erin.api.post(f"/v1/sessions/{session_id}/connect")
    stack.wait_status(erin, session_id, "qr_ready")
    os.kill(stack.processes["ingester"].process.pid, signal.SIGKILL)
    stack.processes["ingester"].process.wait(10)
    qr = erin.api.get(f"/v1/sessions/{session_id}/qr").json()["qr"]
    assert (
        httpx.post(f"{stack.sim_url}/phone/15551110004/scan", json={"qr": qr}, timeout=10).status_code == 200
    )
    time.sleep(3)  # the worker reports while no ingester runs: events wait in the stream
    assert erin.api.get(f"/v1/sessions/{session_id}").json()["status"] != "connected"
    stack.restart("ingester")
    stack.wait_status(erin, session_id, "connected")
    history = [e["to_status"] for e in erin.api.get(f"/v1/sessions/{session_id}/events").json()["results"]]
    assert history.count("connected") == 1
    from control_plane.core.models import ProcessedEvent

    with stack.db():
        assert ProcessedEvent.objects.count() == len(set(ProcessedEvent.objects.values_list("id", flat=True)))


def test_a_killed_worker_fails_over_without_a_scan(stack: WholeStack) -> None:
    frank = stack.customer()
    session_id = stack.session(frank, "Survivor")
    first = stack.link(frank, session_id, "15551110005")
    victim = next(w for w in stack.workers if w.worker_id == first["worker"])
    time.sleep(3)  # a snapshot is uploaded right after linking
    stack.crash(victim)

    def moved() -> dict | None:
        body = frank.api.get(f"/v1/sessions/{session_id}").json()
        return body if body["status"] == "connected" and body["worker"] != first["worker"] else None

    after = wait_until(moved, 90, "the session connected on another worker")
    assert after["phone"] == "15551110005"
    reasons = " ".join(
        e["reason"] for e in frank.api.get(f"/v1/sessions/{session_id}/events").json()["results"]
    )
    assert "lost" in reasons
    assert not [
        e
        for e in frank.api.get(f"/v1/sessions/{session_id}/events").json()["results"]
        if e["to_status"] == "qr_ready" and e["worker"] != first["worker"]
    ]
