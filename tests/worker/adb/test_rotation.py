"""Rotation: the phone's public IP changes behind the same local port, or a clear failure."""

from __future__ import annotations

import asyncio

from shared.events import ProxyRotated, ProxyRotationFailed
from tests.fakes import FakePhone, Fault
from worker.adb import Method

ENABLE = "cmd connectivity airplane-mode enable"
DISABLE = "cmd connectivity airplane-mode disable"


async def _ready(fake_adb, make_settings, make_controller, phone, **overrides):
    adb = fake_adb(phone)
    controller = make_controller(make_settings(adb, **overrides))
    await controller.refresh()
    assert controller.device(phone.serial)["status"] == "ok"
    return adb, controller


async def test_rotation_changes_the_public_ip(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", ip_pool=["203.0.113.10", "203.0.113.20"])
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)
    port_before = controller.device("R58M1")["local_port"]

    result = await controller.rotate("R58M1")

    assert result.ok, result
    assert (result.old_ip, result.new_ip, result.method, result.attempts) == (
        "203.0.113.10",
        "203.0.113.20",
        Method.AIRPLANE,
        1,
    )
    assert phone.commands.index(ENABLE) < phone.commands.index(DISABLE)
    assert phone.airplane is False
    device = controller.device("R58M1")
    assert (device["status"], device["public_ip"], device["local_port"]) == (
        "ok",
        "203.0.113.20",
        port_before,
    )
    assert device["last_rotation"]["new_ip"] == "203.0.113.20"
    event = result.to_event(proxy_id="prx_1")
    assert isinstance(event, ProxyRotated)
    assert (event.old_ip, event.new_ip, event.device_serial, event.method) == (
        "203.0.113.10",
        "203.0.113.20",
        "R58M1",
        "airplane",
    )


async def test_rotation_falls_back_to_mobile_data_without_cmd_connectivity(
    fake_adb, make_settings, make_controller
):
    phone = FakePhone("R58M1", supports_airplane_cmd=False)
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    result = await controller.rotate("R58M1")

    assert result.ok and result.method == Method.MOBILE_DATA
    assert result.new_ip == "203.0.113.20"
    assert "svc data disable" in phone.commands and "svc data enable" in phone.commands
    assert ENABLE not in phone.commands
    assert phone.data is True


async def test_sticky_carrier_gets_another_attempt(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", sticky_toggles=1)
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    result = await controller.rotate("R58M1")

    assert result.ok and result.attempts == 2
    assert phone.commands.count(ENABLE) == 2


async def test_ip_that_never_changes_ends_in_a_clear_failure(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", ip_pool=["203.0.113.10"])
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    result = await controller.rotate("R58M1")

    assert not result.ok
    assert result.code == "ip_unchanged" and "203.0.113.10" in result.reason
    assert result.attempts == 3  # two airplane off times, then one mobile-data toggle
    assert phone.commands.count(ENABLE) == 2 and "svc data disable" in phone.commands
    assert (phone.airplane, phone.data) == (False, True)
    device = controller.device("R58M1")
    assert (device["status"], device["reason"]) == ("unhealthy", "rotation_failed")
    event = result.to_event()
    assert isinstance(event, ProxyRotationFailed) and event.code == "ip_unchanged"


async def test_concurrent_requests_for_one_phone_run_one_rotation(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1")
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    first = asyncio.create_task(controller.rotate("R58M1"))
    await asyncio.sleep(0)
    assert controller.is_rotating("R58M1")
    results = await asyncio.gather(first, controller.rotate("R58M1"), controller.rotate("R58M1"))

    assert phone.commands.count(ENABLE) == 1
    assert [r.joined for r in results] == [False, True, True]
    assert {r.new_ip for r in results} == {"203.0.113.20"}


async def test_status_is_rotating_while_a_rotation_runs(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", link_delay=1.0)
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    task = asyncio.create_task(controller.rotate("R58M1"))
    steps = set()
    for _ in range(100):
        await asyncio.sleep(0.02)
        steps.add(controller.device("R58M1")["rotation_step"])
        if "link_wait" in steps:
            break
    during = controller.device("R58M1")
    await controller.refresh()  # a check during the rotation leaves the phone alone
    result = await task

    assert (during["status"], during["rotation_step"]) == ("rotating", "link_wait")
    assert {"radio_off", "off_wait"} <= steps
    assert result.ok
    assert controller.device("R58M1")["rotation_step"] is None


async def test_rotation_waits_for_the_cellular_link(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", link_delay=0.3)
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone)

    result = await controller.rotate("R58M1")

    assert result.ok
    assert phone.commands.count("dumpsys telephony.registry") > 2  # polled until connected


async def test_link_that_never_returns_fails_and_says_so(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", link_delay=60)
    _, controller = await _ready(
        fake_adb,
        make_settings,
        make_controller,
        phone,
        link_timeout=0.2,
        off_times=(0.01,),
        data_toggle_fallback=False,
    )

    result = await controller.rotate("R58M1")

    assert (result.ok, result.code) == (False, "no_cellular_link")


async def test_proxy_app_that_dies_with_the_network_is_restarted(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", app_dies_on_toggle=True)
    _, controller = await _ready(
        fake_adb, make_settings, make_controller, phone, proxy_app_package=phone.proxy_package
    )

    result = await controller.rotate("R58M1")

    assert result.ok
    assert any(c.startswith(f"monkey -p {phone.proxy_package}") for c in phone.commands)


async def test_dead_proxy_app_without_a_package_to_restart_fails(fake_adb, make_settings, make_controller):
    phone = FakePhone("R58M1", app_dies_on_toggle=True)
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone, data_toggle_fallback=False)

    result = await controller.rotate("R58M1")

    assert (result.ok, result.code) == (False, "proxy_app_down")


async def test_rotating_an_unauthorized_phone_fails_at_once(fake_adb, make_settings, make_controller):
    adb = fake_adb(FakePhone("R58M1", state="unauthorized"))
    controller = make_controller(make_settings(adb))
    await controller.refresh()

    result = await controller.rotate("R58M1")

    assert (result.ok, result.code) == (False, "device_unavailable")
    assert (await controller.rotate("UNKNOWN")).code == "device_unavailable"


async def test_adb_failure_mid_rotation_still_turns_airplane_mode_off(
    fake_adb, make_settings, make_controller
):
    phone = FakePhone("R58M1")
    adb, controller = await _ready(fake_adb, make_settings, make_controller, phone)
    phone.faults.append(Fault("hang_after_okay", match=DISABLE, times=1))

    result = await controller.rotate("R58M1")

    assert (result.ok, result.code) == (False, "timeout")
    assert adb.request_log.count(f"shell,v2:{DISABLE}") == 2  # the hung one, then the restore
    assert phone.airplane is False


async def test_closing_the_controller_mid_rotation_restores_the_radio(
    fake_adb, make_settings, make_controller
):
    phone = FakePhone("R58M1")
    _, controller = await _ready(fake_adb, make_settings, make_controller, phone, off_times=(30.0,))
    task = asyncio.create_task(controller.rotate("R58M1"))
    for _ in range(40):
        await asyncio.sleep(0.05)
        if phone.airplane:
            break

    await controller.aclose()

    assert phone.airplane is False
    assert task.cancelled()
