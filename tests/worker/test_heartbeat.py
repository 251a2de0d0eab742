"""A heartbeat leaves on time even when measuring the Chromium trees is slow.

The control plane is replaced by a recorder here: what is under test is the
beat's timing and body, not the HTTP call (the worker process tests cover that
against the real control plane).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from worker import heartbeat as heartbeat_module
from worker.heartbeat import Heartbeat
from worker.resources import Usage
from worker.sessions import SessionRegistry


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return {"status": "online"}


def test_a_slow_measurement_does_not_hold_the_beat_back(monkeypatch):
    monkeypatch.setattr(heartbeat_module, "MEASURE_WAIT", 0.3)
    release = threading.Event()
    figures = Usage(cpu_percent=42.0, memory_mb=512.0, memory_percent=2.0, process_count=3)

    def slow_measure(_lives):  # type: ignore[no-untyped-def]
        release.wait(10)
        return figures

    client = Recorder()
    beat = Heartbeat(
        client=client,  # type: ignore[arg-type]
        registry=SessionRegistry(capacity=3),
        capacity=3,
        version="test",
        interval=10,
        override=None,
        adb=None,
    )
    monkeypatch.setattr(beat, "_measure", slow_measure)

    async def scenario() -> list[float]:
        took = []
        began = time.monotonic()
        await beat.beat()  # the measurement hangs: the beat goes anyway, without figures
        took.append(time.monotonic() - began)
        release.set()
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await beat.beat()  # the same measurement has finished: its figures go now
        took.append(time.monotonic() - began)
        return took

    first, second = asyncio.run(scenario())
    assert first < 1.5 and second < 1.5
    assert (client.bodies[0]["cpu"], client.bodies[0]["memory"]) == (0.0, 0.0)
    assert client.bodies[0]["capacity"] == 3 and "sessions" in client.bodies[0]
    assert (client.bodies[1]["cpu"], client.bodies[1]["memory"]) == (42.0, 512.0)
