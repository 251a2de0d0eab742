"""Engine fixtures: a real simulator subprocess, real Playwright, real Chromium."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright

from shared.events import SessionEvent, SessionStatusChanged
from shared.types import SessionStatus
from simulator.testing import SimulatorProcess, start_simulator
from worker.engine import Backoff, EngineConfig, SessionRuntime, Timeouts, enable_subreaper

CHROMIUM = os.environ.get("WAGATE_CHROMIUM", "/usr/bin/chromium")
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    enable_subreaper()
    sim = start_simulator("--qr-interval", "1", "--refs-per-batch", "3", "--reconnect-delay", "0.3")
    yield sim
    sim.stop()


@pytest.fixture
async def phone(simulator: SimulatorProcess) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client for the simulator's phone and fault APIs."""
    async with httpx.AsyncClient(base_url=simulator.url, timeout=10) as client:
        yield client
        await client.post("/_sim/faults", json={"reset": True})


@pytest.fixture
def number() -> Callable[[], str]:
    """Fresh phone numbers, so tests sharing one simulator never see each other's messages."""
    return lambda: f"1555{os.getpid() % 1000:03d}{next(_numbers):04d}"


@pytest.fixture
def engine_config(simulator: SimulatorProcess) -> EngineConfig:
    return EngineConfig(
        chromium_path=CHROMIUM,
        whatsapp_url=simulator.url + "/",
        qr_ttl=1.0,
        reconnect_grace=1.0,
        reconnect=Backoff(initial=0.5, attempts=4),
        relaunch=Backoff(initial=0.2, attempts=3),
        timeouts=Timeouts(
            launch=30, navigation=15, page_ready=15, send=15, pairing_code=10, logout=5, close=5
        ),
    )


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


class EventLog:
    """Collects a runtime's events in the background; tests wait on conditions."""

    def __init__(self, runtime: SessionRuntime) -> None:
        self.runtime = runtime
        self.events: list[SessionEvent] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.runtime.events():
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def statuses(self) -> list[tuple[SessionStatus, str | None]]:
        return [(e.status, e.reason) for e in self.of(SessionStatusChanged)]

    async def wait_for(self, predicate: Callable[[SessionEvent], bool], within: float = 15.0) -> Any:
        """The first event (already seen or future) matching ``predicate``."""
        async with asyncio.timeout(within), self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await self._changed.wait()

    async def status(self, status: SessionStatus, reason: str | None = None, within: float = 15.0) -> Any:
        def match(e: SessionEvent) -> bool:
            ok = isinstance(e, SessionStatusChanged) and e.status is status
            return ok and (reason is None or e.reason == reason)

        return await self.wait_for(match, within)


@dataclass
class Session:
    runtime: SessionRuntime
    log: EventLog


@pytest.fixture
async def session_factory(
    playwright: Playwright, engine_config: EngineConfig, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Session] = []

    async def make(name: str = "s1", start: bool = True, **kwargs: Any) -> Session:
        kwargs.setdefault("profile_dir", tmp_path / f"profile-{name}-{len(made)}")
        kwargs.setdefault("config", engine_config)
        runtime = SessionRuntime(session_id=name, playwright=playwright, **kwargs)
        session = Session(runtime, EventLog(runtime))
        made.append(session)
        if start:
            await runtime.start()
        return session

    yield make
    for session in made:
        await session.runtime.stop()
        session.log.task.cancel()


async def link_by_qr(session: Session, phone: httpx.AsyncClient, number: str) -> None:
    """Scan the session's current QR as ``number`` and wait until it is connected."""
    from shared.events import QrIssued

    await session.log.wait_for(lambda e: isinstance(e, QrIssued))
    resp = await phone.post(f"/phone/{number}/scan", json={"qr": session.log.of(QrIssued)[-1].qr})
    if resp.status_code == 410:  # rotated between the event and the scan: take the newest
        await asyncio.sleep(0.2)
        resp = await phone.post(f"/phone/{number}/scan", json={"qr": session.log.of(QrIssued)[-1].qr})
    assert resp.status_code == 200, resp.text
    await session.log.status(SessionStatus.CONNECTED)
