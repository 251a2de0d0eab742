"""Phones on the worker's host: devices in heartbeats, proxy.rotate through the real controller
(real adbutils against the protocol-level fake ADB server, tests/fakes)."""

from __future__ import annotations

import pytest

from shared.commands import RotateProxy
from tests.fakes import ECHO_URL, FakeAdbServer, FakePhone
from tests.stack import free_port, of, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def adb_server():
    server = FakeAdbServer([FakePhone("R58M1", ip_pool=["203.0.113.10", "203.0.113.20"])]).start()
    yield server
    server.stop()


def adb_env(server: FakeAdbServer) -> dict[str, str]:
    return {
        "WAGATE_ADB_ENABLED": "true",
        "ADBUTILS_ADB_PATH": "/bin/true",
        "WAGATE_ADB_SERVER_PORT": str(server.port),
        "WAGATE_ADB_ECHO_URLS": ECHO_URL,
        "WAGATE_ADB_FORWARD_BASE_PORT": str(free_port()),
        "WAGATE_ADB_FORWARD_PORT_COUNT": "1",
        "WAGATE_ADB_OFF_TIMES": "0.05",
        "WAGATE_ADB_COMMAND_TIMEOUT": "2",
        "WAGATE_ADB_CALL_DEADLINE": "2",
        "WAGATE_ADB_HTTP_TIMEOUT": "2",
        "WAGATE_ADB_LINK_TIMEOUT": "3",
        "WAGATE_ADB_IP_CHANGE_TIMEOUT": "5",
    }


def test_attached_phones_are_reported_and_rotated_on_command(workers, wire, events, adb_server):
    from control_plane.fleet.models import Worker

    worker = workers("adb", **adb_env(adb_server))

    def phone_reported():
        devices = Worker.objects.get(pk=worker.worker_id).devices
        return devices if devices and devices[0]["status"] == "ok" else None

    devices = wait_until(phone_reported, 20, "the phone in a heartbeat")
    assert (devices[0]["serial"], devices[0]["public_ip"]) == ("R58M1", "203.0.113.10")
    assert devices[0]["proxy_url"].startswith("http://127.0.0.1:")

    wire.send(
        worker.worker_id,
        RotateProxy(proxy_id="prx_1", device_serial="R58M1"),
        reply_to=f"{worker.worker_id}:r1",
    )
    result = wire.reply(f"{worker.worker_id}:r1", within=60)
    assert result.ok and result.data["new_ip"] == "203.0.113.20"
    _, rotated = events.wait_for(of(worker.worker_id, "proxy.rotated"), 10, "proxy.rotated")
    assert (rotated.proxy_id, rotated.old_ip, rotated.new_ip) == ("prx_1", "203.0.113.10", "203.0.113.20")

    wire.send(
        worker.worker_id,
        RotateProxy(proxy_id="prx_2", device_serial="NOPE"),
        reply_to=f"{worker.worker_id}:r2",
    )
    missing = wire.reply(f"{worker.worker_id}:r2", within=30)
    assert (missing.ok, missing.code) == (False, "device_unavailable")
    _, failed = events.wait_for(of(worker.worker_id, "proxy.rotation_failed"), 10, "proxy.rotation_failed")
    assert (failed.device_serial, failed.code) == ("NOPE", "device_unavailable")


def test_without_an_adb_controller_rotation_is_refused_as_unsupported(workers, wire, events):
    worker = workers("noadb")
    wire.send(
        worker.worker_id,
        RotateProxy(proxy_id="prx_1", device_serial="R58M1"),
        reply_to=f"{worker.worker_id}:r1",
    )
    refused = wire.reply(f"{worker.worker_id}:r1")
    assert (refused.ok, refused.code) == (False, "unsupported")
    _, failed = events.wait_for(of(worker.worker_id, "command.failed"), 10, "command.failed")
    assert failed.code == "unsupported" and "WAGATE_ADB_ENABLED" in failed.reason
