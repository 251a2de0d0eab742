"""Forwards: each healthy phone on a stable local port, reused rather than re-created."""

from __future__ import annotations

import json
import socket

from tests.fakes import FakePhone
from tests.worker.adb.conftest import by_serial
from worker.adb.client import AdbGateway, ForwardEntry


def _forward_requests(adb) -> list[str]:
    return [r for r in adb.request_log if ":forward:" in r]


async def test_forward_is_set_up_and_listed_by_the_server(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"), FakePhone("R58M2"))
    settings = make_settings(adb)
    controller = make_controller(settings)

    devices = by_serial(await controller.refresh())

    base = settings.forward_base_port
    assert sorted(adb.forwards()) == [
        ("R58M1", f"tcp:{base}", "tcp:8080"),
        ("R58M2", f"tcp:{base + 1}", "tcp:8080"),
    ]
    gateway = AdbGateway(settings)
    listed = await gateway.forward_list()
    await gateway.aclose()
    assert ForwardEntry("R58M1", base, 8080) in listed
    assert devices["R58M2"]["local_port"] == base + 1
    assert controller.proxy_url("R58M2") == f"http://127.0.0.1:{base + 1}"


async def test_existing_forward_is_reused_not_recreated(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"))
    controller = make_controller(make_settings(adb))
    await controller.refresh()
    await controller.refresh()

    assert len(_forward_requests(adb)) == 1


async def test_phone_keeps_its_port_across_controller_restarts(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"), FakePhone("R58M2"))
    settings = make_settings(adb)
    first = make_controller(settings)
    ports = {d["serial"]: d["local_port"] for d in await first.refresh()}
    await first.aclose()
    # Another phone shows up first next time: allocation order must not matter.
    adb.remove_phone("R58M1")
    adb.add_phone(FakePhone("R58M0"))
    adb.add_phone(FakePhone("R58M1"))

    second = make_controller(settings)
    again = {d["serial"]: d["local_port"] for d in await second.refresh()}

    assert again["R58M1"] == ports["R58M1"] and again["R58M2"] == ports["R58M2"]
    assert again["R58M0"] not in ports.values()
    assert json.loads(settings.ports_file.read_text()) == again


async def test_local_port_taken_by_another_program_is_reported(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"))
    settings = make_settings(adb)
    controller = make_controller(settings)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.forward_base_port))
        squatter.listen()

        device = by_serial(await controller.refresh())["R58M1"]

    assert (device["status"], device["reason"]) == ("unhealthy", "forward_failed")
    assert "cannot bind" in device["detail"]
    assert device["proxy_url"] is None


async def test_forward_of_another_phone_is_never_stolen(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1"), FakePhone("OTHER"))
    settings = make_settings(adb)
    # Someone forwarded our port to another phone by hand.
    gateway = AdbGateway(settings)
    await gateway.forward("OTHER", settings.forward_base_port, 9999, norebind=False)
    await gateway.aclose()
    settings.ports_file.parent.mkdir(parents=True, exist_ok=True)
    settings.ports_file.write_text(json.dumps({"R58M1": settings.forward_base_port}))
    controller = make_controller(settings)

    device = by_serial(await controller.refresh())["R58M1"]

    assert device["reason"] == "forward_failed"
    assert ("OTHER", f"tcp:{settings.forward_base_port}", "tcp:9999") in adb.forwards()
