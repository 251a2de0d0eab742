"""Heartbeats: load, resources and devices, on the interval the control plane asks for."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from worker.clients.control_plane import ControlPlaneClient
from worker.engine import reap_zombies
from worker.errors import WorkerError
from worker.resources import ResourceMonitor, Usage
from worker.sessions import LiveSession, SessionRegistry

if TYPE_CHECKING:
    from worker.adb import AdbController

log = logging.getLogger(__name__)


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
        self.control_plane_status: str | None = None
        self.sent = 0

    async def body(self) -> dict[str, Any]:
        """The heartbeat's JSON body (fleet.serializers.HeartbeatInput)."""
        lives = self._registry.all()
        usage = await asyncio.to_thread(self._measure, lives)  # /proc reads: off the event loop
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
            ],
            "version": self._version,
        }
        if self._adb is not None:
            body["devices"] = self._adb.devices()
        return body

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
        """Forever: beat, reap Chromium's zombies, sleep. Failures are logged, never fatal."""
        while True:
            try:
                await self.beat()
            except WorkerError as exc:
                log.warning("heartbeat failed: %s", exc)
            except Exception:  # a bug in one beat must not stop the next ones (nor the sessions)
                log.exception("heartbeat failed unexpectedly")
            reap_zombies()
            await asyncio.sleep(self.interval)
