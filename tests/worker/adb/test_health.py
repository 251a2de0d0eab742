"""Health: a request through the proxy proves the phone works; dumpsys adds battery and signal."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.fakes import ECHO_URL, FakePhone, PhoneProxy
from tests.worker.adb.conftest import by_serial
from worker.adb.errors import EchoError
from worker.adb.health import fetch_public_ip, parse_battery, parse_telephony


async def test_health_check_reads_the_public_ip_through_the_proxy(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", ip_pool=["198.51.100.23"])
    adb = fake_adb(phone)
    controller = make_controller(make_settings(adb))

    device = by_serial(await controller.refresh())["R58M1"]

    assert device["public_ip"] == "198.51.100.23"
    assert phone.proxy.echo_count == 1
    assert "tcp:8080" in adb.request_log  # the proxy app probe went to the phone


async def test_open_local_port_with_dead_proxy_app_is_unhealthy(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", proxy_app_running=False)
    adb = fake_adb(phone)
    settings = make_settings(adb)
    controller = make_controller(settings)

    device = by_serial(await controller.refresh())["R58M1"]

    with socket.create_connection(("127.0.0.1", settings.forward_base_port), timeout=1):
        pass  # the local port is open...
    assert (device["status"], device["reason"]) == ("unhealthy", "proxy_app_down")  # ...and proves nothing
    assert device["proxy_app_up"] is False
    assert device["public_ip"] is None


async def test_phone_left_in_airplane_mode_has_no_cellular(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1", airplane=True))
    controller = make_controller(make_settings(adb))

    device = by_serial(await controller.refresh())["R58M1"]

    assert (device["status"], device["reason"]) == ("unhealthy", "no_cellular")
    assert device["data_connected"] is False
    assert device["signal_level"] == 0
    assert "no_signal" in device["warnings"]


async def test_hot_phone_still_serves_with_a_warning(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1", temperature=45.5, battery_level=9, charging=False))
    controller = make_controller(make_settings(adb))

    device = by_serial(await controller.refresh())["R58M1"]

    assert device["status"] == "ok"
    assert device["warnings"] == ["hot", "battery_low"]
    assert device["charging"] is False


async def test_wifi_left_on_is_flagged(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1", wifi=True))
    controller = make_controller(make_settings(adb))

    device = by_serial(await controller.refresh())["R58M1"]

    assert "wifi_on" in device["warnings"]


async def test_periodic_checks_run_in_the_background(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1")
    adb = fake_adb(phone)
    controller = make_controller(make_settings(adb, check_interval=0.1))
    await controller.start()
    phone.battery_level = 42

    for _ in range(50):
        await asyncio.sleep(0.05)
        if controller.device("R58M1")["battery_level"] == 42:
            break
    assert controller.device("R58M1")["battery_level"] == 42


def test_parse_battery_scales_level_and_temperature():
    reading = parse_battery(
        "Current Battery Service state:\n  status: 5\n  level: 150\n  scale: 200\n  temperature: 412\n"
    )

    assert (reading.level, reading.temperature, reading.charging) == (75, 41.2, True)


def test_parse_telephony_takes_any_connected_sim_and_best_level():
    text = (
        "  mDataConnectionState=0\n"
        "  mSignalStrength=SignalStrength:{mGsm=CellSignalStrengthGsm: level=1,"
        "mLte=CellSignalStrengthLte: level=4}\n"
        "  mDataConnectionState=2\n"
    )

    reading = parse_telephony(text)

    assert (reading.data_connected, reading.signal_level) == (True, 4)
    assert parse_telephony("garbage") == type(reading)(None, None)


async def _serve_text(body: str) -> asyncio.Server:
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode()
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_echo_endpoints_that_disagree_are_reported():
    other_echo = await _serve_text("198.51.100.99")
    async with other_echo, PhoneProxy("203.0.113.10") as proxy:
        other_url = f"http://127.0.0.1:{other_echo.sockets[0].getsockname()[1]}/"

        with pytest.raises(EchoError, match="disagree"):
            await fetch_public_ip(proxy.url, (ECHO_URL, other_url), 1.0)
        assert await fetch_public_ip(proxy.url, (ECHO_URL,), 1.0) == "203.0.113.10"


async def test_echo_answer_that_is_not_an_ip_is_refused():
    bogus = await _serve_text("<html>captive portal</html>")
    async with bogus, PhoneProxy() as proxy:
        url = f"http://127.0.0.1:{bogus.sockets[0].getsockname()[1]}/"

        with pytest.raises(EchoError, match="not an IP"):
            await fetch_public_ip(proxy.url, (url,), 1.0)
