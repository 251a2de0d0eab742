"""Fixtures: a fake ADB server per test, settings with test-sized timings, a controller."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import ECHO_URL, FakeAdbServer, FakePhone
from worker.adb import AdbController, AdbSettings

# Per-call deadline used throughout; fault tests assert statuses arrive within a few of these.
CALL_DEADLINE = 1.0


@pytest.fixture(autouse=True)
def _no_real_adb(monkeypatch: pytest.MonkeyPatch) -> None:
    # Belt and braces: even a code path we do not wrap finds a harmless "adb".
    monkeypatch.setenv("ADBUTILS_ADB_PATH", "/bin/true")
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)


def _free_port_block(count: int) -> int:
    """A base port whose next ``count`` ports are free on loopback right now."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port block")


@pytest.fixture
def fake_adb() -> Iterator[Callable[..., FakeAdbServer]]:
    """Factory: ``fake_adb(phone, ...)`` starts a fake server, stopped after the test."""
    servers: list[FakeAdbServer] = []

    def start(*phones: FakePhone) -> FakeAdbServer:
        server = FakeAdbServer(phones).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., AdbSettings]:
    """Factory: settings pointing at ``server`` with timings that make a rotation take ~1 s."""
    base = _free_port_block(8)

    def build(server: FakeAdbServer | None = None, **overrides: Any) -> AdbSettings:
        settings = AdbSettings(
            server_port=server.port if server else 1,
            data_dir=tmp_path / "adb",
            forward_base_port=base,
            forward_port_count=8,
            echo_urls=(ECHO_URL,),
            socket_timeout=CALL_DEADLINE,
            command_timeout=CALL_DEADLINE,
            call_deadline=CALL_DEADLINE,
            http_timeout=1.0,
            check_deadline=5.0,
            off_times=(0.05, 0.1),
            poll_interval=0.05,
            link_timeout=2.0,
            ip_change_timeout=0.5,
            rotation_deadline=15.0,
        )
        return replace(settings, **overrides)

    return build


@pytest.fixture
async def make_controller() -> AsyncIterator[Callable[[AdbSettings], AdbController]]:
    """Factory: controllers closed after the test."""
    controllers: list[AdbController] = []

    def build(settings: AdbSettings) -> AdbController:
        controller = AdbController(settings)
        controllers.append(controller)
        return controller

    yield build
    for controller in controllers:
        await controller.aclose()


def by_serial(devices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["serial"]: d for d in devices}
