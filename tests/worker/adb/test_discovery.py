"""Discovery: phones and their ADB states, as the heartbeat reports them."""

from __future__ import annotations

import asyncio
import time

from tests.fakes import FakePhone
from tests.worker.adb.conftest import by_serial


async def test_refresh_reports_each_state_and_a_healthy_phone(fake_adb, make_settings, make_controller):
    adb = fake_adb(
        FakePhone("R58M1", model="SM-G973F", battery_level=77, temperature=31.4, signal_level=2),
        FakePhone("R58M2", state="unauthorized"),
        FakePhone("R58M3", state="offline"),
    )
    settings = make_settings(adb)
    controller = make_controller(settings)

    devices = by_serial(await controller.refresh())

    ok = devices["R58M1"]
    assert ok["state"] == "device"
    assert ok["status"] == "ok", ok
    assert ok["model"] == "SM-G973F"
    assert ok["public_ip"] == "203.0.113.10"
    assert ok["local_port"] == settings.forward_base_port
    assert ok["proxy_url"] == f"http://127.0.0.1:{settings.forward_base_port}"
    assert (ok["battery_level"], ok["battery_temperature"], ok["signal_level"]) == (77, 31.4, 2)
    assert ok["data_connected"] is True and ok["proxy_app_up"] is True
    assert ok["last_check_at"] is not None
    assert devices["R58M2"]["state"] == "unauthorized"
    assert devices["R58M2"]["status"] == "unhealthy" and devices["R58M2"]["reason"] == "unauthorized"
    assert "RSA" in devices["R58M2"]["detail"]
    assert devices["R58M3"]["reason"] == "offline"
    assert devices["R58M3"]["local_port"] is None
    assert controller.server_status()["reachable"] is True


async def test_unplugged_phone_is_reported_absent(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"))
    controller = make_controller(make_settings(adb))
    await controller.refresh()

    adb.remove_phone("R58M1")
    device = by_serial(await controller.refresh())["R58M1"]

    assert (device["state"], device["status"], device["reason"]) == ("absent", "unhealthy", "absent")


async def test_absent_phone_is_forgotten_after_the_configured_time(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"))
    controller = make_controller(make_settings(adb, forget_absent_after=0.1))
    await controller.refresh()
    adb.remove_phone("R58M1")
    await controller.refresh()
    await asyncio.sleep(0.15)

    assert await controller.refresh() == []


async def test_phone_back_from_offline_gets_its_forward_again(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"))
    settings = make_settings(adb)
    controller = make_controller(settings)
    await controller.refresh()
    adb.set_state("R58M1", "offline")
    assert by_serial(await controller.refresh())["R58M1"]["proxy_url"] is None
    assert adb.forwards() == []

    adb.set_state("R58M1", "device")
    device = by_serial(await controller.refresh())["R58M1"]

    assert device["status"] == "ok"
    assert adb.forwards() == [("R58M1", f"tcp:{settings.forward_base_port}", "tcp:8080")]


async def test_unreachable_adb_server_is_a_status_not_a_crash(
    make_settings, make_controller, tmp_path, monkeypatch
):
    marker = tmp_path / "adb-was-started"
    fake_adb_binary = tmp_path / "adb"
    fake_adb_binary.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake_adb_binary.chmod(0o755)
    monkeypatch.setenv("ADBUTILS_ADB_PATH", str(fake_adb_binary))
    controller = make_controller(make_settings(None))  # port 1: nothing listens

    started = time.monotonic()
    devices = await controller.refresh()

    assert devices == []
    status = controller.server_status()
    assert status["reachable"] is False and "server_unreachable" in status["error"]
    assert time.monotonic() - started < 2
    assert not marker.exists(), "the controller must never start an adb server"
