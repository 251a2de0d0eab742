"""The session runtime against the real simulator, real Playwright and real Chromium."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime

import psutil
import pytest

from shared.events import MessageAck, MessageReceived, PairingCodeIssued, QrIssued
from shared.types import AckLevel, MediaSpec, MessageKind, SessionStatus
from tests.worker.engine.conftest import link_by_qr
from worker.engine import Backoff, LaunchError, SendError

pytestmark = pytest.mark.browser

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_qr_rotates_and_session_stops_with_qr_timeout(session_factory):
    session = await session_factory(qr_max=4)  # the simulator shows 3 codes, then idles: one refresh
    log = session.log
    await log.status(SessionStatus.DISCONNECTED, "qr_timeout", within=20)
    qrs = log.of(QrIssued)
    assert [q.attempt for q in qrs] == [1, 2, 3, 4]
    assert len({q.qr for q in qrs}) == 4
    assert all(len(q.qr.split(",")) == 5 and q.qr.startswith("2@") for q in qrs)
    assert all(q.expires_at > datetime(2020, 1, 1, tzinfo=UTC) for q in qrs)
    assert log.statuses()[:2] == [(SessionStatus.CONNECTING, None), (SessionStatus.QR_READY, None)]
    assert not session.runtime.running and session.runtime.browser_pids() == []


async def test_scan_logs_in_with_the_scanning_phone(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    connected = await session.log.status(SessionStatus.CONNECTED)
    assert connected.phone == me and session.runtime.phone == me
    assert connected.platform and connected.wa_version


async def test_pairing_code_links_the_session(session_factory, phone, number):
    session = await session_factory()
    await session.log.wait_for(lambda e: isinstance(e, QrIssued))
    me = number()
    code = await session.runtime.request_pairing_code(me)
    assert len(code) == 9 and code[4] == "-"
    issued = await session.log.wait_for(lambda e: isinstance(e, PairingCodeIssued))
    assert (issued.code, issued.phone) == (code, me)
    resp = await phone.post(f"/phone/{me}/pair", json={"code": code})
    assert resp.status_code == 200, resp.text
    connected = await session.log.status(SessionStatus.CONNECTED)
    assert connected.phone == me


async def test_text_and_image_arrive_in_the_inbox_with_acks(session_factory, phone, number):
    session = await session_factory()
    me, friend = number(), number()
    await link_by_qr(session, phone, me)
    await phone.get(f"/phone/{friend}/inbox")  # the friend's phone is online: delivered acks flow
    text_id = await session.runtime.send(
        to=friend, kind=MessageKind.TEXT, text="hello", media=None, caption=None
    )
    media = MediaSpec(mimetype="image/png", filename="dot.png", data_b64=base64.b64encode(PNG).decode())
    image_id = await session.runtime.send(
        to=friend, kind=MessageKind.IMAGE, text=None, media=media, caption="a dot"
    )
    inbox = (await phone.get(f"/phone/{friend}/inbox")).json()
    assert [(m["from"], m["type"]) for m in inbox] == [(me, "text"), (me, "image")]
    assert inbox[0]["text"] == "hello"
    assert (inbox[1]["caption"], inbox[1]["mimetype"], inbox[1]["size"]) == ("a dot", "image/png", len(PNG))
    assert inbox[1]["sha256"] == hashlib.sha256(PNG).hexdigest()
    for wa_id in (text_id, image_id):
        await session.log.wait_for(
            lambda e, w=wa_id: isinstance(e, MessageAck) and e.wa_id == w and e.ack is AckLevel.DELIVERED
        )
    await phone.post(f"/phone/{friend}/read", json={"ids": [inbox[0]["id"]]})
    await session.log.wait_for(
        lambda e: isinstance(e, MessageAck) and e.wa_id == text_id and e.ack is AckLevel.READ
    )


async def test_message_from_a_phone_arrives_as_an_event(session_factory, phone, number):
    session = await session_factory()
    me, friend = number(), number()
    await link_by_qr(session, phone, me)
    await phone.post(f"/phone/{friend}/send", json={"to": me, "text": "ping"})
    got = await session.log.wait_for(lambda e: isinstance(e, MessageReceived))
    assert (got.sender, got.chat, got.kind, got.text) == (friend, friend, MessageKind.TEXT, "ping")
    assert got.session_id == "s1" and got.wa_id


async def test_unlink_from_the_phone_gives_logged_out_and_wipes_the_profile(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    await phone.post(f"/phone/{me}/unlink")
    await session.log.status(SessionStatus.DISCONNECTED, "logged_out")
    assert not session.runtime.profile_dir.exists()
    assert not session.runtime.running


@pytest.mark.e2e
async def test_killed_chromium_comes_back_connected_without_a_new_qr(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    qrs_before = len(session.log.of(QrIssued))
    pids = session.runtime.browser_pids()
    assert len(pids) >= 3
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    await session.log.status(SessionStatus.RECONNECTING, "browser_crashed")
    events_before = len(session.log.events)
    await session.log.wait_for(
        lambda e: (
            e in session.log.events[events_before:] and getattr(e, "status", None) is SessionStatus.CONNECTED
        )
    )
    assert len(session.log.of(QrIssued)) == qrs_before
    assert session.runtime.phone == me and not set(pids) & set(session.runtime.browser_pids())
    friend = number()
    await session.runtime.send(to=friend, kind=MessageKind.TEXT, text="still here", media=None, caption=None)
    assert (await phone.get(f"/phone/{friend}/inbox")).json()[0]["text"] == "still here"


@pytest.mark.e2e
async def test_dropped_connection_reconnects_then_reloads_a_page_that_stays_offline(
    session_factory, phone, number
):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    qrs_before = len(session.log.of(QrIssued))
    browser = (await phone.get("/_sim/browsers", params={"phone": me})).json()[0]
    # Refused reconnects for longer than the grace period: the runtime must reload the page.
    await phone.post(f"/_sim/browsers/{browser['browser_id']}/drop", json={"block_s": 2.5})
    await session.log.status(SessionStatus.RECONNECTING, "connection_lost")
    count = len(session.log.events)

    def reconnected(e):
        return e in session.log.events[count:] and getattr(e, "status", None) is SessionStatus.CONNECTED

    await session.log.wait_for(reconnected, within=20)
    assert len(session.log.of(QrIssued)) == qrs_before
    friend = number()
    await session.runtime.send(to=friend, kind=MessageKind.TEXT, text="back", media=None, caption=None)
    assert (await phone.get(f"/phone/{friend}/inbox")).json()[0]["text"] == "back"


async def test_stop_keeps_the_profile_and_a_restart_needs_no_scan(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    await session.runtime.stop()
    assert session.runtime.profile_dir.exists()
    await session.log.status(SessionStatus.DISCONNECTED, "stopped")
    again = await session_factory(profile_dir=session.runtime.profile_dir)
    connected = await again.log.status(SessionStatus.CONNECTED)
    assert connected.phone == me and again.log.of(QrIssued) == []


async def test_logout_unlinks_from_the_phone_and_wipes_the_profile(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    await session.runtime.logout()
    await session.log.status(SessionStatus.DISCONNECTED, "logout")
    assert not session.runtime.profile_dir.exists()
    browsers = (await phone.get("/_sim/browsers", params={"phone": me})).json()
    assert browsers == []
    assert "logged_out" not in [r for _, r in session.log.statuses()]


async def test_refused_send_raises_a_typed_error(session_factory, phone, number):
    session = await session_factory()
    await link_by_qr(session, phone, number())
    await phone.post("/_sim/faults", json={"refuse_sends": {"count": 1, "reason": "spam filter"}})
    with pytest.raises(SendError) as caught:
        await session.runtime.send(to=number(), kind=MessageKind.TEXT, text="x", media=None, caption=None)
    assert caught.value.code == "refused" and "spam filter" in caught.value.reason


async def test_send_before_login_is_refused_as_not_connected(session_factory):
    session = await session_factory()
    await session.log.wait_for(lambda e: isinstance(e, QrIssued))
    with pytest.raises(SendError) as caught:
        await session.runtime.send(
            to="15550001111", kind=MessageKind.TEXT, text="x", media=None, caption=None
        )
    assert caught.value.code == "not_connected" and caught.value.retryable


async def test_stop_leaves_no_chromium_processes_or_zombies(session_factory):
    session = await session_factory()
    await session.log.wait_for(lambda e: isinstance(e, QrIssued))
    pids = session.runtime.browser_pids()
    names = {psutil.Process(p).name() for p in pids}
    # The subreaper makes the crashpad handlers (which leave Chromium's tree) ours to reap.
    assert "chromium" in names and any(n.startswith("chrome_crashpad") for n in names)
    await session.runtime.stop()
    leftovers = []
    for pid in pids:
        try:
            leftovers.append((pid, psutil.Process(pid).status()))
        except psutil.NoSuchProcess:
            continue
    assert leftovers == []  # neither running nor zombie: exited and reaped


async def test_pairing_phone_given_at_construction_requests_a_code_by_itself(session_factory, phone, number):
    me = number()
    session = await session_factory(pairing_phone=me)
    issued = await session.log.wait_for(lambda e: isinstance(e, PairingCodeIssued))
    assert issued.phone == me
    resp = await phone.post(f"/phone/{me}/pair", json={"code": issued.code})
    assert resp.status_code == 200, resp.text
    assert (await session.log.status(SessionStatus.CONNECTED)).phone == me


async def test_trim_memory_keeps_the_session_working(session_factory, phone, number):
    session = await session_factory()
    await link_by_qr(session, phone, number())
    await session.runtime.trim_memory()
    friend = number()
    await session.runtime.send(to=friend, kind=MessageKind.TEXT, text="after trim", media=None, caption=None)
    assert (await phone.get(f"/phone/{friend}/inbox")).json()[0]["text"] == "after trim"
    assert session.runtime.status is SessionStatus.CONNECTED


async def test_start_with_a_missing_chromium_fails_with_error_status(session_factory, engine_config):
    broken = replace(
        engine_config, chromium_path="/nonexistent/chromium", relaunch=Backoff(initial=0.05, attempts=2)
    )
    session = await session_factory(start=False, config=broken)
    with pytest.raises(LaunchError):
        await session.runtime.start()
    error = await session.log.status(SessionStatus.ERROR)
    assert error.reason.startswith("launch_failed")


async def test_relaunch_gives_up_after_bounded_attempts_with_error(session_factory, phone, number):
    session = await session_factory()
    await link_by_qr(session, phone, number())
    # From now on Chromium cannot start again: every relaunch fails.
    session.runtime.config = replace(session.runtime.config, chromium_path="/nonexistent/chromium")
    for pid in session.runtime.browser_pids():
        os.kill(pid, signal.SIGKILL)
    error = await session.log.status(SessionStatus.ERROR, within=20)
    assert error.reason.startswith("browser_crashed: gave up after 3 relaunches")
    assert not session.runtime.running


async def test_page_offline_for_too_long_ends_in_error(session_factory, engine_config, phone, number):
    impatient = replace(engine_config, reconnect_grace=0.5, reconnect=Backoff(initial=0.3, attempts=2))
    session = await session_factory(config=impatient)
    me = number()
    await link_by_qr(session, phone, me)
    browser = (await phone.get("/_sim/browsers", params={"phone": me})).json()[0]
    await phone.post(f"/_sim/browsers/{browser['browser_id']}/drop", json={"block_s": 60})
    error = await session.log.status(SessionStatus.ERROR, within=20)
    assert error.reason.startswith("connection_lost")
    await phone.post(f"/_sim/browsers/{browser['browser_id']}/drop", json={"block_s": 0})


async def test_page_sees_a_normal_desktop_user_agent(session_factory, phone, number):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    browser = (await phone.get("/_sim/browsers", params={"phone": me})).json()[0]
    assert "HeadlessChrome" not in browser["user_agent"] and "Chrome/" in browser["user_agent"]


async def test_qr_page_that_loses_its_connection_is_reloaded_then_gives_up(
    session_factory, engine_config, phone
):
    impatient = replace(engine_config, reconnect_grace=0.5, reconnect=Backoff(initial=0.3, attempts=2))
    session = await session_factory(config=impatient, qr_max=50)
    first = await session.log.wait_for(lambda e: isinstance(e, QrIssued))
    waiting = (await phone.get("/_sim/browsers", params={"waiting": "1"})).json()
    identity = first.qr.split(",")[2]  # the browser's own key: stable while the reference rotates
    browser_id = next(b["browser_id"] for b in waiting if b["qr"] and b["qr"].split(",")[2] == identity)
    await phone.post(f"/_sim/browsers/{browser_id}/drop", json={"block_s": 60})
    error = await session.log.status(SessionStatus.ERROR, within=20)
    assert error.reason.startswith("connection_lost")
    await phone.post(f"/_sim/browsers/{browser_id}/drop", json={"block_s": 0})


async def test_message_sent_while_the_session_was_down_arrives_after_restart(session_factory, phone, number):
    session = await session_factory()
    me, friend = number(), number()
    await link_by_qr(session, phone, me)
    await session.runtime.stop()
    await phone.post(f"/phone/{friend}/send", json={"to": me, "text": "while you were away"})
    again = await session_factory(profile_dir=session.runtime.profile_dir)
    got = await again.log.wait_for(lambda e: isinstance(e, MessageReceived))
    assert (got.sender, got.text) == (friend, "while you were away")
    await again.log.status(SessionStatus.CONNECTED)
    assert len(again.log.of(MessageReceived)) == 1


async def test_stop_during_a_relaunch_leaves_no_chromium_behind(session_factory, phone, number):
    session = await session_factory()
    await link_by_qr(session, phone, number())
    for pid in session.runtime.browser_pids():
        os.kill(pid, signal.SIGKILL)
    await session.log.status(SessionStatus.RECONNECTING, "browser_crashed")
    await asyncio.sleep(0.3)  # about when the relaunch is under way
    await session.runtime.stop()
    profile = str(session.runtime.profile_dir.resolve())
    left = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if f"--user-data-dir={profile}" in proc.cmdline():
                left.append(proc.pid)
        except psutil.Error:  # zombies and processes that just exited have no command line
            continue
    assert left == []
    assert session.runtime.status is SessionStatus.DISCONNECTED
