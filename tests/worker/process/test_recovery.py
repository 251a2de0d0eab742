"""Restarts and moves: a linked session comes back connected without a new QR scan."""

from __future__ import annotations

import time

import psutil
import pytest

from shared.commands import DropSession, LogoutSession, SendMessage, SnapshotSession, StartSession
from shared.types import SessionStatus
from tests.stack import EventReader, WorkerProcess, of, scan, wait_registered, wait_until
from tests.worker.process.conftest import make_session, new_phone, new_session_id

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CONNECTED = SessionStatus.CONNECTED


def link(worker: WorkerProcess, wire, events, simulator, owner, phone: str) -> str:
    """A session routed to ``worker``, started by command and linked by a scan; returns its id."""
    wid, sid = worker.worker_id, new_session_id()
    make_session(owner, sid, wid, generation=1)
    wire.send(wid, StartSession(session_id=sid, generation=1))
    scan(simulator.url, phone, events, wid, sid)
    events.wait_for(of(wid, "session.status", sid, status=CONNECTED), 30, "connected")
    # The control plane's ingester would record this; it is not running in these tests.
    from control_plane.sessions.models import Session

    Session.objects.filter(pk=sid).update(status=CONNECTED, phone=phone)
    return sid


def restart_and_check_restored(worker: WorkerProcess, wire, sid: str, phone: str) -> None:
    """Start the worker again: connected with the same phone, no QR, recovery reported."""
    from control_plane.sessions.models import Session

    after = EventReader(wire.redis)  # only what the new run publishes
    began = time.monotonic()
    worker.start()
    wait_registered(worker)
    wid = worker.worker_id
    _, status = after.wait_for(
        of(wid, "session.status", sid, status=CONNECTED),
        60,
        "connected after the restart",
        log=worker.log_tail(),
    )
    print(f"\nrestart to connected: {time.monotonic() - began:.2f}s")
    assert status.phone == phone
    assert not after.matching(of(wid, "session.qr", sid)), "the restored session showed a QR"
    session = wait_until(
        lambda: Session.objects.filter(pk=sid, recovery_status__gt="").first(), 30, "the recovery report"
    )
    assert session.recovery_status == "restored", session.recovery_detail
    assert session.recovery_detail == "local"


def test_sigterm_then_restart_restores_the_session_without_a_scan(workers, wire, events, simulator, owner):
    worker = workers("term")
    phone = new_phone()
    sid = link(worker, wire, events, simulator, owner, phone)
    events.wait_for(of(worker.worker_id, "session.snapshot_stored", sid), 30, "the snapshot after linking")
    send = SendMessage(session_id=sid, generation=1, message_id="m-1", to=new_phone(), text="before")
    wire.send(worker.worker_id, send, reply_to=f"{worker.worker_id}:m1")
    wire.ok(f"{worker.worker_id}:m1", within=60)

    stopping = time.monotonic()
    assert worker.terminate() == 0
    print(f"\ngraceful stop with one session: {time.monotonic() - stopping:.2f}s")
    log = worker.log_text()
    assert "shutdown: 1 snapshot(s) stored" in log and "stopped in" in log
    assert (
        "did not close cleanly" not in log and "Traceback" not in log
    )  # the group SIGTERM spared the driver
    events.poll()
    stopped = events.matching(of(worker.worker_id, "session.status", sid, status=SessionStatus.DISCONNECTED))
    assert stopped == [], "a worker shutting down does not report its sessions stopped"

    restart_and_check_restored(worker, wire, sid, phone)
    # The sent-message record survived the restart: the same id is not sent again.
    wire.send(worker.worker_id, send, reply_to=f"{worker.worker_id}:m2")
    again = wire.reply(f"{worker.worker_id}:m2", within=60)
    assert again.ok and again.data["duplicate"] is True


def test_sigkill_then_restart_restores_the_session_too(workers, wire, events, simulator, owner):
    worker = workers("kill")
    phone = new_phone()
    sid = link(worker, wire, events, simulator, owner, phone)
    left = worker.descendants()  # the Playwright driver and Chromium
    worker.kill()  # possibly in the middle of the first snapshot, with Chromium frozen
    restart_and_check_restored(worker, wire, sid, phone)

    def gone() -> bool:
        return not [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    wait_until(gone, 20, "the killed run's driver and Chromium to be gone")


def test_a_second_worker_restores_the_session_from_the_first_workers_snapshot(
    workers, wire, events, simulator, owner
):
    from control_plane.sessions.models import Session, SessionSnapshot

    first, second = workers("first"), workers("second")
    phone = new_phone()
    sid = link(first, wire, events, simulator, owner, phone)
    events.wait_for(of(first.worker_id, "session.snapshot_stored", sid), 30, "the first worker's snapshot")

    # The control plane moves the session: the old worker drops it, the new one starts it.
    Session.objects.filter(pk=sid).update(worker_id=second.worker_id, generation=2)
    wire.send(first.worker_id, DropSession(session_id=sid, generation=2), reply_to=f"{sid}:drop")
    dropped = wire.reply(f"{sid}:drop", within=30)
    assert dropped.ok and dropped.data["was_running"]
    assert not first.profile_dir(sid).exists()
    began = time.monotonic()
    wire.send(
        second.worker_id, StartSession(session_id=sid, generation=2, restore=True), reply_to=f"{sid}:start"
    )
    started = wire.reply(f"{sid}:start", within=90)
    assert started.ok and started.data["source"] == "snapshot"
    _, status = events.wait_for(
        of(second.worker_id, "session.status", sid, status=CONNECTED, generation=2),
        60,
        "connected on worker 2",
    )
    print(f"\nstart from snapshot to connected: {time.monotonic() - began:.2f}s")
    assert status.phone == phone
    assert not events.matching(of(second.worker_id, "session.qr", sid))
    after_drop = [ev for _, ev in events.matching(of(first.worker_id, session_id=sid)) if ev.generation == 2]
    assert after_drop == [], "a dropped session publishes nothing"
    # The restored session works: it sends as the same phone.
    send = SendMessage(session_id=sid, generation=2, message_id="m-9", to=new_phone(), text="moved")
    wire.send(second.worker_id, send, reply_to=f"{sid}:send")
    wire.ok(f"{sid}:send", within=60)
    # Restored from a linked profile: no upload as it connects (a restore storm would
    # spend half its CPU compressing profiles); the first one comes minutes later.
    time.sleep(2)
    assert not events.matching(of(second.worker_id, "session.snapshot_stored", sid))
    # A snapshot on demand (before a drain moves it again) is stored at the new generation.
    wire.send(second.worker_id, SnapshotSession(session_id=sid, generation=2), reply_to=f"{sid}:snap")
    snapshot = wire.reply(f"{sid}:snap", within=60)
    assert snapshot.ok and snapshot.data["generation"] == 2 and snapshot.data["size"] > 1000
    assert SessionSnapshot.objects.get(session_id=sid).sha256 == snapshot.data["sha256"]
    # Logging out unlinks the phone and wipes the profile.
    wire.send(second.worker_id, LogoutSession(session_id=sid, generation=2), reply_to=f"{sid}:logout")
    wire.ok(f"{sid}:logout", within=30)
    events.wait_for(
        of(second.worker_id, "session.status", sid, status=SessionStatus.DISCONNECTED, reason="logout"),
        10,
        "disconnected by logout",
    )
    assert not second.profile_dir(sid).exists()
