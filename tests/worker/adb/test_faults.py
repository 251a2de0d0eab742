"""Faults: every way a phone or the ADB server can fail ends in a clear status, in bounded time."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from tests.fakes import FakePhone, Fault
from tests.worker.adb.conftest import CALL_DEADLINE, by_serial
from worker.adb.client import AdbGateway
from worker.adb.errors import AdbCallError

# A check makes at most a few calls before the failing one stops it; each is bounded by CALL_DEADLINE.
BOUND = 3 * CALL_DEADLINE


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        pytest.param(FakePhone("P", state="unauthorized"), "unauthorized", id="unauthorized"),
        pytest.param(FakePhone("P", state="offline"), "offline", id="offline"),
        pytest.param(
            FakePhone("P", faults=[Fault("drop_mid", "dumpsys battery")]),
            "disconnected",
            id="fin-mid-command",
        ),
        pytest.param(
            FakePhone("P", faults=[Fault("reset", "dumpsys battery")]), "disconnected", id="rst-mid-command"
        ),
        pytest.param(
            FakePhone("P", faults=[Fault("hang_transport")]), "timeout", id="hang-before-okay-transport"
        ),
        pytest.param(
            FakePhone("P", faults=[Fault("hang_before_okay", "dumpsys battery")]),
            "timeout",
            id="hang-before-shell-okay",
        ),
        pytest.param(
            FakePhone("P", faults=[Fault("hang_after_okay", "dumpsys battery")]),
            "timeout",
            id="hang-after-okay",
        ),
    ],
)
async def test_fault_ends_in_a_clear_status_within_the_deadline(
    fake_adb, make_settings, make_controller, phone, reason
):
    healthy = FakePhone("HEALTHY")
    adb = fake_adb(phone, healthy)
    controller = make_controller(make_settings(adb))

    started = time.monotonic()
    devices = by_serial(await controller.refresh())
    elapsed = time.monotonic() - started

    assert (devices["P"]["status"], devices["P"]["reason"]) == ("unhealthy", reason), devices["P"]
    assert devices["HEALTHY"]["status"] == "ok"  # one bad phone does not hold the others back
    assert elapsed < BOUND


async def test_hang_on_host_version_is_bounded(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("P"))
    adb.hang_version = True  # every shell starts with host:version
    controller = make_controller(make_settings(adb))

    started = time.monotonic()
    device = by_serial(await controller.refresh())["P"]

    assert device["reason"] == "timeout"
    assert time.monotonic() - started < BOUND


async def test_timed_out_call_leaves_no_connection_or_thread_behind(fake_adb, make_settings):
    # adbutils would wait 600 s on this one (open_transport's default timeout).
    adb = fake_adb(FakePhone("P", faults=[Fault("hang_transport")]))
    gateway = AdbGateway(make_settings(adb))

    started = time.monotonic()
    with pytest.raises(AdbCallError) as caught:
        await gateway.shell("P", "dumpsys battery")

    assert caught.value.code == "timeout" and caught.value.retryable
    assert time.monotonic() - started < 2 * CALL_DEADLINE
    for _ in range(40):  # the fake's hang ends only when the client socket closes
        if adb.open_connections == 0:
            break
        await asyncio.sleep(0.05)
    assert adb.open_connections == 0
    await gateway.aclose()
    for _ in range(40):
        if not [t for t in threading.enumerate() if t.name.startswith("wagate-adb")]:
            break
        await asyncio.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("wagate-adb")]


async def test_gateway_maps_fails_to_codes(fake_adb, make_settings):
    adb = fake_adb(FakePhone("P", state="unauthorized"))
    gateway = AdbGateway(make_settings(adb))

    with pytest.raises(AdbCallError) as unauthorized:
        await gateway.shell("P", "echo hi")
    with pytest.raises(AdbCallError) as unknown:
        await gateway.shell("NOPE", "echo hi")
    await gateway.aclose()

    assert unauthorized.value.code == "unauthorized" and not unauthorized.value.retryable
    assert unknown.value.code == "absent"


async def test_shell_v2_gives_exit_code_and_stderr(fake_adb, make_settings):
    adb = fake_adb(FakePhone("P"))
    gateway = AdbGateway(make_settings(adb))

    ok = await gateway.shell("P", "echo hello")
    missing = await gateway.shell("P", "frobnicate now")
    await gateway.aclose()

    assert (ok.code, ok.text) == (0, "hello")
    assert missing.code == 127 and "frobnicate: inaccessible or not found" in missing.stderr


async def test_phone_recovers_after_a_transient_fault(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("P", faults=[Fault("hang_after_okay", "dumpsys battery", times=1)]))
    controller = make_controller(make_settings(adb))

    assert by_serial(await controller.refresh())["P"]["reason"] == "timeout"
    assert by_serial(await controller.refresh())["P"]["status"] == "ok"


def test_missing_adbutils_path_defaults_to_a_harmless_binary(make_settings, monkeypatch):
    monkeypatch.delenv("ADBUTILS_ADB_PATH")

    AdbGateway(make_settings(None))

    assert os.environ["ADBUTILS_ADB_PATH"] == "/bin/true"
