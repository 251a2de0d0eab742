"""Heartbeats: load, resources and devices, on the interval the control plane asks for.

Liveness comes first: a beat leaves on time even when measuring the Chromium
trees is slow. Measuring 50 sessions' PSS under a restore storm, queued behind
snapshot work in the shared thread pool, once held beats back for over 20 s
and got a busy worker marked unhealthy. So measurement has its own thread,
a beat waits for it only briefly and otherwise carries the previous figures,
and beats keep a fixed rate instead of sleeping a full interval after each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import TYPE_CHECKING, Any

from worker.clients.control_plane import ControlPlaneClient
from worker.engine import reap_zombies
from worker.errors import WorkerError
from worker.resources import ResourceMonitor, Usage
from worker.sessions import LiveSession, SessionRegistry

if TYPE_CHECKING:
    from worker.adb import AdbController

log = logging.getLogger(__name__)
MEASURE_WAIT = 2.0  # seconds a beat waits for fresh figures before sending the last ones
NO_FIGURES_YET = Usage(cpu_percent=0.0, memory_mb=0.0, memory_percent=0.0, process_count=0)


class Heartbeat:
    """Builds and sends heartbeats; ``interval`` follows the control plane unless overridden."""

    def __init__(
        self,
        *,
        client: ControlPlaneClient,
        registry: SessionRegistry,
        capacity: int,
        version: str,
        interval: float,
        override: float | None,
        adb: AdbController | None,
    ) -> None:
        self._client = client
        self._registry = registry
        self._capacity = capacity
        self._version = version
        self._override = override
        self.interval = override or interval
        self._adb = adb
        self._monitor = ResourceMonitor()
        self._measurer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="heartbeat-measure")
        self._measuring: asyncio.Future[Usage] | None = None
        self._usage: Usage | None = None
        self.control_plane_status: str | None = None
        self.sent = 0

    async def body(self) -> dict[str, Any]:
        """The heartbeat's JSON body (fleet.serializers.HeartbeatInput)."""
        lives = self._registry.all()
        usage = await self._latest_usage(lives) or NO_FIGURES_YET
        status = {live.session_id: live.status.value for live in lives}
        body: dict[str, Any] = {
            "sessions": self._registry.breakdown(),
            "cpu": usage.cpu_percent,
            "memory": usage.memory_mb,
            "memory_percent": usage.memory_percent,
            "capacity": self._capacity,
            "session_resources": [
                {
                    "session_id": s.session_id,
                    "memory_mb": s.memory_mb,
                    "cpu_percent": s.cpu_percent,
                    "status": status[s.session_id],
                }
                for s in usage.sessions
                if s.session_id in status  # the previous figures may name a session since gone
            ],
            "version": self._version,
        }
        if self._adb is not None:
            body["devices"] = self._adb.devices()
        return body

    async def _latest_usage(self, lives: list[LiveSession]) -> Usage | None:
        """Fresh figures if they come within MEASURE_WAIT, else the last ones (None at first)."""
        if self._measuring is None or self._measuring.done():
            loop = asyncio.get_running_loop()
            # The executor lives as long as the process: the last beat at shutdown needs it.
            self._measuring = loop.run_in_executor(self._measurer, self._measure, lives)
        try:
            self._usage = await asyncio.wait_for(asyncio.shield(self._measuring), MEASURE_WAIT)
        except TimeoutError:
            log.info("resource measurement is slow; this heartbeat carries the previous figures")
        except Exception:  # figures are optional, the beat is not
            log.exception("resource measurement failed")
        return self._usage

    def _measure(self, lives: list[LiveSession]) -> Usage:
        pids = {live.session_id: live.runtime.browser_pids() for live in lives if live.runtime is not None}
        return self._monitor.measure(pids)

    async def beat(self) -> dict[str, Any]:
        """Send one heartbeat; raises WorkerError when the control plane cannot be reached."""
        answer = await self._client.heartbeat(await self.body())
        self.sent += 1
        status = answer.get("status")
        if status != self.control_plane_status:
            log.info("the control plane says this worker is %s", status)
            self.control_plane_status = status
        if self._override is None and answer.get("heartbeat_interval"):
            self.interval = float(answer["heartbeat_interval"])
        return answer

    async def run(self) -> None:
        """Forever: beat, reap Chromium's zombies, sleep until the next beat is due.
        Failures are logged, never fatal."""
        while True:
            began = time.monotonic()
            try:
                await self.beat()
            except WorkerError as exc:
                log.warning("heartbeat failed: %s", exc)
            except Exception:  # a bug in one beat must not stop the next ones (nor the sessions)
                log.exception("heartbeat failed unexpectedly")
            reap_zombies()
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - began)))
