"""Commands on the real wire: start, capacity, fencing, and sending exactly once."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.commands import RequestPairingCode, SendMessage, StartSession, StopSession
from shared.events import MessageSent, QrIssued
from shared.types import MediaSpec, MessageKind, SessionStatus
from tests.stack import free_port, of, scan, types_of, wait_until
from tests.worker.process.conftest import make_session, new_phone, new_session_id

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_start_by_command_publishes_qr_and_status_events(workers, wire, events, owner, simulator):
    from control_plane.fleet.models import Worker
    from control_plane.sessions.models import Session

    worker = workers("start")
    wid, sid = worker.worker_id, new_session_id()
    make_session(owner, sid, wid, generation=3)
    began = time.monotonic()
    command_id = wire.send(wid, StartSession(session_id=sid, generation=3), reply_to=f"{wid}:reply:start")

    result = wire.reply(f"{wid}:reply:start", within=90)
    assert (result.ok, result.command_id, result.data["source"]) == (True, command_id, "none")
    envelope, qr = events.wait_for(of(wid, "session.qr", sid), 60, "a first QR")
    print(f"\nstart command to first QR: {time.monotonic() - began:.2f}s")
    assert isinstance(qr, QrIssued) and (qr.attempt, qr.generation) == (1, 3)
    assert envelope.source == wid and qr.qr.startswith("2@")
    events.wait_for(of(wid, "session.qr", sid, attempt=2), 30, "the QR to rotate")
    statuses = [ev for _, ev in events.matching(of(wid, "session.status", sid))]
    assert [(s.status, s.generation) for s in statuses[:2]] == [
        (SessionStatus.CONNECTING, 3),
        (SessionStatus.QR_READY, 3),
    ]
    ids = [env.id for env, _ in events.matching(of(wid))]
    assert len(ids) == len(set(ids))  # every event has its own id (the ingester de-duplicates by it)

    def resources_reported():
        session = Session.objects.get(pk=sid)
        return session if session.memory_mb and session.last_health_check else None

    session = wait_until(resources_reported, 20, "the session's memory in a heartbeat")
    assert 30 < session.memory_mb < 2000  # PSS of this session's Chromium tree
    row = Worker.objects.get(pk=wid)
    print(f"session PSS {session.memory_mb} MB, worker tree {row.memory_mb} MB")
    assert row.session_breakdown["qr_required"] == 1
    assert row.memory_mb > session.memory_mb  # the whole tree includes the session

    # A session waiting for a link can be linked with a pairing code instead (request/reply).
    phone = new_phone()
    wire.send(
        wid, RequestPairingCode(session_id=sid, generation=3, phone=phone), reply_to=f"{wid}:reply:code"
    )
    code = wire.reply(f"{wid}:reply:code", within=30)
    assert code.ok and len(code.data["code"]) == 9 and code.data["code"][4] == "-"
    _, issued = events.wait_for(of(wid, "session.pairing_code", sid), 10, "the pairing code event")
    assert (issued.code, issued.phone) == (code.data["code"], phone)
    linked = httpx.post(f"{simulator.url}/phone/{phone}/pair", json={"code": issued.code}, timeout=10)
    assert linked.status_code == 200, linked.text
    events.wait_for(of(wid, "session.status", sid, status=SessionStatus.CONNECTED, phone=phone), 30, "linked")


def test_capacity_is_enforced(workers, wire, events, owner):
    worker = workers("full", WORKER_CAPACITY="1")
    wid, first, second = worker.worker_id, new_session_id("one"), new_session_id("two")
    wire.send(wid, StartSession(session_id=first, generation=1), reply_to=f"{wid}:r1")
    wire.ok(f"{wid}:r1", within=90)
    wire.send(wid, StartSession(session_id=second, generation=1), reply_to=f"{wid}:r2")

    refused = wire.reply(f"{wid}:r2")
    assert (refused.ok, refused.code) == (False, "capacity")
    assert "1 of 1" in refused.reason
    _, failed = events.wait_for(of(wid, "command.failed", session_id=second), 10, "the refusal event")
    assert failed.code == "capacity" and failed.command_type == "session.start"
    assert not events.matching(of(wid, "session.status", second))
    # A stopped session frees its slot.
    wire.send(wid, StopSession(session_id=first, generation=1, reason="customer_stop"), reply_to=f"{wid}:r3")
    wire.ok(f"{wid}:r3", within=60)
    events.wait_for(
        of(wid, "session.status", first, status=SessionStatus.DISCONNECTED, reason="customer_stop"),
        10,
        "the stopped status with the command's reason",
    )
    wire.send(wid, StartSession(session_id=second, generation=1), reply_to=f"{wid}:r4")
    wire.ok(f"{wid}:r4", within=90)


def test_an_older_generation_is_refused_and_a_newer_start_takes_over(workers, wire, events):
    worker = workers("fence")
    wid, sid = worker.worker_id, new_session_id()
    wire.send(wid, StartSession(session_id=sid, generation=5), reply_to=f"{wid}:r1")
    wire.ok(f"{wid}:r1", within=90)
    events.wait_for(of(wid, "session.status", sid, status=SessionStatus.QR_READY), 30, "qr_ready")

    wire.send(wid, StopSession(session_id=sid, generation=4), reply_to=f"{wid}:r2")
    stale = wire.reply(f"{wid}:r2")
    assert (stale.ok, stale.code) == (False, "stale_generation")
    _, failed = events.wait_for(of(wid, "command.failed", session_id=sid), 10, "the stale refusal")
    assert failed.code == "stale_generation" and "older than 5" in failed.reason

    wire.send(wid, StartSession(session_id=sid, generation=6), reply_to=f"{wid}:r3")
    takeover = wire.reply(f"{wid}:r3")
    assert takeover.ok and takeover.data["already_running"] and takeover.data["generation"] == 6
    events.wait_for(of(wid, "session.status", sid, generation=6, status=SessionStatus.QR_READY), 10, "gen 6")
    events.wait_for(of(wid, "session.qr", sid, generation=6), 30, "a QR under the new generation")
    stopped = events.matching(of(wid, "session.status", sid, status=SessionStatus.DISCONNECTED))
    assert stopped == []  # the stale stop did nothing
    wire.send(wid, StopSession(session_id=sid, generation=5), reply_to=f"{wid}:r4")
    assert wire.reply(f"{wid}:r4").code == "stale_generation"


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[str]:
    """A URL on loopback that answers ``body`` (an image a customer links to)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/dot.png"
    finally:
        server.shutdown()
        server.server_close()


def test_a_message_is_sent_once_even_when_the_command_comes_twice(workers, wire, events, simulator, owner):
    worker = workers("send", SNAPSHOT_INTERVAL="5")
    wid, sid = worker.worker_id, new_session_id()
    make_session(owner, sid, wid)
    me, friend = new_phone(), new_phone()
    wire.send(wid, StartSession(session_id=sid, generation=1))
    scan(simulator.url, me, events, wid, sid)
    events.wait_for(of(wid, "session.status", sid, status=SessionStatus.CONNECTED), 30, "connected")

    send = SendMessage(session_id=sid, generation=1, message_id="msg-1", to=friend, text="hello once")
    wire.send(wid, send, reply_to=f"{wid}:m1")
    first = wire.reply(f"{wid}:m1", within=60)
    assert first.ok and first.data["duplicate"] is False and first.data["wa_id"]
    wire.send(wid, send, reply_to=f"{wid}:m2")
    again = wire.reply(f"{wid}:m2", within=60)
    assert again.ok and again.data == {**first.data, "duplicate": True}

    events.wait_for(of(wid, "message.sent", sid, duplicate=True), 10, "the duplicate's message.sent")
    sent = [ev for _, ev in events.matching(of(wid, "message.sent", sid, message_id="msg-1"))]
    assert [(e.wa_id, e.duplicate) for e in sent] == [
        (first.data["wa_id"], False),
        (first.data["wa_id"], True),
    ]
    assert isinstance(sent[0], MessageSent) and sent[0].at == sent[1].at
    inbox = httpx.get(f"{simulator.url}/phone/{friend}/inbox", timeout=10).json()
    assert [m["text"] for m in inbox] == ["hello once"]
    assert "msg-1" in (worker.profile_dir(sid) / "wagate" / "sent.jsonl").read_text()

    # Media by URL is fetched by the worker and handed to the page inline.
    with serving(PNG) as url:
        media = MediaSpec(mimetype="image/png", filename="dot.png", url=url)
        image = SendMessage(
            session_id=sid, generation=1, message_id="msg-2", to=friend, kind=MessageKind.IMAGE, media=media
        )
        wire.send(wid, image, reply_to=f"{wid}:m3")
        wire.ok(f"{wid}:m3", within=60)
    inbox = httpx.get(f"{simulator.url}/phone/{friend}/inbox", timeout=10).json()
    assert inbox[-1]["type"] == "image" and inbox[-1]["sha256"] == hashlib.sha256(PNG).hexdigest()

    bad = SendMessage(session_id=sid, generation=1, message_id="msg-3", to=friend, kind=MessageKind.IMAGE)
    wire.send(wid, bad, reply_to=f"{wid}:m4")
    failed = wire.reply(f"{wid}:m4")
    assert (failed.ok, failed.code) == (False, "media_invalid")
    _, event = events.wait_for(of(wid, "message.failed", sid, message_id="msg-3"), 10, "message.failed")
    assert event.code == "media_invalid"
    assert "command.failed" not in types_of(events.matching(of(wid, session_id=sid)))
    # Linked sessions are snapshotted again every SNAPSHOT_INTERVAL (5 s here).
    events.wait_count(of(wid, "session.snapshot_stored", sid), 2, 15, "(a periodic snapshot after the first)")
    assert all(ev.generation == 1 for _, ev in events.matching(of(wid, "session.status")))
