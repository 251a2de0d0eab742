"""A worker registers, beats, survives a refused token and bad commands (no session needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from shared.commands import StopSession
from shared.envelope import SCHEMA_VERSION
from shared.events import CommandFailed
from tests.stack import TcpRelay, of, wait_registered, wait_until, worker_env
from tests.worker.process.conftest import SNAPSHOT_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_worker_registers_keeps_its_identity_and_heartbeats(workers):
    from control_plane.fleet.models import Worker

    worker = workers("reg", WORKER_CAPACITY="7")
    row = Worker.objects.get(pk=worker.worker_id)
    assert (row.capacity, row.environment, row.status) == (7, "test", "online")
    assert row.name == f"test {worker.worker_id}" and row.version
    identity = json.loads((worker.data_dir / "identity.json").read_text())
    assert identity["worker_id"] == worker.worker_id and identity["token"].startswith("wgw_")
    assert (worker.data_dir / "identity.json").stat().st_mode & 0o777 == 0o600
    first = row.last_heartbeat_at
    wait_until(
        lambda: Worker.objects.get(pk=worker.worker_id).last_heartbeat_at > first, 10, "a second heartbeat"
    )
    row.refresh_from_db()
    assert row.session_breakdown == {
        "connected": 0,
        "qr_required": 0,
        "connecting": 0,
        "disconnected": 0,
        "error": 0,
    }
    assert row.memory_mb > 20  # Python + the Playwright driver, measured as PSS
    assert 0 < row.memory_percent < 100


def test_a_refused_token_makes_the_worker_register_again(workers):
    from control_plane.fleet import services
    from control_plane.fleet.models import Worker, WorkerEvent

    worker = workers("token")
    old_token = json.loads((worker.data_dir / "identity.json").read_text())["token"]
    # Someone registers the same id: the worker's token stops working (401 on its next beat).
    services.worker_register(worker_id=worker.worker_id, name="impostor", capacity=1)
    revoked_at = Worker.objects.get(pk=worker.worker_id).updated_at

    def registered_again():
        row = Worker.objects.get(pk=worker.worker_id)
        return row.name == f"test {worker.worker_id}" and row.last_heartbeat_at > revoked_at

    wait_until(registered_again, 20, "the worker to register again and beat with the new token")
    new_token = json.loads((worker.data_dir / "identity.json").read_text())["token"]
    assert new_token != old_token
    registrations = WorkerEvent.objects.filter(worker_id=worker.worker_id, kind=WorkerEvent.Kind.REGISTERED)
    assert registrations.count() == 3  # the worker, the impostor, the worker again
    assert "refused this worker's token" in worker.log_text()
    assert worker.alive


def test_malformed_and_unknown_commands_are_dead_lettered_answered_and_survived(workers, wire, events):
    worker = workers("bad")
    wid = worker.worker_id
    wire.send_raw(wid, {"envelope": "{not json"})
    wire.send_raw(wid, {"something": "else"})
    unknown = {
        "id": "cmd-unknown-1",
        "type": "session.reboot",
        "schema_version": SCHEMA_VERSION,
        "sent_at": "2030-01-01T00:00:00Z",
        "reply_to": f"{wid}:reply:unknown",
        "payload": {},
    }
    wire.send_raw(wid, {"envelope": json.dumps(unknown)})
    invalid = {**unknown, "id": "cmd-invalid-1", "type": "session.stop", "reply_to": None}
    invalid["payload"] = {"session_id": "Not A Valid Id!", "generation": -1}
    wire.send_raw(wid, {"envelope": json.dumps(invalid)})
    # ...and a well-formed command afterwards is still carried out (refused: not held).
    good = wire.send(wid, StopSession(session_id="nobody-here", generation=1), reply_to=f"{wid}:reply:1")

    answer = wire.reply(f"{wid}:reply:unknown")
    assert (answer.ok, answer.code, answer.command_id) == (False, "unknown_type", "cmd-unknown-1")
    assert wire.reply(f"{wid}:reply:1").code == "not_held"
    failed = [ev for _, ev in events.wait_count(of(wid, "command.failed"), 5, 15, "command.failed")]
    assert all(isinstance(ev, CommandFailed) for ev in failed)
    by_code = sorted((ev.code, ev.command_id, ev.session_id) for ev in failed)
    assert by_code == sorted(
        [
            ("malformed", None, None),
            ("malformed", None, None),
            ("unknown_type", "cmd-unknown-1", None),
            ("invalid_payload", "cmd-invalid-1", None),
            ("not_held", good, "nobody-here"),
        ]
    )
    assert any("does not hold" in ev.reason for ev in failed)
    dead = {d["code"]: d for d in wire.dead_letters(wid)}
    assert len(wire.dead_letters(wid)) == 4
    assert set(dead) == {"malformed", "unknown_type", "invalid_payload"}
    assert dead["invalid_payload"]["raw"] == json.dumps(invalid) and dead["unknown_type"]["worker_id"] == wid
    wait_until(lambda: wire.pending(wid) == 0, 10, "every entry to be acknowledged")
    time.sleep(0.5)
    assert worker.alive


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"WAGATE_ENV": "production", "SNAPSHOT_KEY": ""}, "SNAPSHOT_KEY is not set"),
        ({"WORKER_CAPACITY": "0"}, "WORKER_CAPACITY must be between 1 and 1000 (got 0)"),
        ({"CONTROL_PLANE_URL": "ftp://x"}, "CONTROL_PLANE_URL must be an http:// or https:// URL"),
        ({"SNAPSHOT_KEY": "c2hvcnQ="}, "SNAPSHOT_KEY: the snapshot key must be 32 bytes"),
        (
            {"CHROMIUM_PATH": "/nonexistent/chromium"},
            "CHROMIUM_PATH '/nonexistent/chromium' is not an executable",
        ),
    ],
)
def test_bad_settings_stop_the_worker_at_once_with_one_line(tmp_path, overrides, message):
    env = worker_env(
        control_plane_url="http://127.0.0.1:9",
        whatsapp_url="http://127.0.0.1:9/",
        data_dir=tmp_path,
        worker_id="w-settings",
        SNAPSHOT_KEY=SNAPSHOT_KEY,
    )
    env.update(overrides)
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"wagate-worker: {message}")
    assert not (tmp_path / "identity.json").exists()


def test_the_worker_waits_for_a_control_plane_that_is_down_then_registers(workers, live_server):
    relay = TcpRelay("127.0.0.1", int(live_server.url.rsplit(":", 1)[1]))  # nothing listens yet
    worker = workers("late", wait=False, CONTROL_PLANE_URL=relay.url)
    try:
        wait_until(lambda: "register failed" in worker.log_text(), 20, "a failed registration attempt")
        assert worker.alive
        relay.up()
        wait_registered(worker)
        # Down again mid-run: heartbeats fail, the worker carries on and beats again once it is back.
        relay.down()
        wait_until(lambda: "heartbeat failed" in worker.log_text(), 30, "a failed heartbeat")
        relay.up()
        wait_registered(worker, since=time.monotonic())
    finally:
        relay.down()
    assert worker.terminate() == 0


def test_a_second_stop_signal_exits_at_once(workers, live_server):
    relay = TcpRelay("127.0.0.1", int(live_server.url.rsplit(":", 1)[1])).up()
    worker = workers("twice", CONTROL_PLANE_URL=relay.url)
    assert worker.process is not None
    try:
        relay.hang()  # the last heartbeat of the graceful stop will wait for its timeout
        os.kill(worker.process.pid, signal.SIGTERM)
        wait_until(lambda: "stopping gracefully" in worker.log_text(), 10, "the graceful stop to begin")
        time.sleep(0.5)
        os.kill(worker.process.pid, signal.SIGTERM)
        began = time.monotonic()
        assert worker.process.wait(10) == 1
        assert time.monotonic() - began < 2
    finally:
        relay.down()
    assert "SIGTERM again: exiting now" in worker.log_text()


def test_commands_sent_while_redis_is_away_are_carried_out_once_it_is_back(workers, wire, events):
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    host_port, db = redis_url.split("://", 1)[1].split("/", 1)
    host, port = host_port.rsplit(":", 1)
    relay = TcpRelay(host, int(port)).up()
    worker = workers("redis", REDIS_URL=f"redis://127.0.0.1:{relay.port}/{db}")
    wid = worker.worker_id
    try:
        relay.down()
        wait_until(lambda: "command stream unavailable" in worker.log_text(), 20, "the worker to notice")
        sent = wire.send(wid, StopSession(session_id="gone-away", generation=1), reply_to=f"{wid}:away")
        time.sleep(1)
        relay.up()
        answer = wire.reply(f"{wid}:away", within=60)
        assert (answer.command_id, answer.code) == (sent, "not_held")
        events.wait_for(
            of(wid, "command.failed", command_id=sent), 10, "the refusal, published after the outage"
        )
        wait_until(lambda: wire.pending(wid) == 0, 10, "the entry to be acknowledged")
    finally:
        relay.down()
    assert worker.alive


def test_a_refused_enrollment_token_stops_the_worker_with_a_clear_error(workers):
    worker = workers("enrol", wait=False, FLEET_ENROLLMENT_TOKEN="not-the-token")
    assert worker.process is not None and worker.process.wait(30) == 1
    assert "the worker could not start: register: 401 not_authenticated" in worker.log_text()


def test_a_command_that_never_completes_is_dead_lettered_after_five_deliveries(workers, wire, events):
    from shared import streams

    worker = workers("poison")
    wid = worker.worker_id
    assert worker.terminate() == 0
    # As if the worker had read this entry and died on it five times.
    entry = wire.send(wid, StopSession(session_id="cursed", generation=1), reply_to=f"{wid}:poison")
    stream = streams.commands_stream(wid)
    wire.redis.xreadgroup(streams.COMMANDS_GROUP, wid, {stream: ">"})
    entry_id = wire.redis.xrange(stream)[-1][0]
    for _ in range(5):
        wire.redis.xclaim(stream, streams.COMMANDS_GROUP, wid, 0, [entry_id])
    worker.start()
    answer = wire.reply(f"{wid}:poison", within=60)
    assert (answer.command_id, answer.code) == (entry, "poison")
    assert [d["code"] for d in wire.dead_letters(wid)] == ["poison"]
    _, failed = events.wait_for(of(wid, "command.failed", command_id=entry), 10, "the poison refusal")
    assert failed.command_type == "session.stop" and "delivered 7 times" in failed.reason
    wait_until(lambda: wire.pending(wid) == 0, 10, "the entry to be acknowledged")
